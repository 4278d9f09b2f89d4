// What a user sees of the package before running it: package.json's metadata, the LICENSE file,
// source maps that point at shipped files, RosterError from the client entry point, and the
// portal's favicon (browsers ask for it on every page view).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { RosterError, RegistryClient } from '../src/client/index.js';
import { RosterError as ProtocolRosterError } from '../src/protocol/index.js';
import { buildPortalApp } from '../src/services/portal/app.js';

const root = new URL('../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  type: string;
  license: string;
  engines: { node: string };
  repository?: { url?: string };
  keywords?: string[];
  files: string[];
  exports: Record<string, { types: string; default: string }>;
};
const tsconfig = readFileSync(new URL('tsconfig.json', root), 'utf8');

test('package.json says what a registry page and a type checker need', () => {
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.engines.node, '>=20.18.1', 'undici 7 needs 20.18.1');
  assert.match(pkg.repository?.url ?? '', /^git\+https:\/\//);
  assert.ok((pkg.keywords ?? []).length >= 3);
  for (const [entry, target] of Object.entries(pkg.exports)) assert.ok(target.types.endsWith('.d.ts'), `${entry} has types`);
});

test('the LICENSE file is the MIT licence package.json names', () => {
  const license = readFileSync(new URL('LICENSE', root), 'utf8');
  assert.equal(pkg.license, 'MIT');
  assert.match(license, /^MIT License\n\nCopyright \(c\) 2026 the Roster authors\n/);
  assert.ok(pkg.files.includes('LICENSE'));
});

test('source maps point at files the package ships', () => {
  // tsc's maps name ../src/…: either src/ is shipped or no maps are emitted.
  const emitsMaps = /"sourceMap"\s*:\s*true/.test(tsconfig);
  assert.ok(!emitsMaps || pkg.files.includes('src'), 'sourceMap is on but src/ is not in "files"');
});

test('the README says the package is ESM-only', () => {
  assert.match(readFileSync(new URL('README.md', root), 'utf8'), /ESM-only/);
});

test('RosterError is importable from the client entry point, and is the one the client throws', () => {
  assert.equal(RosterError, ProtocolRosterError);
  assert.throws(() => new RegistryClient({ service: 'X', url: 'ftp://nope' }), RosterError);
});

test('the portal serves a favicon, and its pages link it', async (t) => {
  const unused = async (): Promise<never> => assert.fail('not called');
  const app = buildPortalApp({
    grading: { listStudents: async () => [], getStudent: unused, addGrade: unused, addStudent: unused },
    system: { services: async () => [], recentLogs: async () => [] },
  });
  t.after(() => app.close());
  for (const path of ['/favicon.ico', '/favicon.svg']) {
    const icon = await app.inject({ method: 'GET', url: path });
    assert.equal(icon.statusCode, 200, path);
    assert.match(icon.headers['content-type'] as string, /^image\/svg\+xml/);
    assert.match(icon.body, /^<svg /);
  }
  const page = await app.inject({ method: 'GET', url: '/students' });
  assert.match(page.body, /<link rel="icon" href="\/favicon.svg" type="image\/svg\+xml">/);
});
