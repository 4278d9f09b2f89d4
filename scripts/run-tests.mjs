#!/usr/bin/env node
// Runs every test file under test/ with Node's own runner.
// Node 20 expands no globs and, given a directory of .ts files, reports 0 tests and exits 0;
// this script lists the files itself and fails when it finds no test or the runner ran none.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return findTests(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

const only = process.argv.slice(2);
const files = only.length > 0 ? only : findTests('test').sort();
if (files.length === 0) {
  console.error('run-tests: no test files (*.test.ts) found under test/');
  process.exit(1);
}

// Browser and cluster tests drive the real programs: install them when the machine lacks them.
// wrk: the bench test drives the lookups scenario with it, as `npm run bench` does.
// openssl: the TLS tests make a throwaway CA and certificates with it.
const SYSTEM_PACKAGES = ['chromium:chromium', 'etcd:etcd-server', 'wrk:wrk', 'openssl:openssl'];
const system = spawnSync('bash', ['scripts/ensure-system-packages.sh', ...SYSTEM_PACKAGES], { stdio: 'inherit' });
if (system.status !== 0) {
  console.error('run-tests: could not install the system packages the tests need');
  process.exit(system.status ?? 1);
}

const check = spawnSync('npx', ['tsc', '-p', 'tsconfig.test.json'], { stdio: 'inherit' });
if (check.status !== 0) {
  console.error('run-tests: type check failed');
  process.exit(check.status ?? 1);
}

const lint = spawnSync('npx', ['eslint', '.'], { stdio: 'inherit' });
if (lint.status !== 0) {
  console.error('run-tests: lint failed (npm run lint)');
  process.exit(lint.status ?? 1);
}

const scratch = mkdtempSync(join(tmpdir(), 'roster-tests-'));
const tapFile = join(scratch, 'report.tap');
const run = spawnSync(
  process.execPath,
  [
    '--import', 'tsx',
    '--test',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
    ...files,
  ],
  { stdio: 'inherit', env: { ...process.env, ROSTER_LOG_LEVEL: process.env.ROSTER_LOG_LEVEL ?? 'silent' } },
);
const tap = readFileSync(tapFile, 'utf8');
rmSync(scratch, { recursive: true, force: true });
const count = (name) => Number(/^# (\w+) (\d+)$/m.test(tap) ? (tap.match(new RegExp(`^# ${name} (\\d+)$`, 'm'))?.[1] ?? 0) : 0);
const [tests, pass, fail, skipped, todo] = ['tests', 'pass', 'fail', 'skipped', 'todo'].map(count);
console.log(`\n${pass} passed, ${fail} failed`);
if (tests === 0) {
  console.error('run-tests: the runner executed no test');
  process.exit(1);
}
if (skipped > 0 || todo > 0) {
  console.error(`run-tests: ${skipped} skipped and ${todo} todo tests: finish or remove them`);
  process.exit(1);
}
process.exit(run.status ?? 1);
