// The teacher portal in headless Chromium over the real system: a registry, the log service, the
// grading service and the portal, each a real server on loopback, found through the registry.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { RegistryClient } from '../../src/client/index.js';
import { startRegistry } from '../../src/registry/start-registry.js';
import { runGradingService, type RunGradingServiceOptions } from '../../src/services/grading/index.js';
import { runLogService } from '../../src/services/log/index.js';
import { runPortalService } from '../../src/services/portal/index.js';
import { secureRegistry } from '../services/secure-registry.js';
import { untilFileShows } from '../helpers/until-file-shows.js';

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

async function rowTexts(page: Page, selector: string): Promise<string[]> {
  return (await page.locator(`${selector} tbody tr`).allInnerTexts()).map((text) => text.replace(/\s+/g, ' ').trim());
}

async function submitForm(page: Page, button: string): Promise<number> {
  const [response] = await Promise.all([page.waitForEvent('response', (r) => r.request().method() === 'POST'), page.click(`button:has-text("${button}")`)]);
  await page.waitForLoadState();
  // A 303 is followed by the browser: the status that counts is the page it lands on.
  return response.status() === 303 ? ((await response.request().redirectedTo()?.response())?.status() ?? 0) : response.status();
}

/** The registry (secure, as by default) and the three services, each with its own part's token. */
async function demoSystem(t: TestContext, defer: (cleanup: () => unknown) => void) {
  const silent = pino({ level: 'silent' });
  const { registry, tokens } = await secureRegistry(t, { health: { intervalMs: 300, timeoutMs: 300, attempts: 2, retryDelayMs: 100 } });
  defer(() => registry.close());
  const log = await runLogService({ host: HOST, port: 0, dataDir: tempDir(defer, 'log'), registryUrl: registry.url, token: tokens.log, handleSignals: false, logger: silent });
  defer(() => log.close());
  const gradingOptions: RunGradingServiceOptions = { host: HOST, port: 0, dataDir: tempDir(defer, 'grading'), registryUrl: registry.url, token: tokens.grading, handleSignals: false, stdout: false };
  const grading = await runGradingService(gradingOptions);
  defer(() => grading.close());
  const portal = await runPortalService({ host: HOST, port: 0, registryUrl: registry.url, token: tokens.portal, handleSignals: false, stdout: false });
  defer(() => portal.close());
  return { registry, tokens, log, grading, gradingOptions, portal };
}

/** A page of another origin: another port of the same loopback host (same site, other origin). */
async function otherOrigin(defer: (cleanup: () => unknown) => void, html: string): Promise<string> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html));
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  defer(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://${HOST}:${(server.address() as AddressInfo).port}/`;
}

async function launch(defer: (cleanup: () => unknown) => void): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  defer(() => browser.close());
  return browser;
}

