import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startRegistry } from '../../../src/registry/start-registry.js';
import { startService } from '../../../src/service/index.js';
import { createServiceLogger, runLogService, type RunningLogService } from '../../../src/services/log/index.js';

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
  log: RunningLogService;
  dataDir: string;
  cleanup: (fn: () => unknown) => void;
}

async function registryAndLogService(t: TestContext): Promise<System> {
  const cleanup = cleanups(t);
  const dataDir = mkdtempSync(join(tmpdir(), 'roster-log-main-'));
  cleanup(() => rmSync(dataDir, { recursive: true, force: true }));
  const registry = await startRegistry({ host: '127.0.0.1', port: 0 });
  cleanup(() => registry.close());
  const log = await runLogService({ host: '127.0.0.1', port: 0, dataDir, registryUrl: registry.url, handleSignals: false, logger: quiet });
  cleanup(() => log.close());
  return { registryUrl: registry.url, log, dataDir, cleanup };
}

test('runLogService registers LogService, writes <dataDir>/log/roster.log and serves the course route', { timeout: 10_000 }, async (t) => {
  const { registryUrl, log, dataDir } = await registryAndLogService(t);

  const services = await (await fetch(`${registryUrl}/v1/services`)).json();
  const posted = await fetch(`${log.url}/log`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '[Portal] - hello\n' });

  assert.match(JSON.stringify(services), /"LogService"/);
  assert.equal(posted.status, 200);
  assert.equal(await posted.text(), '');
  assert.equal(log.file, join(dataDir, 'log', 'roster.log'));
  assert.match(readFileSync(log.file, 'utf8'), /"service":"Portal","level":"info","message":"hello"/);
});

test('a service finds the log service through the registry and its logger ships there', { timeout: 10_000 }, async (t) => {
  const { registryUrl, log, cleanup } = await registryAndLogService(t);
  const grading = await startService({
    name: 'GradingService', requires: ['LogService'], host: '127.0.0.1', port: 0, registryUrl, handleSignals: false, waitForRequired: true,
  });
  cleanup(() => grading.close());
  const { logger, flush, close } = createServiceLogger({ client: grading.client, service: 'GradingService', stdout: false });
  cleanup(close);

  logger.info('graded 5 students');
  await flush();

  const { entries } = (await (await fetch(`${log.url}/v1/logs?service=GradingService`)).json()) as { entries: Array<{ message: string }> };
  assert.deepEqual(entries.map((e) => e.message), ['graded 5 students']);
});

test('close() deregisters and is idempotent', { timeout: 10_000 }, async (t) => {
  const { registryUrl, log } = await registryAndLogService(t);

  await log.close();
  await log.close();

  const services = await (await fetch(`${registryUrl}/v1/services`)).json();
  assert.doesNotMatch(JSON.stringify(services), /"LogService"/);
});
