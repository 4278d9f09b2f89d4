// Every duration among the limits (named …Ms) is taken as the other durations are: a whole number
// of milliseconds, refused beyond what a timer can wait (Node would fire such a timer at once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LIMITS, resolveLimits } from '../../../src/registry/limits.js';
import { MAX_TIMER_MS } from '../../../src/shared/options.js';

const DURATIONS = Object.keys(DEFAULT_LIMITS).filter((name) => name.endsWith('Ms'));

test('limits: the durations are the ones the registry has', () => {
  assert.deepEqual(DURATIONS.sort(), ['headersTimeoutMs', 'requestTimeoutMs', 'subscriberGiveUpMs', 'writeWindowMs']);
});

test('limits: a duration beyond the timer maximum is refused, naming the option', () => {
  for (const name of DURATIONS) {
    assert.throws(() => resolveLimits({ [name]: MAX_TIMER_MS + 1, ...(name === 'headersTimeoutMs' ? { requestTimeoutMs: MAX_TIMER_MS } : {}) }), {
      code: 'INVALID_OPTION',
      message: `option "limits.${name}" must be a whole number of milliseconds ≥ 1`,
    }, name);
  }
});

test('limits: a duration up to the timer maximum is taken', () => {
  const limits = resolveLimits({ requestTimeoutMs: MAX_TIMER_MS, subscriberGiveUpMs: MAX_TIMER_MS, writeWindowMs: MAX_TIMER_MS });
  assert.equal(limits.requestTimeoutMs, MAX_TIMER_MS);
  assert.equal(resolveLimits({ writeWindowMs: 1 }).writeWindowMs, 1);
});
