// The one way options are taken: a schema with defaults, validated once, unknown names refused,
// the result frozen, and the first problem named by its full path as the caller wrote it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { durationMs, oneOf, resolveOptions, withMethods } from '../../src/shared/options.js';

const logger = { info() {} };
const schema = z.strictObject({
  intervalMs: durationMs(1).default(3000),
  mode: oneOf(['fast', 'slow']).default('fast'),
  nested: z.strictObject({ retries: z.array(durationMs(0)).default([]) }).prefault({}),
  logger: withMethods<typeof logger>(['info'], 'an object with info()').optional(),
});
const context = { owner: 'the widget' };

test('defaults fill what is left out; the result and what the schema built are frozen, what the caller handed in is not', () => {
  const resolved = resolveOptions(schema, { nested: { retries: [5] }, logger }, context);
  assert.deepEqual({ ...resolved, nested: { ...resolved.nested } }, { intervalMs: 3000, mode: 'fast', nested: { retries: [5] }, logger });
  assert.ok(Object.isFrozen(resolved) && Object.isFrozen(resolved.nested) && Object.isFrozen(resolved.nested.retries));
  assert.equal(resolved.logger, logger);
  assert.ok(!Object.isFrozen(logger));
  assert.deepEqual(resolveOptions(schema, undefined, context).nested, { retries: [] });
});

test('an unknown name is refused with its full path and the names that are known there', () => {
  assert.throws(() => resolveOptions(schema, { intervalMS: 5 }, context), {
    code: 'INVALID_OPTION',
    message: 'option "intervalMS" is not an option of the widget; known: intervalMs, mode, nested, logger',
  });
  assert.throws(() => resolveOptions(schema, { nested: { retry: [] } }, { owner: 'the widget', path: 'widget' }), {
    code: 'INVALID_OPTION',
    message: 'option "widget.nested.retry" is not an option of the widget; known: retries',
  });
});

test('a bad value names the option by its path (list items by index) and says what it must be', () => {
  const cases: Array<[unknown, string]> = [
    [{ intervalMs: 0 }, 'option "intervalMs" must be a whole number of milliseconds ≥ 1'],
    [{ intervalMs: '5' }, 'option "intervalMs" must be a whole number of milliseconds ≥ 1'],
    [{ mode: 'medium' }, 'option "mode" must be "fast" or "slow"'],
    [{ nested: { retries: [1, -1] } }, 'option "nested.retries[1]" must be a whole number of milliseconds ≥ 0'],
    [{ logger: {} }, 'option "logger" must be an object with info()'],
  ];
  for (const [input, message] of cases) assert.throws(() => resolveOptions(schema, input, context), { code: 'INVALID_OPTION', message }, message);
});
