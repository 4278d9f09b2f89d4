// `roster up`: the whole system as separate processes, secure with no configuration, and a
// clean stop on Ctrl-C.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { instanceId } from '../../src/protocol/ids.js';
import { NodeProcess, ROSTER_CLI, bearer, freePort, readAdminToken, scratchDir, startRegistryProcess } from '../helpers/processes.js';
import { RecordingService } from '../helpers/recording-service.js';

const PARTS = ['log', 'grading', 'portal'] as const;

async function ports() {
  const [registry, log, grading, portal] = [await freePort(), await freePort(), await freePort(), await freePort()];
  return { registry, log, grading, portal };
}

type Ports = Awaited<ReturnType<typeof ports>>;

function upArgs(p: Ports, dataDir: string): string[] {
  return [
    ROSTER_CLI, 'up', '--host', '127.0.0.1', '--data-dir', dataDir,
    '--registry-port', String(p.registry), '--log-port', String(p.log),
    '--grading-port', String(p.grading), '--portal-port', String(p.portal),
  ];
}

/** `roster up` with nothing in the environment that would configure it. */
async function startUp(t: TestContext, p: Ports, dataDir: string): Promise<NodeProcess> {
  const up = new NodeProcess(t, upArgs(p, dataDir), { ROSTER_TOKEN: '', ROSTER_ADMIN_TOKEN: '' });
  await up.waitForLine(/all parts are up/);
  return up;
}

async function stopUp(up: NodeProcess): Promise<void> {
  up.kill('SIGINT');
  const [code] = await up.exited;
  assert.equal(code, 0, up.output);
}

const mode = (path: string): number => statSync(path).mode & 0o777;
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

function partSecrets(dataDir: string): Record<string, string> {
  return Object.fromEntries(PARTS.map((name) => [name, readFileSync(join(dataDir, `${name}.token`), 'utf8').trim()]));
}

async function status(url: string, init: RequestInit = {}): Promise<number> {
  const response = await fetch(url, { redirect: 'manual', ...init });
  await response.arrayBuffer();
  return response.status;
}

async function passingUrls(registry: string, token: string, service: string): Promise<string[]> {
  const response = await fetch(`${registry}/v1/services/${service}`, { headers: bearer(token) });
  assert.equal(response.status, 200);
  const body = (await response.json()) as { service: { instances: Array<{ url: string; health: string }> } };
  return body.service.instances.filter((i) => i.health === 'passing').map((i) => i.url);
}

async function gradeBook(portal: string): Promise<string> {
  const page = await fetch(`${portal}/students`);
  const text = await page.text();
  assert.equal(page.status, 200, text);
  return text;
}

test('roster up starts all four parts in order, each with its own token; Ctrl-C stops them, each deregistering', { timeout: 90_000 }, async (t) => {
  const dataDir = join(scratchDir(t, 'roster-up-'), 'data');
  const p = await ports();
  const up = await startUp(t, p, dataDir);
  // Its own lines in its parts' format: "[roster]   02:10:45 INFO  registry http://… ready".
  const ready = up.lines.flatMap((line) => /^\[roster\]\s+\d\d:\d\d:\d\d INFO\s+(registry|log|grading|portal)\s/.exec(line)?.[1] ?? []);
  assert.deepEqual(ready, ['registry', 'log', 'grading', 'portal']);

  // Files: secrets readable by their owner only; the tokens file holds their hashes, never them.
  assert.equal(mode(dataDir), 0o700);
  const secrets = partSecrets(dataDir);
  for (const name of [...PARTS.map((part) => `${part}.token`), 'tokens.json', 'admin.token']) assert.equal(mode(join(dataDir, name)), 0o600, name);
  const tokens = JSON.parse(readFileSync(join(dataDir, 'tokens.json'), 'utf8')) as { tokens: Array<Record<string, unknown>> };
  assert.deepEqual(tokens.tokens, [
    { name: 'log', sha256: sha256(secrets.log!), scopes: ['register'], services: ['LogService'] },
    { name: 'grading', sha256: sha256(secrets.grading!), scopes: ['register'], services: ['GradingService'] },
    { name: 'portal', sha256: sha256(secrets.portal!), scopes: ['register'], services: ['Portal'] },
  ]);
  for (const secret of Object.values(secrets)) assert.ok(!up.output.includes(secret), 'a part token was printed');

  assert.match(await gradeBook(`http://127.0.0.1:${p.portal}`), /Carter, Nick/);
  const admin = readAdminToken(dataDir);
  const registry = `http://127.0.0.1:${p.registry}`;
  const services = (await (await fetch(`${registry}/v1/services`, { headers: bearer(admin) })).json()) as { services: Array<{ name: string; passing: number }> };
  assert.deepEqual(services.services.filter((s) => s.passing > 0).map((s) => s.name).sort(), ['GradingService', 'LogService', 'Portal']);

  await stopUp(up);
  assert.throws(() => readFileSync(join(dataDir, 'up.pids')), /ENOENT/, 'a clean stop forgets the parts it started');
  for (const service of ['Portal', 'GradingService', 'LogService']) {
    assert.match(up.output, new RegExp(`\\[registry\\].*instance deregistered service=${service}`));
  }
});

