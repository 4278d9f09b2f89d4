// startRegistry is secure by default: it makes <data-dir>/admin.token (0600, folder 0700) on
// first start and reuses it, takes ROSTER_ADMIN_TOKEN and the tokens file, and only
// `auth: { insecure: true }` turns all that off, with a warning.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startRegistry, type StartRegistryOptions } from '../../../src/registry/start-registry.js';
import { sha256Hex } from '../../../src/registry/auth/token-set.js';
import { pino } from 'pino';

function scratch(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'roster-auth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A logger that keeps every line, to check what is (and is not) logged. */
function recordingLogger() {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  return Object.assign(logger, { lines });
}

async function start(t: TestContext, options: StartRegistryOptions) {
  const running = await startRegistry({ host: '127.0.0.1', port: 0, health: { intervalMs: 60_000 }, ...options });
  t.after(() => running.close());
  return running;
}

async function status(url: string, token?: string, path = '/v1/state'): Promise<number> {
  const answer = await request(`${url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  await answer.body.dump();
  return answer.statusCode;
}

test('first start makes admin.token 0600 in a 0700 folder, logs where it is (never the secret); a restart reuses it', async (t) => {
  const dataDir = join(scratch(t), 'data');
  const logger = recordingLogger();
  const first = await startRegistry({ host: '127.0.0.1', port: 0, dataDir, logger });
  const file = join(dataDir, 'admin.token');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(statSync(dataDir).mode & 0o777, 0o700);
  const secret = readFileSync(file, 'utf8').trim();
  assert.equal(first.adminToken, secret);
  assert.match(secret, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  assert.equal(await status(first.url, secret), 200);
  assert.equal(await status(first.url), 401);
  await first.close();
  assert.ok(logger.lines.some((line) => line.includes(file)), 'the path is logged');
  assert.ok(logger.lines.every((line) => !line.includes(secret)), 'the secret is never logged');

  const second = await start(t, { dataDir });
  assert.equal(second.adminToken, secret);
  assert.equal(await status(second.url, secret), 200);
});

test('a memory store without a data folder keeps a generated admin token in memory only', async (t) => {
  const running = await start(t, {});
  assert.equal(typeof running.adminToken, 'string');
  assert.equal(await status(running.url, running.adminToken!), 200);
  assert.equal(await status(running.url), 401);
});

test('auth.adminToken is used as given, and no file is written', async (t) => {
  const dataDir = join(scratch(t), 'data');
  const running = await start(t, { dataDir, auth: { adminToken: 'given-admin-secret-123' } });
  assert.equal(running.adminToken, 'given-admin-secret-123');
  assert.equal(await status(running.url, 'given-admin-secret-123'), 200);
  assert.equal(existsSync(join(dataDir, 'admin.token')), false);
});

test('ROSTER_ADMIN_TOKEN is an admin token named "admin-env"', async (t) => {
  const previous = process.env.ROSTER_ADMIN_TOKEN;
  process.env.ROSTER_ADMIN_TOKEN = 'env-admin-secret-0123456789';
  t.after(() => (previous === undefined ? delete process.env.ROSTER_ADMIN_TOKEN : (process.env.ROSTER_ADMIN_TOKEN = previous)));
  const running = await start(t, {});
  const answer = await request(`${running.url}/v1/auth/whoami`, { headers: { authorization: 'Bearer env-admin-secret-0123456789' } });
  assert.deepEqual(((await answer.body.json()) as { name: string; scopes: string[] }).name, 'admin-env');
  process.env.ROSTER_ADMIN_TOKEN = 'short';
  await assert.rejects(startRegistry({ host: '127.0.0.1', port: 0 }), /ROSTER_ADMIN_TOKEN must be a secret/);
});

test('auth.insecure turns authentication off, with a warning at start; adminToken is null', async (t) => {
  const logger = recordingLogger();
  const running = await start(t, { auth: { insecure: true }, logger });
  assert.equal(running.adminToken, null);
  assert.equal(await status(running.url), 200);
  const created = await request(`${running.url}/v1/instances`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ service: 'LogService', url: 'http://127.0.0.1:9/log', ttlMs: 60_000 }) });
  assert.equal(created.statusCode, 201);
  await created.body.dump();
  assert.ok(logger.lines.some((line) => line.includes('"level":40') && line.includes('authentication is OFF')));
});

test('the tokens file: read at start, reloaded when it changes, a malformed reload keeps the old tokens', async (t) => {
  const dir = scratch(t);
  const tokensFile = join(dir, 'tokens.json');
  const write = (tokens: object[]) => writeFileSync(tokensFile, JSON.stringify({ tokens }));
  write([{ name: 'first', secret: 'first-secret-0123456789', scopes: ['read'] }]);
  const logger = recordingLogger();
  const running = await start(t, { auth: { tokensFile }, logger, tokensWatchIntervalMs: 20 });
  assert.equal(await status(running.url, 'first-secret-0123456789'), 200);

  // sha256 form, and the first token revoked
  write([{ name: 'second', sha256: sha256Hex('second-secret-0123456789'), scopes: ['read'] }]);
  await until(async () => (await status(running.url, 'second-secret-0123456789')) === 200);
  assert.equal(await status(running.url, 'first-secret-0123456789'), 401);

  writeFileSync(tokensFile, '{ "tokens": [ { "name": "broken" ');
  await until(async () => logger.lines.some((line) => line.includes('"level":50') && line.includes(tokensFile)));
  assert.equal(await status(running.url, 'second-secret-0123456789'), 200, 'the previous tokens stay in force');
  assert.ok(logger.lines.every((line) => !line.includes('second-secret-0123456789')));
});

test('a malformed tokens file refuses the start, naming the file and the problem', async (t) => {
  const tokensFile = join(scratch(t), 'tokens.json');
  const cases: Array<[object | string, RegExp]> = [
    ['not json', /is not valid JSON/],
    [{ tokens: [{ name: 'a', scopes: ['read'] }] }, /exactly one of "sha256" and "secret"/],
    [{ tokens: [{ name: 'a', secret: 'x'.repeat(20), scopes: ['root'] }] }, /"tokens\.0\.scopes\.0"/],
    [{ tokens: [{ name: 'a', secret: 'x'.repeat(20), scopes: ['read'] }, { name: 'a', secret: 'y'.repeat(20), scopes: ['read'] }] }, /twice/],
    [{ tokens: [{ name: 'admin', secret: 'x'.repeat(20), scopes: ['read'] }] }, /reserved/],
    [{ tokens: [{ name: 'a', secret: 'short', scopes: ['read'] }] }, /at least 16/],
  ];
  for (const [content, message] of cases) {
    writeFileSync(tokensFile, typeof content === 'string' ? content : JSON.stringify(content));
    await assert.rejects(startRegistry({ host: '127.0.0.1', port: 0, auth: { tokensFile } }), (error: Error) => {
      assert.match(error.message, new RegExp(`tokens file ${tokensFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
      assert.match(error.message, message);
      return true;
    });
  }
});

test('bad auth, course and tls options are refused at start, naming the option', async () => {
  const cases: Array<[StartRegistryOptions, RegExp]> = [
    [{ auth: { adminToken: 'short' } }, /"auth\.adminToken"/],
    [{ auth: { insecure: 'yes' as never } }, /"auth\.insecure"/],
    [{ course: { sources: ['not-an-address'] } }, /"course\.sources"/],
    [{ course: { enabled: 'no' as never } }, /"course\.enabled"/],
    [{ tls: { cert: '/nonexistent/cert.pem' } }, /"tls\.key"/],
    [{ tls: { cert: '/nonexistent/cert.pem', key: '/nonexistent/key.pem' } }, /"tls\.(cert|key)" names a file that cannot be read/],
  ];
  for (const [options, message] of cases) {
    await assert.rejects(startRegistry({ host: '127.0.0.1', port: 0, ...options }), message);
  }
});

/** Waits for a condition that an event outside this process (a file watch) makes true. */
async function until(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail('the condition never came true');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
