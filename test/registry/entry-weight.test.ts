// Importing roster/registry is light: the HTTP framework, the metrics library and SQLite load
// only when a registry starts (or a SqliteStore opens). Checked on the built package (npm run
// build first), in a fresh node process that imports the entry point by its public name and
// lists the packages the CommonJS loader has loaded (fastify, prom-client and better-sqlite3
// are CommonJS, and an ES module importing them goes through that loader too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../../', import.meta.url));
const HEAVY = ['better-sqlite3', 'fastify', 'prom-client'];

/** Imports `entry` in a new process; the npm packages it loaded, by name. */
async function packagesLoadedBy(entry: string): Promise<string[]> {
  const script = [
    "import { createRequire } from 'node:module';",
    'await import(process.argv[1]);',
    'const require = createRequire(import.meta.url);',
    'const names = Object.keys(require.cache).map((path) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(path)?.[1]).filter(Boolean);',
    'process.stdout.write(JSON.stringify([...new Set(names)]));',
  ].join('\n');
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, entry], { cwd: root });
  return JSON.parse(stdout) as string[];
}

const heavyIn = (packages: string[]): string[] => HEAVY.filter((name) => packages.includes(name)).sort();

test('the built package is there', () => {
  assert.ok(existsSync(`${root}dist/registry/index.js`), 'dist/ is missing: run npm run build first');
});

test('importing roster/registry loads neither fastify, prom-client nor better-sqlite3', { timeout: 30_000 }, async () => {
  assert.deepEqual(heavyIn(await packagesLoadedBy('roster/registry')), []);
});

test('the check sees them: roster/registry/server loads fastify and prom-client', { timeout: 30_000 }, async () => {
  assert.deepEqual(heavyIn(await packagesLoadedBy('roster/registry/server')), ['fastify', 'prom-client']);
});

test('roster/client, roster/service and roster/protocol load none of them either', { timeout: 30_000 }, async () => {
  for (const entry of ['roster/client', 'roster/service', 'roster/protocol']) {
    assert.deepEqual(heavyIn(await packagesLoadedBy(entry)), [], entry);
  }
});