test('roster up is secure by default: the dashboard through its link, and forged or anonymous writes refused', { timeout: 90_000 }, async (t) => {
  const dataDir = scratchDir(t, 'roster-up-');
  const p = await ports();
  const up = await startUp(t, p, dataDir);
  const registry = `http://127.0.0.1:${p.registry}`;
  const portal = `http://127.0.0.1:${p.portal}`;
  const grading = `http://127.0.0.1:${p.grading}`;
  const admin = readAdminToken(dataDir);

  await t.test('the printed link signs a browser in to the dashboard', async () => {
    const line = await up.waitForLine(/\/login\?token=/);
    const link = /(http:\/\/\S+\/login\?token=\S+)/.exec(line)![1]!;
    assert.equal(link, `${registry}/login?token=${encodeURIComponent(admin)}`);
    assert.equal(await status(`${registry}/`), 401, 'no dashboard without signing in');
    const login = await fetch(link, { redirect: 'manual' });
    await login.arrayBuffer();
    assert.equal(login.status, 303);
    assert.equal(login.headers.get('location'), '/');
    const cookie = login.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^roster_session=[^;]+;/);
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Strict/i);
    const session = cookie.split(';')[0]!;
    const page = await fetch(`${registry}/`, { headers: { cookie: session } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    await page.arrayBuffer();
    // The cookie reads; it never writes.
    assert.equal(await status(`${registry}/v1/instances/${instanceId(grading)}`, { method: 'DELETE', headers: { cookie: session } }), 401);
  });

  await t.test('anonymous registrations and deregistrations are refused', async () => {
    const registration = { service: 'GradingService', url: 'http://127.0.0.1:6666', ttlMs: 60_000 };
    assert.equal(await status(`${registry}/v1/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(registration) }), 401);
    assert.equal(await status(`${registry}/v1/instances/${instanceId(grading)}`, { method: 'DELETE' }), 401);
    assert.equal(await status(`${registry}/v1/services`), 401, 'reading needs a token too');
    assert.deepEqual(await passingUrls(registry, admin, 'GradingService'), [grading]);
  });

  await t.test("a part's token registers its own service only", async () => {
    const portalToken = partSecrets(dataDir).portal!;
    const registration = { service: 'GradingService', url: 'http://127.0.0.1:6666', ttlMs: 60_000 };
    const headers = { ...bearer(portalToken), 'content-type': 'application/json' };
    assert.equal(await status(`${registry}/v1/instances`, { method: 'POST', headers, body: JSON.stringify(registration) }), 403);
    // Another owner's instance: NOT_OWNER.
    assert.equal(await status(`${registry}/v1/instances/${instanceId(grading)}`, { method: 'DELETE', headers: bearer(portalToken) }), 409);
    assert.deepEqual(await passingUrls(registry, admin, 'GradingService'), [grading]);
  });

  await t.test('the course API on loopback cannot remove an instance a credential owns', async () => {
    const answer = await status(`${registry}/services`, { method: 'DELETE', headers: { 'content-type': 'text/plain' }, body: grading });
    assert.ok(answer >= 400 && answer < 500, `the course DELETE answered ${answer}`);
    assert.deepEqual(await passingUrls(registry, admin, 'GradingService'), [grading]);
    assert.match(await gradeBook(portal), /Carter, Nick/);
  });

  await t.test("a forged patch to the portal's /services is refused; the portal keeps the real grading service", async () => {
    const forged = JSON.stringify({
      Added: [{ Name: 'GradingService', URL: 'http://127.0.0.1:6666' }],
      Removed: [{ Name: 'GradingService', URL: grading }],
      Revision: Number.MAX_SAFE_INTEGER,
    });
    assert.equal(await status(`${portal}/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: forged }), 401);
    const page = await gradeBook(portal);
    assert.match(page, /Carter, Nick/);
  });

  await t.test('a course service registers with no credentials from this machine, and may leave', async (t) => {
    const course = await RecordingService.start();
    t.after(() => course.close());
    const register = await status(`${registry}/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(course.registration('CourseService', ['GradingService'])) });
    assert.equal(register, 200);
    assert.deepEqual(await passingUrls(registry, admin, 'CourseService'), [course.url]);
    // It was told where grading is, unsigned, as the course expects.
    assert.ok(course.patches.some((patch) => (patch.Added ?? []).some((e) => e.Name === 'GradingService' && e.URL === grading)));
    assert.equal(await status(`${registry}/services`, { method: 'DELETE', headers: { 'content-type': 'text/plain' }, body: course.url }), 200);
  });

  await t.test("roster ls finds the registry's admin.token through --data-dir, and says how to give a token when it has none", async (t) => {
    const ls = new NodeProcess(t, [ROSTER_CLI, 'ls', '--registry', registry, '--data-dir', dataDir], { ROSTER_TOKEN: '' });
    const [code] = await ls.exited;
    assert.equal(code, 0, ls.output);
    assert.match(ls.output, /^GradingService\s+http:\/\/127\.0\.0\.1:\d+\s+passing/m);

    const anonymous = new NodeProcess(t, [ROSTER_CLI, 'ls', '--registry', registry, '--data-dir', scratchDir(t)], { ROSTER_TOKEN: '' });
    const [anonymousCode] = await anonymous.exited;
    assert.equal(anonymousCode, 1, anonymous.output);
    assert.match(anonymous.output, /UNAUTHORIZED: .*no token was sent: give a token with --token <secret> or ROSTER_TOKEN/);
  });

  await stopUp(up);
});

test('roster up started again reuses its tokens', { timeout: 120_000 }, async (t) => {
  const dataDir = scratchDir(t, 'roster-up-');
  const p = await ports();
  await stopUp(await startUp(t, p, dataDir));
  const files = ['tokens.json', 'admin.token', ...PARTS.map((part) => `${part}.token`)];
  const before = files.map((name) => readFileSync(join(dataDir, name), 'utf8'));

  const again = await startUp(t, p, dataDir);
  assert.deepEqual(files.map((name) => readFileSync(join(dataDir, name), 'utf8')), before);
  assert.match(await gradeBook(`http://127.0.0.1:${p.portal}`), /Carter, Nick/, `the portal does not show the grade book; roster up printed:\n${again.output}`);
  const admin = readAdminToken(dataDir);
  assert.ok(again.lines.some((line) => line.includes(`/login?token=${encodeURIComponent(admin)}`)));
  assert.deepEqual(await passingUrls(`http://127.0.0.1:${p.registry}`, admin, 'Portal'), [`http://127.0.0.1:${p.portal}`]);
  await stopUp(again);
});

test('roster up names a port in use and the option that changes it', { timeout: 30_000 }, async (t) => {
  const dataDir = scratchDir(t, 'roster-up-');
  const p = await ports();
  const squatter = createServer().listen(p.grading, '127.0.0.1');
  await once(squatter, 'listening');
  t.after(() => squatter.close());

  const up = new NodeProcess(t, upArgs(p, dataDir));
  const [code] = await up.exited;
  assert.equal(code, 1);
  assert.match(up.output, new RegExp(`port ${p.grading} \\(grading\\) is already in use: .* --grading-port <port>`));
});

test('roster up refuses a tokens file it cannot read, naming it', { timeout: 30_000 }, async (t) => {
  const dataDir = scratchDir(t, 'roster-up-');
  writeFileSync(join(dataDir, 'tokens.json'), '{ not json', { mode: 0o600 });
  const up = new NodeProcess(t, upArgs(await ports(), dataDir));
  const [code] = await up.exited;
  assert.equal(code, 1);
  assert.match(up.output, new RegExp(`the tokens file ${join(dataDir, 'tokens.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid JSON`));
});

/** Ended, or a zombie nobody reaps: the parts of a killed `roster up` are no one's children here. */
function hasExited(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

/**
 * Resolves once `pid` has exited. Node has no exit event for a process it did not start (no
 * pidfd), so this re-reads /proc at each turn until the state changes, up to `timeoutMs`.
 */
async function exitOf(pid: number, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!hasExited(pid)) {
    if (performance.now() > deadline) throw new Error(`process ${pid} still runs after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function upPids(dataDir: string): Array<{ part: string; pid: number; port: number }> {
  return (JSON.parse(readFileSync(join(dataDir, 'up.pids'), 'utf8')) as { parts: Array<{ part: string; pid: number; port: number }> }).parts;
}

test('the parts of roster up stop by themselves when roster up is killed with kill -9, the services deregistering first', { timeout: 90_000 }, async (t) => {
  const dataDir = scratchDir(t, 'roster-up-');
  const p = await ports();
  const up = await startUp(t, p, dataDir);
  const parts = upPids(dataDir);
  assert.deepEqual(parts.map((entry) => [entry.part, entry.port]), [['registry', p.registry], ['log', p.log], ['grading', p.grading], ['portal', p.portal]]);
  t.after(() => {
    for (const { pid } of parts) if (!hasExited(pid)) process.kill(pid, 'SIGKILL');
  });

  up.kill('SIGKILL');
  await up.exited;
  await Promise.all(parts.map(({ pid }) => exitOf(pid)));

  // Every port is free again.
  for (const port of Object.values(p)) {
    const server = createServer().listen(port, '127.0.0.1');
    await once(server, 'listening');
    server.close();
    await once(server, 'close');
  }
  // The services deregistered before the registry stopped: it kept none of them.
  const registry = await startRegistryProcess(t, ['--store', 'sqlite', '--data-dir', dataDir]);
  const restored = registry.process.events.find((event) => event.msg === 'registry state restored');
  assert.equal(restored?.instances, 0, registry.process.output);
});

test('roster up names a port held by a part an earlier roster up left running', { timeout: 30_000 }, async (t) => {
  const dataDir = scratchDir(t, 'roster-up-');
  const p = await ports();
  // A stand-in for a registry left over from an earlier run: holds the port, named in up.pids.
  const holder = `require('node:net').createServer().listen(${p.registry}, '127.0.0.1', () => console.log('listening'))`;
  const leftover = new NodeProcess(t, ['-e', holder, 'registry'], {}, { tsx: false });
  await leftover.waitForLine(/listening/);
  const pid = leftover.child.pid!;
  writeFileSync(join(dataDir, 'up.pids'), JSON.stringify({ parts: [{ part: 'registry', pid, port: p.registry }] }));

  const up = new NodeProcess(t, upArgs(p, dataDir));
  const [code] = await up.exited;
  assert.equal(code, 1);
  assert.match(up.output, new RegExp(`port ${p.registry} is held by a registry left over from an earlier \`roster up\` \\(pid ${pid}\\); stop it with \`kill ${pid}\``));
});
