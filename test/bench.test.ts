// `npm run bench` works: every scenario runs at tiny sizes and reports a figure. No timing is
// asserted here (issue 6): the figures themselves belong to the bench command.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const BENCH = fileURLToPath(new URL('../bench/run.ts', import.meta.url));

const SCENARIOS = [
  'registration (memory store)',
  'registration (SQLite store)',
  'registration (etcd store)',
  'propagation by callback',
  'propagation by watch stream',
  'failure detection (SIGKILL)',
  'failure detection (hang (SIGSTOP))',
  'scale',
  'lookups',
  'fairness',
  'memory under stuck watchers',
  'large catalog',
];
/** Scenarios whose rows carry etcd's figure for the same work. */
const WITH_ETCD = ['registration (memory store)', 'registration (SQLite store)', 'registration (etcd store)', 'propagation by callback', 'propagation by watch stream', 'lookups'];
const WATCH_MISSING = 'n/a (watch stream not available)';

interface TableRow {
  scenario: string;
  figure: string;
  result: string;
  etcd: string;
}

function tableRows(markdown: string): TableRow[] {
  return markdown
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| ---') && !line.startsWith('| scenario |'))
    .map((line) => {
      const [scenario = '', figure = '', , result = '', etcd = ''] = line.slice(2, -2).split(' | ');
      return { scenario, figure, result, etcd };
    });
}

test('the bench runs every scenario at tiny sizes and reports a figure for each', { timeout: 240_000 }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'roster-bench-test-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const bench = spawn(process.execPath, ['--import', 'tsx', BENCH, '--tiny', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => bench.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  bench.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  bench.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(bench, 'exit')) as [number | null];
  assert.equal(code, 0, `the bench failed:\n${stderr}`);

  const results = readFileSync(join(out, 'RESULTS.md'), 'utf8');
  assert.ok(existsSync(join(out, 'propagation.svg')), 'no chart written');
  assert.match(results, /npm run bench -- --tiny --out /);
  const rows = tableRows(results);
  assert.deepEqual(tableRows(stdout), rows, 'the printed table differs from RESULTS.md');
  for (const scenario of SCENARIOS) {
    const mine = rows.filter((row) => row.scenario === scenario);
    assert.ok(mine.length > 0, `no row for ${scenario}:\n${results}`);
    for (const row of mine) {
      const watchMissing = scenario === 'propagation by watch stream' && row.result === WATCH_MISSING;
      assert.ok(watchMissing || (/\d/.test(row.result) && !row.result.startsWith('failed')), `${scenario} / ${row.figure}: "${row.result}"`);
    }
    if (WITH_ETCD.includes(scenario)) assert.ok(mine.some((row) => /^(p50 )?\d/.test(row.etcd)), `${scenario}: no etcd figure:\n${results}`);
  }
});
