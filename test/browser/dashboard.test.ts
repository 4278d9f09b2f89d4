// The dashboard in headless Chromium against a real registry: services appear, turn critical and
// disappear on the page without a reload; the overview searches and filters; a service's page
// shows its instances, its upstreams and downstreams; the page fits a phone's width at 3, 30 and
// 100 services. With ROSTER_DASHBOARD_SHOTS=<folder>, the layout test saves screenshots there.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startRegistry } from '../../src/registry/start-registry.js';
import { RecordingService } from '../helpers/recording-service.js';

// Critical after one failed probe, gone 1.5 s later: the whole life of an instance in seconds.
const HEALTH = { intervalMs: 200, timeoutMs: 200, attempts: 1, retryDelayMs: 50, graceMs: 1500 };
/** The little of the page's DOM these tests read in the page (they compile without the DOM's types). */
declare const document: { querySelector(selector: string): unknown; querySelectorAll(selector: string): { length: number }; documentElement: { scrollWidth: number; clientWidth: number } };
declare const location: { hash: string };

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

/** A registry on 127.0.0.1:0, started as `roster registry` starts one. */
async function startTestRegistry(t: TestContext, health = HEALTH): Promise<{ url: string }> {
  const running = await startRegistry({ host: '127.0.0.1', port: 0, auth: { adminToken: ADMIN_TOKEN }, health });
  t.after(() => running.close());
  return running;
}

/**
 * The dashboard, signed in. With `watch: false` the page is answered 404 for /v1/watch, as by an
 * older registry without the watch stream, to show that it falls back to polling.
 */
