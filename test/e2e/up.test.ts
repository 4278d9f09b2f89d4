// `roster up`: the whole system as separate processes, and a clean stop on Ctrl-C.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeProcess, ROSTER_CLI, freePort } from '../helpers/processes.js';

async function ports() {
  const [registry, log, grading, portal] = [await freePort(), await freePort(), await freePort(), await freePort()];
  return { registry, log, grading, portal };
}

function upArgs(p: Awaited<ReturnType<typeof ports>>, dataDir: string): string[] {
  return [
    ROSTER_CLI, 'up', '--host', '127.0.0.1', '--data-dir', dataDir,
    '--registry-port', String(p.registry), '--log-port', String(p.log),
    '--grading-port', String(p.grading), '--portal-port', String(p.portal),
  ];
}

test('roster up starts all four parts in order; Ctrl-C stops them, each deregistering', { timeout: 90_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'roster-up-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const p = await ports();
  const up = new NodeProcess(t, upArgs(p, dataDir));

  await up.waitForLine(/all parts are up/);
  const ready = up.lines.filter((line) => /^\[roster\]\s+(registry|log|grading|portal)\s/.test(line)).map((line) => line.split(/\s+/)[1]);
  assert.deepEqual(ready, ['registry', 'log', 'grading', 'portal']);

  const page = await fetch(`http://127.0.0.1:${p.portal}/students`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /Carter, Nick/);
  const services = (await (await fetch(`http://127.0.0.1:${p.registry}/v1/services`)).json()) as { services: Array<{ name: string; passing: number }> };
  assert.deepEqual(services.services.filter((s) => s.passing > 0).map((s) => s.name).sort(), ['GradingService', 'LogService', 'Portal']);

  up.kill('SIGINT');
  const [code] = await up.exited;
  assert.equal(code, 0, up.output);
  for (const service of ['Portal', 'GradingService', 'LogService']) {
    assert.match(up.output, new RegExp(`\\[registry\\].*instance deregistered service=${service}`));
  }
});

test('roster up names a port in use and the option that changes it', { timeout: 30_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'roster-up-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const p = await ports();
  const squatter = createServer().listen(p.grading, '127.0.0.1');
  await once(squatter, 'listening');
  t.after(() => squatter.close());

  const up = new NodeProcess(t, upArgs(p, dataDir));
  const [code] = await up.exited;
  assert.equal(code, 1);
  assert.match(up.output, new RegExp(`port ${p.grading} \\(grading\\) is already in use: .* --grading-port <port>`));
});
