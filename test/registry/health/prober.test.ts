import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type RequestListener, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { createHttpProber, type HttpProber } from '../../../src/registry/health/prober.js';
import { checkSignature, probePayload, SIGNATURE_HEADER } from '../../../src/protocol/signature.js';
import { Registry } from '../../../src/registry/registry.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { HealthChecker, type HealthEvent } from '../../../src/registry/health/health-checker.js';

/** A real server on 127.0.0.1, port 0; closed (with its connections) after the test. */
async function serve(t: TestContext, handler: RequestListener): Promise<{ url: string; connections: () => number }> {
  const server = createServer(handler);
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => closeServer(server));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/heartbeat`, connections: () => connections };
}

function closeServer(server: ReturnType<typeof createServer>): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function prober(t: TestContext): HttpProber {
  const created = createHttpProber();
  t.after(() => created.close());
  return created;
}

const never = new AbortController().signal;

test('HTTP 200 passes, and the connection is kept alive between probes', async (t) => {
  const paths: string[] = [];
  const { url, connections } = await serve(t, (req, res) => {
    paths.push(`${req.method} ${req.url}`);
    res.end('ok'.repeat(1000));
  });
  const { probe } = prober(t);
  for (let i = 0; i < 5; i++) await probe(url, never);
  assert.deepEqual(paths, Array(5).fill('GET /heartbeat'));
  // undici's pool may open a second socket while the first is being released, but no more.
  assert.ok(connections() <= 2, `${connections()} connections for 5 probes`);
});

for (const status of [204, 500, 503, 301]) {
  test(`HTTP ${status} fails with the status in the message`, async (t) => {
    const { url } = await serve(t, (_req, res) => {
      res.statusCode = status;
      if (status === 301) res.setHeader('location', '/elsewhere');
      res.end(status === 204 ? undefined : 'no');
    });
    const { probe } = prober(t);
    await assert.rejects(probe(url, never), { message: `answered HTTP ${status}` });
  });
}

test('a closed port fails with "connection refused"', async (t) => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await closeServer(server);
  const { probe } = prober(t);
  await assert.rejects(probe(`http://127.0.0.1:${port}/heartbeat`, never), { message: 'connection refused' });
});

/** A server that takes requests and never answers; `closed` resolves when the prober hangs up. */
async function silentServer(t: TestContext, answer: (res: ServerResponse) => void = () => {}): Promise<{ url: string; requested: Promise<void>; closed: Promise<void> }> {
  let requested!: () => void;
  let closed!: () => void;
  const requestedOnce = new Promise<void>((resolve) => (requested = resolve));
  const closedOnce = new Promise<void>((resolve) => (closed = resolve));
  const { url } = await serve(t, (req, res) => {
    req.socket.on('close', () => closed());
    answer(res);
    requested();
  });
  return { url, requested: requestedOnce, closed: closedOnce };
}

test("a hung probe has no deadline of its own: the caller's signal ends it and closes the socket", async (t) => {
  const server = await silentServer(t);
  const { probe } = prober(t);
  const controller = new AbortController();
  const probing = probe(server.url, controller.signal);
  await server.requested;
  controller.abort(new Error('timed out after 1000 ms'));
  await assert.rejects(probing, { message: 'probe aborted' });
  await server.closed;
});

test('a body that never ends is ended by the signal too', async (t) => {
  const server = await silentServer(t, (res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('partial');
  });
  const { probe } = prober(t);
  const controller = new AbortController();
  const probing = probe(server.url, controller.signal);
  await server.requested;
  controller.abort();
  await assert.rejects(probing, { message: 'probe aborted' });
  await server.closed;
});

test("one deadline per probe: the health checker's, on its clock, ends a real exchange", async (t) => {
  const server = await silentServer(t);
  const { probe } = prober(t);
  const clock = new FakeClock();
  const events: HealthEvent[] = [];
  const options = { jitter: 0, attempts: 1, timeoutMs: 1000 };
  const checker = new HealthChecker({ probe, clock, onEvent: (event) => events.push(event), options, random: () => 0 });
  t.after(() => checker.close());
  checker.track({ id: 'a', heartbeatUrl: server.url, ttlMs: null, health: 'passing' });
  await clock.tick(0);
  await server.requested;
  await clock.tick(999);
  assert.equal(events.length, 0, "nothing ends the probe before the checker's deadline");
  await clock.tick(1);
  await server.closed;
  const checks = events.flatMap((e) => (e.type === 'checked' ? [[e.latencyMs, e.error]] : []));
  assert.deepEqual(checks, [[1000, 'timed out after 1000 ms']]);
});