async function openDashboard(t: TestContext, url: string, { watch = true } = {}): Promise<Page> {
  const page = await browser.newPage();
  t.after(() => page.close());
  if (!watch) await page.route(/\/v1\/watch(\?|$)/, (route) => route.fulfill({ status: 404, contentType: 'application/json', body: JSON.stringify({ code: 'NOT_FOUND', message: 'Route GET:/v1/watch not found' }) }));
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

/** Critical instances stay critical (no removal) for the length of a test. */
const KEEP_CRITICAL = { ...HEALTH, graceMs: 600_000 };
const PHONE = { width: 375, height: 740 };
const DESKTOP = { width: 1280, height: 800 };

const row = (url: string, health?: string) => `tr.instance[data-url="${url}"]${health ? `[data-health="${health}"]` : ''}`;
const node = (name: string, attributes = '') => `svg.graph g.node[data-service="${name}"]${attributes}`;
const listed = (name: string, attributes = '') => `li.service-row[data-service="${name}"]${attributes}`;
const servicePage = (name: string) => `.service-page[data-service="${name}"]`;

/** Registers one instance through /v1: TTL mode, or probed at `heartbeatUrl`. */
async function registerV1(registryUrl: string, body: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${registryUrl}/v1/instances`, { method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify(body) });
  assert.equal(response.status, 201, await response.text());
}

async function openService(page: Page, name: string): Promise<void> {
  await goTo(page, `#/service/${encodeURIComponent(name)}`);
  await page.waitForSelector(servicePage(name), WAIT);
}

/** Moves the page to another of its own addresses (a fragment): no reload. */
async function goTo(page: Page, hash: string): Promise<void> {
  await page.evaluate((fragment) => { location.hash = fragment; }, hash);
}

/** Waits until `count` elements match `selector`. */
async function waitForCount(page: Page, selector: string, count: number): Promise<void> {
  await page.waitForFunction(([s, n]) => document.querySelectorAll(s).length === n, [selector, count] as const, WAIT);
}

async function attributeOf(page: Page, selector: string, name: string): Promise<string[]> {
  return page.locator(selector).evaluateAll((elements, attribute) => elements.map((e) => e.getAttribute(attribute) ?? ''), name);
}

const rowNames = (page: Page) => attributeOf(page, 'li.service-row', 'data-service');

test('a service appears, turns critical, then disappears, live; its page shows who it cuts off', async (t) => {
  const { url } = await startTestRegistry(t);
  const page = await openDashboard(t, url);
  await page.waitForSelector('#status[data-state="live"]', WAIT);
  await page.evaluate(() => Object.assign(globalThis, { sameDocument: true }));

  const log = await startService(t);
  await registerCourse(url, log, 'LogService');
  await page.waitForSelector(listed('LogService', '[data-state="ok"]'), WAIT);

  const grading = await startService(t);
  await registerCourse(url, grading, 'GradingService', ['LogService']);
  await page.click(`${listed('GradingService')} a`, WAIT);
  await page.waitForSelector(`${servicePage('GradingService')} ${node('GradingService', '[data-broken="false"][data-focus="true"]')}`, WAIT);
  await page.waitForSelector('path.edge[data-from="GradingService"][data-to="LogService"]:not(.broken)', ATTACHED);
  assert.equal(await page.locator(node('LogService', '[data-state="ok"]')).count(), 1);

  await page.click('#upstreams a', WAIT);
  await page.waitForSelector(`${servicePage('LogService')} ${row(log.url, 'passing')}`, WAIT);

  // Critical for graceMs, then removed: all of this is drawn at once, so it is checked at once.
  log.heartbeat = 500;
  const whileCritical = [
    row(log.url, 'critical'),
    node('LogService', '[data-state="down"][data-focus="true"]'),
    `${node('LogService')} circle.instance.critical[data-url="${log.url}"]`,
    node('GradingService', '[data-broken="true"]'),
    'path.edge.broken[data-from="GradingService"][data-to="LogService"]',
  ];
  await page.waitForFunction((selectors) => selectors.every((selector) => document.querySelector(selector) !== null), whileCritical, WAIT);

  await page.waitForSelector(row(log.url), { ...WAIT, state: 'detached' });
  // Still required, so still shown: with no instance at all, and its dependent still cut off.
  await page.waitForSelector(`${servicePage('LogService')}[data-state="absent"] #downstreams li[data-service="GradingService"]`, WAIT);
  await page.goBack();
  await page.waitForSelector('#upstreams li[data-service="LogService"][data-state="absent"]', WAIT);
  await page.waitForSelector(node('GradingService', '[data-broken="true"]'), WAIT);
  assert.match(await page.locator(node('GradingService')).textContent() ?? '', /needs LogService/);
  assert.match(await page.locator(`${servicePage('GradingService')} .problems`).textContent() ?? '', /needs LogService/);
  assert.equal(await page.evaluate(() => (globalThis as { sameDocument?: boolean }).sameDocument), true, 'the page was not reloaded');
});

test('a fragment that is no valid %-encoding shows the overview; the page goes on drawing', async (t) => {
  const { url } = await startTestRegistry(t);
  const page = await openDashboard(t, url);
  const log = await startService(t);
  await registerCourse(url, log, 'LogService');
  await openService(page, 'LogService');

  await goTo(page, '#/service/%E0');
  await page.waitForSelector('#overview:not([hidden])', WAIT);
  await page.waitForSelector(listed('LogService'), WAIT);
  await openService(page, 'LogService');
  // openDashboard asserts, once the test ends, that the page threw nothing.
});

test('a service page shows probe time, latency, owner, version, tags and metadata; no empty hooks', async (t) => {
  const { url } = await startTestRegistry(t);
  const log = await startService(t);
  await registerV1(url, { service: 'LogService', url: log.url, heartbeatUrl: `${log.url}/heartbeat`, metadata: { version: '1.4.0', tags: ['eu', 'canary'], region: 'eu-west' } });
  await log.waitFor((s) => s.requests.some((r) => r.path === '/heartbeat'));
  const page = await openDashboard(t, url);
  await openService(page, 'LogService');
  const instance = page.locator(row(log.url, 'passing'));
  await instance.waitFor(WAIT);
  assert.equal(await instance.locator('td.version').textContent(), '1.4.0');
  assert.deepEqual(await instance.locator('td.tags .tag').allTextContents(), ['eu', 'canary']);
  assert.equal(await instance.locator('td.metadata').textContent(), 'region=eu-west');
  assert.equal(await instance.locator('td.owner').textContent(), 'admin');
  assert.match(await instance.locator('td.latency').textContent() ?? '', /^\d+ ms$/);
  assert.match(await instance.locator('td.probe-time').textContent() ?? '', /\d{1,2}:\d{2}:\d{2}/);
  // Maintenance, weights and actions appear only once the registry reports them.
  assert.deepEqual(await page.locator('table.instances th').allTextContents(), ['instance', 'health', 'last probe', 'latency', 'owner', 'version', 'tags', 'metadata', 'via']);
  assert.equal(await page.locator('#banner').isHidden(), true);
});

test('strings from the registry are shown as text, never run as markup', async (t) => {
  const { url } = await startTestRegistry(t);
  const attack = '<img src=x onerror="window.pwned=1">';
  await registerV1(url, { service: 'Evil', url: 'http://127.0.0.1:9/', ttlMs: 60_000, metadata: { version: attack, tags: [`<b>${attack}</b>`], note: attack } });
  const page = await openDashboard(t, url);
  await page.waitForSelector(listed('Evil'), WAIT);
  await openService(page, 'Evil');
  const version = page.locator(`${servicePage('Evil')} td.version`);
  assert.equal(await version.textContent(), attack);
  assert.equal(await page.locator('td.tags .tag').textContent(), `<b>${attack}</b>`);
  assert.equal(await page.locator('td.metadata').textContent(), `note=${attack}`);
  assert.equal(await page.locator('main img, main b').count(), 0);
  assert.equal(await page.evaluate(() => (globalThis as { pwned?: number }).pwned), undefined);
});

/**
 * A small catalog with every kind of trouble: api-gateway requires auth and catalog; catalog has
 * a passing and a critical instance; catalog-search requires ghost, which nothing provides.
 */
async function seedSmallCatalog(t: TestContext, url: string): Promise<{ failing: RecordingService }> {
  const failing = await startService(t);
  failing.heartbeat = 500;
  const ttl = (service: string, n = 1, requires: string[] = []) => registerV1(url, { service, url: `http://127.0.0.1:9/${service}/${n}`, ttlMs: 600_000, requires });
  await ttl('api-gateway', 1, ['auth', 'catalog']);
  await ttl('auth');
  await ttl('billing');
  await ttl('catalog');
  await registerV1(url, { service: 'catalog', url: `${failing.url}/catalog/2`, heartbeatUrl: `${failing.url}/heartbeat` });
  await ttl('catalog-search', 1, ['ghost']);
  return { failing };
}

test('the overview searches by name and filters by health and by problems', async (t) => {
  const { url } = await startTestRegistry(t, KEEP_CRITICAL);
  await seedSmallCatalog(t, url);
  const page = await openDashboard(t, url);
  await page.waitForSelector(listed('catalog', '[data-state="degraded"]'), WAIT);
  assert.deepEqual(await rowNames(page), ['api-gateway', 'auth', 'billing', 'catalog', 'catalog-search', 'ghost']);
  assert.deepEqual(await page.locator('#counts .count').allTextContents(), ['6 services', '3 with problems', '6 instances', '5 passing', '1 critical']);

  await page.fill('#search', 'CAT');
  await waitForCount(page, 'li.service-row', 2);
  assert.deepEqual(await rowNames(page), ['catalog', 'catalog-search']);
  await page.fill('#search', 'nothing-like-it');
  await page.waitForSelector('#service-list >> text=No service matches.', WAIT);

  await page.fill('#search', '');
  const expected = { critical: ['catalog'], problems: ['catalog', 'catalog-search', 'ghost'], passing: ['api-gateway', 'auth', 'billing', 'catalog-search'] };
  for (const [filter, names] of Object.entries(expected)) {
    await page.click(`button.chip[data-filter="${filter}"]`);
    await page.waitForSelector(`button.chip[data-filter="${filter}"][aria-pressed="true"]`, WAIT);
    assert.deepEqual(await rowNames(page), names, filter);
    assert.match(await page.locator(`button.chip[data-filter="${filter}"] .n`).textContent() ?? '', new RegExp(`^${names.length}$`));
  }
  assert.match(await page.locator(`${listed('catalog-search')} .problems`).textContent() ?? '', /needs ghost/);
  await page.fill('#search', 'search');
  assert.deepEqual(await rowNames(page), ['catalog-search']);
});

test('a service page: upstreams and downstreams as links and a graph of its neighbours; a new instance appears live', async (t) => {
  const { url } = await startTestRegistry(t, KEEP_CRITICAL);
  await seedSmallCatalog(t, url);
  const page = await openDashboard(t, url);
  await page.click(`${listed('api-gateway')} a`, WAIT);
  await page.waitForSelector(servicePage('api-gateway'), WAIT);
  assert.deepEqual(await attributeOf(page, '#upstreams li', 'data-service'), ['auth', 'catalog']);
  assert.equal(await page.locator('#downstreams li').count(), 0);
  // Only its neighbours: not billing, catalog-search or ghost.
  assert.deepEqual((await attributeOf(page, 'svg.graph g.node', 'data-service')).sort(), ['api-gateway', 'auth', 'catalog']);

  await page.click('#upstreams li[data-service="catalog"] a');
  await page.waitForSelector(servicePage('catalog'), WAIT);
  assert.deepEqual(await page.locator('#downstreams li').allTextContents(), ['api-gateway ok']);
  await page.waitForSelector('tr.instance[data-health="critical"]', WAIT);
  assert.equal(await page.locator('tr.instance').count(), 2);

  await registerV1(url, { service: 'catalog', url: 'http://127.0.0.1:9/catalog/3', ttlMs: 600_000 });
  await page.waitForSelector(row('http://127.0.0.1:9/catalog/3', 'passing'), WAIT);
  assert.equal(await page.locator('tr.instance').count(), 3);

  await page.click(`${node('api-gateway')}`);
  await page.waitForSelector(servicePage('api-gateway'), WAIT);
  await page.click('a.back');
  await page.waitForSelector(listed('catalog'), WAIT);
  assert.equal(await page.locator('#counts [data-count="instances"]').textContent(), '7 instances');
});

const WORDS = ['gateway', 'auth', 'users', 'billing', 'catalog', 'search', 'orders', 'payments', 'inventory', 'shipping', 'email', 'sms', 'notify', 'reports', 'audit', 'ledger', 'pricing', 'cart', 'reviews', 'media', 'thumbnails', 'sessions', 'profile', 'feed', 'ranking', 'geo', 'tax', 'fraud', 'loyalty', 'export'];

/**
 * `count` services in a layered web: the gateway requires up to eight, every other service one
 * or two further down the list; every seventh has a second, critical instance; the sixth
 * requires a service nobody registered.
 */
async function seedCatalog(t: TestContext, url: string, count: number): Promise<string[]> {
  const failing = await startService(t);
  failing.heartbeat = 500;
  const names = Array.from({ length: count }, (_, i) => `${WORDS[i % WORDS.length]}${i < WORDS.length ? '' : `-${Math.floor(i / WORDS.length) + 1}`}`);
  for (const [i, service] of names.entries()) {
    const requires = i === 0 ? names.slice(1, 9) : [names[i + 1], names[i + 4]].filter((name): name is string => name !== undefined && i % 3 !== 2);
    if (i === 5) requires.push('legacy-ledger');
    const metadata = { version: `1.${i % 5}.0`, tags: i % 2 === 0 ? ['eu'] : ['us', 'canary'] };
    await registerV1(url, { service, url: `http://127.0.0.1:9/${service}/1`, ttlMs: 600_000, requires, metadata });
    if (i % 7 === 3) await registerV1(url, { service, url: `${failing.url}/${service}/2`, heartbeatUrl: `${failing.url}/heartbeat`, metadata });
  }
  return names;
}

/** The page is no wider than the window: nothing scrolls sideways but inside its own box. */
async function assertNoOverflow(page: Page, what: string): Promise<void> {
  const { scrollWidth, clientWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth }));
  assert.ok(scrollWidth <= clientWidth, `${what}: the page is ${scrollWidth} px wide in a ${clientWidth} px window`);
}

