// The reference docs keep up with the code: every error code is documented.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ErrorCodes } from '../src/protocol/errors.js';

const apiDoc = readFileSync(new URL('../docs/api.md', import.meta.url), 'utf8');

test('every error code appears in docs/api.md with its status', () => {
  for (const [code, { status }] of Object.entries(ErrorCodes)) {
    assert.ok(apiDoc.includes(`\`${code}\``), `docs/api.md does not document ${code}`);
    const row = apiDoc.split('\n').find((line) => line.startsWith(`| \`${code}\``));
    assert.ok(row, `docs/api.md has no table row for ${code}`);
    if (/\| \d{3} \|/.test(row)) assert.ok(row.includes(`| ${status} |`), `docs/api.md gives ${code} another status than ${status}`);
  }
});