test('the caller can abort a probe', async (t) => {
  const { url } = await serve(t, () => {});
  const { probe } = prober(t);
  const controller = new AbortController();
  const probing = probe(url, controller.signal);
  setImmediate(() => controller.abort());
  await assert.rejects(probing, { message: 'probe aborted' });
});

test('close is idempotent', async () => {
  const created = createHttpProber();
  await created.close();
  await created.close();
});

test('an answer longer than 64 KiB fails the probe instead of being read to its end', async (t) => {
  const { url } = await serve(t, (_req, res) => res.end('x'.repeat(200 * 1024)));
  const { probe } = prober(t);
  await assert.rejects(probe(url, never), { message: 'answer longer than 65536 bytes' });
});

test('a probe carries the signature its sign function gives for the URL, and none without one', async (t) => {
  const seen: Array<string | undefined> = [];
  const { url } = await serve(t, (req, res) => {
    seen.push(req.headers[SIGNATURE_HEADER] as string | undefined);
    res.end();
  });
  const signed = createHttpProber({ sign: (target) => (target === url ? 't=1,v1=abc' : null) });
  t.after(() => signed.close());
  await signed.probe(url, never);
  await signed.probe(`${url}?other`, never);
  assert.deepEqual(seen, ['t=1,v1=abc', undefined]);
});

test("probes of a v1 instance are signed over GET <path?query> with the instance's key", async (t) => {
  const seen: Array<{ path: string; signature: string | undefined }> = [];
  const { url: base } = await serve(t, (req, res) => {
    seen.push({ path: req.url ?? '', signature: req.headers[SIGNATURE_HEADER] as string | undefined });
    res.end();
  });
  const clock = new FakeClock();
  const heartbeatUrl = `${base}?from=roster&n=1`;
  const created = createHttpProber({ sign: (target) => registry.probeSignatureFor(target) });
  const registry: Registry = new Registry({ clock, probe: created.probe, channel: { send: async () => undefined, close: async () => undefined } });
  t.after(async () => {
    await registry.close(0);
    await created.close();
  });
  const origin = new URL(base).origin;
  const { signingKey } = await registry.register({ service: 'log', url: origin, requires: [], updateUrl: null, heartbeatUrl, ttlMs: null, metadata: {}, protocol: 'v1', owner: null });
  await created.probe(heartbeatUrl, never);
  const [probe] = seen;
  assert.equal(probe?.path, '/heartbeat?from=roster&n=1');
  assert.equal(checkSignature(signingKey as string, probe?.signature, probePayload('/heartbeat?from=roster&n=1'), clock.now()), 'valid');
  assert.equal(checkSignature(signingKey as string, probe?.signature, probePayload('/heartbeat'), clock.now()), 'bad');
});

test('a redirect is not followed: a heartbeat answering 302 fails, even toward a URL that answers 200', async (t) => {
  let reached = 0;
  const healthy = await serve(t, (_req, res) => {
    reached++;
    res.end('ok');
  });
  const { url } = await serve(t, (_req, res) => {
    res.writeHead(302, { location: healthy.url }).end();
  });
  const { probe } = prober(t);
  await probe(healthy.url, never);
  await assert.rejects(probe(url, never), { message: 'answered HTTP 302' });
  assert.equal(reached, 1, 'only the direct probe reached the healthy URL');
});

/** A throwaway CA (openssl) and a certificate it signed for 127.0.0.1, as PEM text. */
function makePki(t: TestContext): { ca: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'roster-prober-pki-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Roster Prober Test CA');
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
  const read = (name: string) => readFileSync(join(dir, name), 'utf8');
  return { ca: read('ca.pem'), cert: read('server.pem'), key: read('server.key') };
}

test('an HTTPS heartbeat signed by a private CA passes only when the prober is given that CA', async (t) => {
  const pki = makePki(t);
  const server = createHttpsServer({ cert: pki.cert, key: pki.key }, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/heartbeat`;

  await assert.rejects(prober(t).probe(url, never), /certificate/);
  const trusting = createHttpProber({ ca: pki.ca });
  t.after(() => trusting.close());
  await trusting.probe(url, never);
});