/** The whole page, and what the window shows first. */
async function shoot(page: Page, name: string): Promise<void> {
  const folder = process.env.ROSTER_DASHBOARD_SHOTS;
  if (!folder) return;
  mkdirSync(folder, { recursive: true });
  await page.screenshot({ path: join(folder, `${name}.png`), fullPage: true });
  await page.screenshot({ path: join(folder, `${name}-top.png`) });
}

for (const count of [3, 30, 100]) {
  test(`at ${count} services the overview and a service page fit a phone's width and a desktop's`, async (t) => {
    const { url } = await startTestRegistry(t, KEEP_CRITICAL);
    const names = await seedCatalog(t, url, count);
    const page = await openDashboard(t, url);
    const critical = names.filter((_, i) => i % 7 === 3).length;
    await waitForCount(page, 'li.service-row', names.length + (count > 5 ? 1 : 0));
    await waitForCount(page, 'li.service-row[data-state="degraded"]', critical);
    for (const [label, size] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
      await page.setViewportSize(size);
      await goTo(page, '#/');
      await page.waitForSelector('#overview:not([hidden])', WAIT);
      await assertNoOverflow(page, `overview, ${label}`);
      await shoot(page, `${count}-services-${label}-overview`);
      // The busiest page (the gateway requires up to eight), and one with both upstreams and downstreams.
      for (const name of new Set([0, Math.min(4, names.length - 1)].map((i) => names[i] ?? ''))) {
        await openService(page, name);
        await assertNoOverflow(page, `${name}'s page, ${label}`);
        await shoot(page, `${count}-services-${label}-${name}`);
      }
      await goTo(page, '#/graph');
      await page.waitForSelector('#whole-graph svg.graph', WAIT);
      await assertNoOverflow(page, `the whole graph, ${label}`);
      await shoot(page, `${count}-services-${label}-graph`);
    }
  });
}

