// The dashboard in headless Chromium against a real registry: services appear, turn critical and
// disappear on the page without a reload, and the graph shows who is cut off.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createHttpProber } from '../../src/registry/health/prober.js';
import { buildRegistryServer } from '../../src/registry/http/server.js';
import { HttpChannel } from '../../src/registry/notify/http-channel.js';
import { Registry } from '../../src/registry/registry.js';
import { RecordingService } from '../helpers/recording-service.js';

// Critical after one failed probe, gone 1.5 s later: the whole life of an instance in seconds.
const HEALTH = { intervalMs: 200, timeoutMs: 200, attempts: 1, retryDelayMs: 50, graceMs: 1500 };
const WAIT = { timeout: 10_000 };
// A straight arrow has a bounding box of height 0, which Playwright counts as hidden.
const ATTACHED = { ...WAIT, state: 'attached' } as const;
/** The admin token of the registries these tests start; the page signs in with it at /login. */
const ADMIN_TOKEN = 'dashboard-test-admin-token';
const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

let browser: Browser;
before(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
});
after(() => browser?.close());

/**
 * A registry on 127.0.0.1:0 as `roster registry` builds it; with `watch: false`, one that answers
 * /v1/watch 404 as an older registry without the watch stream does, to show the page falls back
 * to polling.
 */
async function startRegistry(t: TestContext, { watch = true } = {}): Promise<{ url: string }> {
  const channel = new HttpChannel();
  const prober = createHttpProber();
  const registry = new Registry({ channel, probe: prober.probe, options: { health: HEALTH } });
  const app = buildRegistryServer(registry, { auth: { adminToken: ADMIN_TOKEN } });
  if (!watch) withoutWatchStream(app);
  t.after(async () => {
    await Promise.all([app.close(), registry.close()]);
    await Promise.all([channel.close(), prober.close()]);
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` };
}

/** Answers GET /v1/watch with the registry's own 404, as a registry without the route does. */
function withoutWatchStream(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    if (new URL(request.url, 'http://registry').pathname !== '/v1/watch') return;
    reply.callNotFound();
    return reply;
  });
}

async function openDashboard(t: TestContext, url: string): Promise<Page> {
  const page = await browser.newPage();
  t.after(() => page.close());
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  t.after(() => assert.deepEqual(errors, [], 'the page threw'));
  // Signing in sets the session cookie and lands on the dashboard; the page's own fetch and
  // EventSource calls then carry the cookie (same origin).
  const landed = await page.goto(`${url}/login?token=${ADMIN_TOKEN}`);
  assert.equal(new URL(page.url()).pathname, '/');
  assert.equal(landed?.status(), 200);
  return page;
}

async function registerCourse(registryUrl: string, service: RecordingService, name: string, requires: string[] = []): Promise<void> {
  const response = await fetch(`${registryUrl}/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(service.registration(name, requires)) });
  assert.equal(response.status, 200, await response.text());
}

async function startService(t: TestContext): Promise<RecordingService> {
  const service = await RecordingService.start();
  t.after(() => service.close());
  return service;
}

const row = (url: string, health?: string) => `tr.instance[data-url="${url}"]${health ? `[data-health="${health}"]` : ''}`;
const node = (name: string, attributes = '') => `svg.graph g.node[data-service="${name}"]${attributes}`;

test('a service appears, turns critical, then disappears, live; the graph shows who it cuts off', async (t) => {
  const { url } = await startRegistry(t);
  const page = await openDashboard(t, url);
  await page.waitForSelector('#status[data-state="live"]', WAIT);
  await page.evaluate(() => Object.assign(globalThis, { sameDocument: true }));

  const log = await startService(t);
  await registerCourse(url, log, 'LogService');
  await page.waitForSelector(`section.service[data-service="LogService"] ${row(log.url, 'passing')}`, WAIT);

  const grading = await startService(t);
  await registerCourse(url, grading, 'GradingService', ['LogService']);
  await page.waitForSelector(node('GradingService', '[data-broken="false"]'), WAIT);
  await page.waitForSelector('path.edge[data-from="GradingService"][data-to="LogService"]:not(.broken)', ATTACHED);
  assert.equal(await page.locator(node('LogService', '[data-state="ok"]')).count(), 1);

  log.heartbeat = 500;
  await page.waitForSelector(row(log.url, 'critical'), WAIT);
  await page.waitForSelector(node('LogService', '[data-state="down"]'), WAIT);
  await page.waitForSelector(`${node('LogService')} circle.instance.critical[data-url="${log.url}"]`, WAIT);
  await page.waitForSelector(node('GradingService', '[data-broken="true"]'), WAIT);
  await page.waitForSelector('path.edge.broken[data-from="GradingService"][data-to="LogService"]', ATTACHED);
  assert.match(await page.locator(node('GradingService')).textContent() ?? '', /needs LogService/);
  assert.match(await page.locator('section.service[data-service="GradingService"] .missing').textContent() ?? '', /No passing instance of LogService/);

  await page.waitForSelector(row(log.url), { ...WAIT, state: 'detached' });
  // Still required, so still drawn: with no instance at all, and its dependent still cut off.
  await page.waitForSelector(node('LogService', '[data-state="absent"]'), WAIT);
  assert.equal(await page.locator(node('GradingService', '[data-broken="true"]')).count(), 1);
  assert.equal(await page.evaluate(() => (globalThis as { sameDocument?: boolean }).sameDocument), true, 'the page was not reloaded');
});

