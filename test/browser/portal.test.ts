// The teacher portal in headless Chromium over the real system: a registry, the log service, the
// grading service and the portal, each a real server on loopback, found through the registry.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { RegistryClient } from '../../src/client/index.js';
import { startRegistry } from '../../src/registry/start-registry.js';
import { runGradingService, type RunGradingServiceOptions } from '../../src/services/grading/index.js';
import { runLogService } from '../../src/services/log/index.js';
import { runPortalService } from '../../src/services/portal/index.js';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const HOST = '127.0.0.1';
const WAIT_MS = 10_000;

/** Runs the cleanups in reverse order of registration: the browser first, the registry last. */
function cleanupStack(t: TestContext): (cleanup: () => unknown) => void {
  const stack: (() => unknown)[] = [];
  t.after(async () => {
    for (const cleanup of stack.reverse()) await cleanup();
  });
  return (cleanup) => stack.push(cleanup);
}

function tempDir(defer: (cleanup: () => unknown) => void, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `roster-portal-${name}-`));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Resolves on the first 'change' after which the portal's view of `service` satisfies `wanted`. */
function providersOf(client: RegistryClient, service: string, wanted: (urls: string[]) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    if (wanted(client.providers(service))) return resolve();
    const timer = setTimeout(() => {
      client.off('change', onChange);
      reject(new Error(`the portal's providers of ${service} stayed ${JSON.stringify(client.providers(service))} for ${WAIT_MS} ms`));
    }, WAIT_MS);
    const onChange = (): void => {
      if (!wanted(client.providers(service))) return;
      clearTimeout(timer);
      client.off('change', onChange);
      resolve();
    };
    client.on('change', onChange);
  });
}

/** Reloads `url` until `check` holds, for at most WAIT_MS (for work the page cannot signal). */
async function reloadUntil(page: Page, url: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    await page.goto(url);
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${url} did not show what was expected within ${WAIT_MS} ms`);
    await delay(100);
  }
}

async function rowTexts(page: Page, selector: string): Promise<string[]> {
  return (await page.locator(`${selector} tbody tr`).allInnerTexts()).map((text) => text.replace(/\s+/g, ' ').trim());
}

async function submitForm(page: Page, button: string): Promise<number> {
  const [response] = await Promise.all([page.waitForEvent('response', (r) => r.request().method() === 'POST'), page.click(`button:has-text("${button}")`)]);
  await page.waitForLoadState();
  // A 303 is followed by the browser: the status that counts is the page it lands on.
  return response.status() === 303 ? ((await response.request().redirectedTo()?.response())?.status() ?? 0) : response.status();
}

test('a teacher adds a grade, sees a bad score refused, and the portal survives the grading service going away', { timeout: 90_000 }, async (t) => {
  const defer = cleanupStack(t);
  const silent = pino({ level: 'silent' });
  const registry = await startRegistry({ host: HOST, port: 0, health: { intervalMs: 300, timeoutMs: 300, attempts: 2, retryDelayMs: 100 } });
  defer(() => registry.close());
  const log = await runLogService({ host: HOST, port: 0, dataDir: tempDir(defer, 'log'), registryUrl: registry.url, handleSignals: false, logger: silent });
  defer(() => log.close());
  const gradingOptions: RunGradingServiceOptions = { host: HOST, port: 0, dataDir: tempDir(defer, 'grading'), registryUrl: registry.url, handleSignals: false, stdout: false };
  const grading = await runGradingService(gradingOptions);
  defer(() => grading.close());
  const portal = await runPortalService({ host: HOST, port: 0, registryUrl: registry.url, handleSignals: false, stdout: false });
  defer(() => portal.close());
  await providersOf(portal.client, 'GradingService', (urls) => urls.length === 1);
  const browser: Browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  defer(() => browser.close());
  const page = await browser.newPage();

  // The Grade Book, then a student.
  await page.goto(portal.url);
  assert.equal(new URL(page.url()).pathname, '/students');
  assert.equal(await page.locator('h1').innerText(), 'Grade Book');
  assert.ok((await rowTexts(page, 'table')).includes('Stone, Emma 3 47.3%'));
  await page.click('a:has-text("Stone, Emma")');
  assert.equal(new URL(page.url()).pathname, '/students/3');
  assert.equal(await page.locator('#average').innerText(), '47.3%');

  // Add a grade: it shows, and so does the new average.
  await page.fill('#Title', 'Quiz 3');
  await page.selectOption('#Type', 'Test');
  await page.fill('#Score', '100');
  assert.equal(await submitForm(page, 'Add grade'), 200);
  assert.equal(new URL(page.url()).pathname, '/students/3');
  assert.deepEqual(await rowTexts(page, '#grades'), ['Quiz 1 Quiz 67', 'Final Exam Exam 0', 'Quiz 2 Quiz 75', 'Quiz 3 Test 100']);
  assert.equal(await page.locator('#average').innerText(), '60.5%');

  // An invalid score: the error shows, the entered title is kept, nothing is added.
  await page.fill('#Title', 'Bonus');
  await page.fill('#Score', '150');
  assert.equal(await submitForm(page, 'Add grade'), 400);
  assert.equal(await page.locator('#Score-error').innerText(), 'Score must be at most 100');
  assert.equal(await page.inputValue('#Title'), 'Bonus');
  assert.equal(await page.inputValue('#Score'), '150');
  assert.equal((await rowTexts(page, '#grades')).length, 4);

  // The System page: the services and their instances, and the portal's own log entry.
  await reloadUntil(page, `${portal.url}/system`, async () => (await page.locator('#logs').innerText().catch(() => '')).includes('added grade "Quiz 3" (Test, 100) for student 3'));
  const system = await page.locator('main').innerText();
  for (const name of ['LogService', 'GradingService', 'Portal']) assert.match(system, new RegExp(`${name} · 1 passing, 0 critical`));
  assert.ok(system.includes(grading.url), 'the grading instance is listed');

  // The grading service stops: a clear 503 page, no stack trace.
  const gone = providersOf(portal.client, 'GradingService', (urls) => urls.length === 0);
  await grading.close();
  await gone;
  const unavailable = await page.goto(`${portal.url}/students/3`);
  assert.equal(unavailable?.status(), 503);
  assert.equal(await page.locator('h1').innerText(), 'The grading service is unavailable');
  assert.match(await page.locator('main').innerText(), /will work again as soon as the grading service is back/);
  assert.doesNotMatch(await page.content(), /at \S+ \(|\.ts:\d+/);

  // It comes back with the same data: the page works again, and the portal was never restarted.
  const back = providersOf(portal.client, 'GradingService', (urls) => urls.length === 1);
  const restarted = await runGradingService(gradingOptions);
  defer(() => restarted.close());
  await back;
  const [again] = await Promise.all([page.waitForNavigation(), page.click('a:has-text("Try again")')]);
  assert.equal(again?.status(), 200);
  assert.equal(await page.locator('#average').innerText(), '60.5%');
  assert.ok((await rowTexts(page, '#grades')).includes('Quiz 3 Test 100'));
});