test('a registry that reports self-preservation, maintenance and weights: a banner and two more columns', async (t) => {
  const { url } = await startTestRegistry(t);
  await registerV1(url, { service: 'LogService', url: 'http://127.0.0.1:9/log', ttlMs: 60_000 });
  const page = await browser.newPage();
  t.after(() => page.close());
  // A registry that reports more than this one does: its answers, with the extra fields added.
  await page.route(/\/v1\/health$/, async (route) => {
    const health = await (await route.fetch()).json();
    await route.fulfill({ json: { ...health, selfPreservation: { active: true, since: new Date().toISOString(), reason: '3 of 4 instances failed within one probe interval' } } });
  });
  await page.route(/\/v1\/watch(\?|$)/, (route) => route.fulfill({ status: 404, json: { code: 'NOT_FOUND', message: 'no watch' } }));
  await page.route(/\/v1\/state$/, async (route) => {
    const state = await (await route.fetch()).json();
    const maintenance = { reason: 'deploy', since: new Date().toISOString(), by: 'admin', scope: 'instance', drainUntil: null, draining: false };
    state.instances = state.instances.map((i: object) => ({ ...i, weight: 3, maintenance }));
    await route.fulfill({ json: state });
  });
  await page.goto(`${url}/login?token=${ADMIN_TOKEN}`);
  await page.waitForSelector('#banner:not([hidden]) >> text=Self-preservation', WAIT);
  assert.match(await page.locator('#banner').textContent() ?? '', /3 of 4 instances failed/);
  await openService(page, 'LogService');
  await page.waitForSelector('td.maintenance', WAIT);
  assert.match(await page.locator('td.maintenance').textContent() ?? '', /^deploy · since \d{1,2}:\d{2}:\d{2}.* by admin$/);
  assert.equal(await page.locator('td.weight').textContent(), '3');
  assert.equal(await page.locator('table.instances th', { hasText: 'actions' }).count(), 0);
});

test('the open dashboard counts as a watch stream in /metrics', async (t) => {
  const { url } = await startTestRegistry(t);
  const page = await openDashboard(t, url);
  await page.waitForSelector('#status[data-state="live"]', WAIT);
  const metrics = await (await fetch(`${url}/metrics`, { headers: AUTH })).text();
  assert.match(metrics, /^roster_watch_streams 1$/m);
});

test('without a watch stream the dashboard polls /v1/state and still follows changes', async (t) => {
  const { url } = await startTestRegistry(t);
  const page = await openDashboard(t, url, { watch: false });
  await page.waitForSelector('#status[data-state="polling"]', WAIT);
  const log = await startService(t);
  await registerCourse(url, log, 'LogService');
  await page.waitForSelector(listed('LogService', '[data-state="ok"]'), WAIT);
});

test('the page and its modules are served with a strict content security policy; nothing else is', async (t) => {
  const { url } = await startTestRegistry(t);
  for (const [path, type] of [['/', 'text/html'], ['/dashboard/app.js', 'text/javascript'], ['/dashboard/service-page.js', 'text/javascript'], ['/dashboard/style.css', 'text/css']] as const) {
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