test('a teacher adds a grade, sees a bad score refused, and the portal survives the grading service going away', { timeout: 90_000 }, async (t) => {
  const defer = cleanupStack(t);
  const { portal, grading, gradingOptions, log } = await demoSystem(t, defer);
  await providersOf(portal.client, 'GradingService', (urls) => urls.length === 1);
  const browser = await launch(defer);
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
  // The portal ships its entry to the log service, which appends it to its file: wait for that.
  const shipped = 'added grade "Quiz 3" (Test, 100) for student 3';
  await untilFileShows(`the portal's entry in ${log.file}`, log.file, (lines) => (lines.some((line) => (JSON.parse(line) as { message: string }).message.includes(shipped)) ? true : undefined));
  await page.goto(`${portal.url}/system`);
  assert.ok((await page.locator('#logs').innerText()).includes(shipped), 'the System page shows the latest log entries');
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

test("a page of another origin that auto-submits a grade form through the teacher's browser adds nothing", { timeout: 60_000 }, async (t) => {
  const defer = cleanupStack(t);
  const { portal, grading } = await demoSystem(t, defer);
  await providersOf(portal.client, 'GradingService', (urls) => urls.length === 1);
  const gradesOf = async (): Promise<unknown> => ((await (await fetch(`${grading.url}/students/1`)).json()) as { Grades: unknown[] }).Grades;
  const before = await gradesOf();
  const evil = await otherOrigin(
    defer,
    `<!doctype html><title>win a prize</title>
     <form method="post" action="${portal.url}/students/1/grades">
       <input name="Title" value="Forged"><input name="Type" value="Exam"><input name="Score" value="0">
     </form>
     <script>document.forms[0].submit()</script>`,
  );
  const browser = await launch(defer);
  const page = await browser.newPage();

  // The teacher has the portal open: the browser holds its form cookie.
  await page.goto(`${portal.url}/students/1`);
  assert.equal(await page.locator('h1').innerText(), 'Carter, Nick');

  const [posted] = await Promise.all([
    page.waitForResponse((response) => response.request().method() === 'POST' && response.url() === `${portal.url}/students/1/grades`),
    page.goto(evil),
  ]);
  await page.waitForLoadState();
  assert.equal(posted.status(), 403);
  assert.equal(await page.locator('h1').innerText(), 'The form could not be accepted');
  assert.match(await page.locator('main').innerText(), /Reload the form and send it again/);
  assert.deepEqual(await gradesOf(), before, 'no grade was added');

  // The teacher's own form still works in the same browser.
  await page.goto(`${portal.url}/students/1`);
  await page.fill('#Title', 'Quiz 3');
  await page.fill('#Score', '88');
  assert.equal(await submitForm(page, 'Add grade'), 200);
  assert.ok((await rowTexts(page, '#grades')).includes('Quiz 3 Quiz 88'));
});

test('a NUL or a line break in a grade title is refused on the page with the values kept; nothing is stored', { timeout: 60_000 }, async (t) => {
  const defer = cleanupStack(t);
  const { portal, grading } = await demoSystem(t, defer);
  await providersOf(portal.client, 'GradingService', (urls) => urls.length === 1);
  const browser = await launch(defer);
  const page = await browser.newPage();
  await page.goto(`${portal.url}/students/2`);
  const before = await rowTexts(page, '#grades');

  // A text input drops line breaks as it is typed, so the value is set as a script could.
  await page.locator('#Title').evaluate((input) => ((input as { value: string }).value = 'Quiz\u00003'));
  await page.fill('#Score', '90');
  assert.equal(await submitForm(page, 'Add grade'), 400);
  assert.equal(await page.locator('#Title-error').innerText(), 'Title must not contain control characters (such as a line break, a tab or NUL)');
  assert.equal(await page.inputValue('#Score'), '90');
  assert.deepEqual(await rowTexts(page, '#grades'), before);
  const stored = ((await (await fetch(`${grading.url}/students/2`)).json()) as { Grades: { Title: string }[] }).Grades;
  assert.ok(stored.every((grade) => !/[\u0000-\u001f]/.test(grade.Title)));
});

test('a no-cors fetch from a page of another origin registers nothing on a real registry', { timeout: 60_000 }, async (t) => {
  const defer = cleanupStack(t);
  const registry = await startRegistry({ host: HOST, port: 0 });
  defer(() => registry.close());
  assert.ok(registry.adminToken, 'secure by default');
  const evil = await otherOrigin(defer, '<!doctype html><title>nothing to see</title>');
  const browser = await launch(defer);
  const page = await browser.newPage();
  await page.goto(evil);

  // A registration the course API takes from a program on this machine (the control at the end).
  const body = JSON.stringify({ ServiceName: 'Evil', ServiceURL: evil.slice(0, -1), RequiredServices: [], ServiceUpdateURL: `${evil}services`, HeartbeatURL: `${evil}heartbeat` });
  const outcome = await page.evaluate(
    async ({ url, body }) => {
      try {
        const response = await fetch(url, { method: 'POST', mode: 'no-cors', body });
        return `answered (${response.type})`;
      } catch (error) {
        return `failed: ${(error as Error).message}`;
      }
    },
    { url: `http://${HOST}:${registry.port}/services`, body },
  );

  assert.match(outcome, /answered \(opaque\)|failed/);
  assert.deepEqual(registry.registry.instances(), [], `nothing registered (the page's fetch ${outcome})`);
  const listed = await fetch(`${registry.url}/v1/services`, { headers: { authorization: `Bearer ${registry.adminToken}` } });
  assert.doesNotMatch(await listed.text(), /Evil/);

  // The same body from a course program on loopback (no Origin, JSON) is taken: the page was refused for being a page.
  const course = await fetch(`http://${HOST}:${registry.port}/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(course.status, 200, await course.text());
  assert.deepEqual(registry.registry.instances().map((instance) => instance.service), ['Evil']);
});
