// The reference docs keep up with the code: every error code is documented, and every documented
// code exists (as fastify's test/internals/errors.test.js checks its own).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ErrorCodes } from '../src/protocol/errors.js';

const apiDoc = readFileSync(new URL('../docs/api.md', import.meta.url), 'utf8');

/** The rows of the tables under "## Error codes", by code: the status column when the table has one. */
function documentedCodes(doc: string): Map<string, number | undefined> {
  const section = doc.split(/^## Error codes$/m)[1]?.split(/^## /m)[0] ?? '';
  const rows = new Map<string, number | undefined>();
  for (const match of section.matchAll(/^\| `([A-Z_]+)` \|(?: (\d{3}) \|)?/gm)) {
    rows.set(match[1] as string, match[2] === undefined ? undefined : Number(match[2]));
  }
  return rows;
}

const documented = documentedCodes(apiDoc);

test('docs/api.md has an "Error codes" section with tables', () => {
  assert.ok(documented.size > 0, 'no error code rows found under "## Error codes" in docs/api.md');
});

test('every error code has a row in docs/api.md\'s error tables, with its status', () => {
  for (const [code, { status }] of Object.entries(ErrorCodes)) {
    assert.ok(documented.has(code), `docs/api.md's "Error codes" tables have no row for ${code}`);
    const documentedStatus = documented.get(code);
    if (documentedStatus !== undefined) assert.equal(documentedStatus, status, `docs/api.md gives ${code} another status than ${status}`);
  }
});

test('every code documented in docs/api.md\'s error tables exists', () => {
  for (const code of documented.keys()) {
    assert.ok(Object.hasOwn(ErrorCodes, code), `docs/api.md documents ${code}, which ErrorCodes does not have`);
  }
});

test('every limit has a row in docs/operations.md giving its default', async () => {
  const { DEFAULT_LIMITS } = await import('../src/registry/limits.js');
  const operationsDoc = readFileSync(new URL('../docs/operations.md', import.meta.url), 'utf8');
  for (const [name, value] of Object.entries(DEFAULT_LIMITS)) {
    const row = operationsDoc.match(new RegExp(`^\\| \`${name}\` \\| ([^|]+) \\|`, 'm'));
    assert.ok(row, `docs/operations.md has no row for the limit ${name}`);
    const documented = Number((row[1] as string).trim().split(' ')[0]?.replaceAll(',', ''));
    assert.equal(documented, value, `docs/operations.md gives ${name} another default than ${value}`);
  }
});
