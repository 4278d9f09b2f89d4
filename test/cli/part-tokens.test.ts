// The tokens `roster up` makes for its parts: made once, private, hashed in the tokens file,
// reused on every later start, and never at the expense of entries someone else wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePartTokens } from '../../src/cli/part-tokens.js';
import { scratchDir } from '../helpers/processes.js';

const PARTS = [
  { name: 'log', service: 'LogService' },
  { name: 'grading', service: 'GradingService' },
];

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const mode = (path: string): number => statSync(path).mode & 0o777;
const readTokens = (dir: string) => JSON.parse(readFileSync(join(dir, 'tokens.json'), 'utf8')) as { tokens: Array<Record<string, unknown>> };

test('first start: a private data folder, one secret file per part, their hashes in tokens.json', async (t) => {
  const dir = join(scratchDir(t), 'data');
  const { tokensFile, secrets } = await ensurePartTokens(dir, PARTS);

  assert.equal(tokensFile, join(dir, 'tokens.json'));
  assert.equal(mode(dir), 0o700);
  assert.equal(mode(tokensFile), 0o600);
  for (const { name } of PARTS) {
    const secret = secrets.get(name)!;
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(readFileSync(join(dir, `${name}.token`), 'utf8').trim(), secret);
    assert.equal(mode(join(dir, `${name}.token`)), 0o600);
  }
  assert.notEqual(secrets.get('log'), secrets.get('grading'));
  assert.deepEqual(readTokens(dir).tokens, [
    { name: 'log', sha256: sha256(secrets.get('log')!), scopes: ['register'], services: ['LogService'] },
    { name: 'grading', sha256: sha256(secrets.get('grading')!), scopes: ['register'], services: ['GradingService'] },
  ]);
  assert.ok(!readFileSync(tokensFile, 'utf8').includes(secrets.get('log')!), 'no secret in the tokens file');
});

test('a later start reuses the secrets and leaves the tokens file untouched', async (t) => {
  const dir = scratchDir(t);
  const first = await ensurePartTokens(dir, PARTS);
  const text = readFileSync(first.tokensFile, 'utf8');
  const { mtimeMs } = statSync(first.tokensFile);

  const second = await ensurePartTokens(dir, PARTS);
  assert.deepEqual([...second.secrets], [...first.secrets]);
  assert.equal(readFileSync(second.tokensFile, 'utf8'), text);
  assert.equal(statSync(second.tokensFile).mtimeMs, mtimeMs, 'not rewritten: the registry would reload it for nothing');
});

test("entries of others are kept; a part's lost secret is made again and its entry replaced", async (t) => {
  const dir = scratchDir(t);
  const first = await ensurePartTokens(dir, PARTS);
  const ci = { name: 'ci', sha256: sha256('ci secret'), scopes: ['read'] };
  const tokens = readTokens(dir);
  writeFileSync(first.tokensFile, JSON.stringify({ tokens: [ci, ...tokens.tokens] }));
  rmSync(join(dir, 'grading.token'));

  const second = await ensurePartTokens(dir, PARTS);
  assert.equal(second.secrets.get('log'), first.secrets.get('log'));
  assert.notEqual(second.secrets.get('grading'), first.secrets.get('grading'));
  assert.deepEqual(readTokens(dir).tokens.map((entry) => [entry.name, entry.sha256]), [
    ['ci', ci.sha256],
    ['log', sha256(first.secrets.get('log')!)],
    ['grading', sha256(second.secrets.get('grading')!)],
  ]);
});

test('secret files others could read are narrowed to their owner', async (t) => {
  const dir = scratchDir(t);
  await ensurePartTokens(dir, PARTS);
  chmodSync(join(dir, 'log.token'), 0o644);
  await ensurePartTokens(dir, PARTS);
  assert.equal(mode(join(dir, 'log.token')), 0o600);
});

test('a tokens file that is not JSON, or not tokens, stops the start with a message naming it', async (t) => {
  const dir = scratchDir(t);
  const file = join(dir, 'tokens.json');
  writeFileSync(file, '{ oops');
  await assert.rejects(ensurePartTokens(dir, PARTS), (error: Error) => error.message.startsWith(`the tokens file ${file} is not valid JSON`));
  writeFileSync(file, JSON.stringify({ tokens: [{ sha256: 'x' }] }));
  await assert.rejects(ensurePartTokens(dir, PARTS), (error: Error) => error.message.startsWith(`the tokens file ${file} must hold`));
  assert.equal(readFileSync(file, 'utf8'), JSON.stringify({ tokens: [{ sha256: 'x' }] }), 'left as it was');
});
