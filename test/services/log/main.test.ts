import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startRegistry } from '../../../src/registry/start-registry.js';
import { startService } from '../../../src/service/index.js';
import { createServiceLogger, runLogService, type RunningLogService } from '../../../src/services/log/index.js';
import { secureRegistry, type PartTokens } from '../secure-registry.js';

const quiet = pino({ level: 'silent' });

/** Cleanups run newest first: the registry must outlive the services that deregister from it. */
function cleanups(t: TestContext): (fn: () => unknown) => void {
  const stack: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of stack.reverse()) await fn();
  });
  return (fn) => stack.push(fn);
}

interface System {
  registryUrl: string;
  tokens: PartTokens;
  log: RunningLogService;
  dataDir: string;
  cleanup: (fn: () => unknown) => void;
}

async function registryAndLogService(t: TestContext): Promise<System> {
  const cleanup = cleanups(t);
  const dataDir = mkdtempSync(join(tmpdir(), 'roster-log-main-'));
  cleanup(() => rmSync(dataDir, { recursive: true, force: true }));
  const { registry, tokens } = await secureRegistry(t);
  cleanup(() => registry.close());
  const log = await runLogService({ host: '127.0.0.1', port: 0, dataDir, registryUrl: registry.url, token: tokens.log, handleSignals: false, logger: quiet });
  cleanup(() => log.close());
  return { registryUrl: registry.url, tokens, log, dataDir, cleanup };
}

test('runLogService registers LogService, writes <dataDir>/log/roster.log and serves the course route', { timeout: 10_000 }, async (t) => {
  const { registryUrl, tokens, log, dataDir } = await registryAndLogService(t);

  const services = await (await fetch(`${registryUrl}/v1/services`, { headers: { authorization: `Bearer ${tokens.admin}` } })).json();
  const posted = await fetch(`${log.url}/log`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '[Portal] - hello\n' });

  assert.match(JSON.stringify(services), /"LogService"/);
  assert.equal(posted.status, 200);
  assert.equal(await posted.text(), '');
  assert.equal(log.file, join(dataDir, 'log', 'roster.log'));
  assert.match(readFileSync(log.file, 'utf8'), /"service":"Portal","level":"info","message":"hello"/);
});

test('a service finds the log service through the registry and its logger ships there', { timeout: 10_000 }, async (t) => {
  const { registryUrl, tokens, log, cleanup } = await registryAndLogService(t);
  const grading = await startService({
    name: 'GradingService', requires: ['LogService'], host: '127.0.0.1', port: 0, registryUrl, token: tokens.grading, handleSignals: false, waitForRequired: true,
  });
  cleanup(() => grading.close());
  const { logger, flush, close } = createServiceLogger({ client: grading.client, service: 'GradingService', stdout: false });
  cleanup(close);

  logger.info('graded 5 students');
  await flush();

  const { entries } = (await (await fetch(`${log.url}/v1/logs?service=GradingService`, { headers: { authorization: `Bearer ${tokens.portal}` } })).json()) as { entries: Array<{ message: string }> };
  assert.deepEqual(entries.map((e) => e.message), ['graded 5 students']);
});

test('close() deregisters and is idempotent', { timeout: 10_000 }, async (t) => {
  const { registryUrl, tokens, log } = await registryAndLogService(t);

  await log.close();
  await log.close();

  const services = await (await fetch(`${registryUrl}/v1/services`, { headers: { authorization: `Bearer ${tokens.admin}` } })).json();
  assert.doesNotMatch(JSON.stringify(services), /"LogService"/);
});

/** Loopback is allowed to use the course route, so the forged writer must come through /v1/logs. */
test("through the real registry: a forged entry is stored as its writer at the time it arrived; anonymous writes get 401", { timeout: 10_000 }, async (t) => {
  const { tokens, log } = await registryAndLogService(t);
  const as = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
  const sent = Date.now();

  const forged = await fetch(`${log.url}/v1/logs`, {
    method: 'POST',
    headers: as(tokens.grading),
    body: JSON.stringify({ service: 'Portal', level: 'error', message: 'forged by grading', time: '2001-01-01T00:00:00Z' }),
  });
  const anonymous = await fetch(`${log.url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ level: 'info', message: 'anonymous' }) });
  const unknown = await fetch(`${log.url}/v1/logs`, { method: 'POST', headers: as('made-up-token-0123456789'), body: JSON.stringify({ level: 'info', message: 'unknown' }) });
  const anonymousRead = await fetch(`${log.url}/v1/logs`);

  assert.equal(forged.status, 201);
  assert.equal(anonymous.status, 401);
  assert.equal(unknown.status, 401);
  assert.equal(anonymousRead.status, 401);
  const [entry, ...rest] = readFileSync(log.file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
  assert.deepEqual(rest, []);
  assert.equal(entry.service, 'GradingService');
  assert.equal(entry.message, 'forged by grading');
  assert.equal(entry.clientTime, '2001-01-01T00:00:00.000Z');
  assert.ok(Date.parse(entry.time) >= sent - 1, `stamped on receipt, not back-dated: ${entry.time}`);
});

test('runLogService with the course API switched off: POST /log answers 404', { timeout: 10_000 }, async (t) => {
  const { registry, tokens } = await secureRegistry(t);
  const dataDir = mkdtempSync(join(tmpdir(), 'roster-log-main-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const log = await runLogService({ host: '127.0.0.1', port: 0, dataDir, registryUrl: registry.url, token: tokens.log, handleSignals: false, logger: quiet, course: { enabled: false } });
  t.after(() => log.close());

  const posted = await fetch(`${log.url}/log`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '[Portal] - hello\n' });
  assert.equal(posted.status, 404);
  assert.match(await posted.text(), /switched off/);
});

test('with the registry insecure (--insecure) writers need no token and entries keep the name they give', { timeout: 10_000 }, async (t) => {
  const cleanup = cleanups(t);
  const dataDir = mkdtempSync(join(tmpdir(), 'roster-log-main-'));
  cleanup(() => rmSync(dataDir, { recursive: true, force: true }));
  const registry = await startRegistry({ host: '127.0.0.1', port: 0, auth: { insecure: true }, logger: quiet });
  cleanup(() => registry.close());
  const log = await runLogService({ host: '127.0.0.1', port: 0, dataDir, registryUrl: registry.url, handleSignals: false, logger: quiet });
  cleanup(() => log.close());

  const posted = await fetch(`${log.url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ service: 'Portal', level: 'info', message: 'hello', time: '2001-01-01T00:00:00Z' }) });
  const read = await fetch(`${log.url}/v1/logs`);

  assert.equal(posted.status, 201);
  const { entries } = (await read.json()) as { entries: Array<{ service: string; message: string; clientTime?: string }> };
  assert.deepEqual(entries.map(({ service, message, clientTime }) => ({ service, message, clientTime })), [{ service: 'Portal', message: 'hello', clientTime: '2001-01-01T00:00:00.000Z' }]);
});