test('instance details: probe time, latency, version and tags', async (t) => {
  const { url } = await startRegistry(t);
  const log = await startService(t);
  const response = await fetch(`${url}/v1/instances`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...AUTH },
    body: JSON.stringify({ service: 'LogService', url: log.url, heartbeatUrl: `${log.url}/heartbeat`, metadata: { version: '1.4.0', tags: ['eu', 'canary'] } }),
  });
  assert.equal(response.status, 201);
  await log.waitFor((s) => s.requests.some((r) => r.path === '/heartbeat'));
  const page = await openDashboard(t, url);
  const instance = page.locator(row(log.url, 'passing'));
  await instance.waitFor(WAIT);
  assert.equal(await instance.locator('td.version').textContent(), '1.4.0');
  assert.deepEqual(await instance.locator('td.tags .tag').allTextContents(), ['eu', 'canary']);
  assert.match(await instance.locator('td.latency').textContent() ?? '', /^\d+ ms$/);
  assert.match(await instance.locator('td.probe-time').textContent() ?? '', /\d{1,2}:\d{2}:\d{2}/);
});

test('strings from the registry are shown as text, never run as markup', async (t) => {
  const { url } = await startRegistry(t);
  const attack = '<img src=x onerror="window.pwned=1">';
  const response = await fetch(`${url}/v1/instances`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...AUTH },
    body: JSON.stringify({ service: 'Evil', url: 'http://127.0.0.1:9/', ttlMs: 60_000, metadata: { version: attack, tags: [`<b>${attack}</b>`] } }),
  });
  assert.equal(response.status, 201);
  const page = await openDashboard(t, url);
  const version = page.locator('section.service[data-service="Evil"] td.version');
  await version.waitFor(WAIT);
  assert.equal(await version.textContent(), attack);
  assert.equal(await page.locator('td.tags .tag').textContent(), `<b>${attack}</b>`);
  assert.equal(await page.locator('#services img, #services b').count(), 0);
  assert.equal(await page.evaluate(() => (globalThis as { pwned?: number }).pwned), undefined);
});

test('the open dashboard counts as a watch stream in /metrics', async (t) => {
  const { url } = await startRegistry(t);
  const page = await openDashboard(t, url);
  await page.waitForSelector('#status[data-state="live"]', WAIT);
  const metrics = await (await fetch(`${url}/metrics`, { headers: AUTH })).text();
  assert.match(metrics, /^roster_watch_streams 1$/m);
});

test('without a watch stream the dashboard polls /v1/state and still follows changes', async (t) => {
  const { url } = await startRegistry(t, { watch: false });
  const page = await openDashboard(t, url);
  await page.waitForSelector('#status[data-state="polling"]', WAIT);
  const log = await startService(t);
  await registerCourse(url, log, 'LogService');
  await page.waitForSelector(row(log.url, 'passing'), WAIT);
});

test('the page and its modules are served with a strict content security policy; nothing else is', async (t) => {
  const { url } = await startRegistry(t);
  for (const [path, type] of [['/', 'text/html'], ['/dashboard/app.js', 'text/javascript'], ['/dashboard/style.css', 'text/css']] as const) {
    const response = await fetch(`${url}${path}`, { headers: AUTH });
    assert.equal(response.status, 200, path);
    assert.ok(response.headers.get('content-type')?.startsWith(type), `${path}: ${response.headers.get('content-type')}`);
    assert.match(response.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    await response.arrayBuffer();
  }
  const missing = await fetch(`${url}/dashboard/..%2f..%2fmetrics.ts`);
  assert.equal(missing.status, 404);
  await missing.arrayBuffer();
});
