import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { RosterError } from '../../../src/protocol/errors.js';
import type { Clock } from '../../../src/shared/clock.js';
import {
  DEFAULT_HEALTH_OPTIONS,
  HealthChecker,
  type HealthEvent,
  type HealthOptions,
  type HealthTarget,
} from '../../../src/registry/health/health-checker.js';
import type { Prober } from '../../../src/registry/health/prober.js';
import { FakeClock } from '../../helpers/fake-clock.js';

// ---- a prober whose answers the test scripts per URL ----

/** 'pass' / 'fail' answer at once; 'hang' waits until aborted; a number passes after that many ms. */
type Answer = 'pass' | 'fail' | 'hang' | number;

interface Call {
  url: string;
  at: number;
  signal: AbortSignal;
}

class FakeProber {
  readonly calls: Call[] = [];
  readonly #scripts = new Map<string, Answer[]>();

  constructor(readonly clock: Clock) {}

  /** Answers for the next calls to `url`, in order; the last one repeats. */
  script(url: string, ...answers: Answer[]): void {
    this.#scripts.set(url, answers);
  }

  callsTo(url: string, since = 0): number[] {
    return this.calls.filter((call) => call.url === url).map((call) => call.at - since);
  }

  probe: Prober = (url, signal) => {
    this.calls.push({ url, at: this.clock.now(), signal });
    const answer = this.#next(url);
    if (answer === 'pass') return Promise.resolve();
    if (answer === 'fail') return Promise.reject(new Error('answered HTTP 503'));
    return new Promise((resolve, reject) => {
      const timer = answer === 'hang' ? null : this.clock.setTimeout(resolve, answer);
      signal.addEventListener('abort', () => {
        if (timer !== null) this.clock.clearTimeout(timer);
        reject(new Error('aborted'));
      });
    });
  };

  #next(url: string): Answer {
    const answers = this.#scripts.get(url) ?? ['pass'];
    return answers.length > 1 ? answers.shift()! : answers[0]!;
  }
}

// ---- setup ----

const A = 'http://127.0.0.1:4001/heartbeat';
const B = 'http://127.0.0.1:4002/heartbeat';

// jitter 0 and random 0 make every time exact: first round at once, then every intervalMs.
const EXACT: Partial<HealthOptions> = { jitter: 0 };

interface Setup {
  clock: FakeClock;
  t0: number;
  prober: FakeProber;
  checker: HealthChecker;
  events: HealthEvent[];
  /** Events as [type, id, ms since t0], plus the reason of a `critical`. */
  changes(): unknown[][];
  /** `checked` events of one id as [ms since t0, latency, error]. */
  checks(id: string): unknown[][];
}

function setup(t: TestContext, options: Partial<HealthOptions> = {}, random: () => number = () => 0): Setup {
  const clock = new FakeClock();
  const t0 = clock.now();
  const prober = new FakeProber(clock);
  const events: HealthEvent[] = [];
  const checker = new HealthChecker({
    probe: prober.probe,
    onEvent: (event) => events.push(event),
    clock,
    options: { ...EXACT, ...options },
    random,
  });
  t.after(() => checker.close());
  const changes = () =>
    events
      .filter((e) => e.type !== 'checked')
      .map((e) => (e.type === 'critical' ? [e.type, e.id, e.at - t0, e.reason] : [e.type, e.id, e.at - t0]));
  const checks = (id: string) =>
    events.flatMap((e) => (e.type === 'checked' && e.id === id ? [[e.at - t0, e.latencyMs, e.error]] : []));
  return { clock, t0, prober, checker, events, changes, checks };
}

function heartbeat(id: string, url: string, extra: Partial<HealthTarget> = {}): HealthTarget {
  return { id, heartbeatUrl: url, ttlMs: null, health: 'passing', ...extra };
}

function ttl(id: string, ttlMs: number | null, extra: Partial<HealthTarget> = {}): HealthTarget {
  return { id, heartbeatUrl: null, ttlMs, health: 'passing', ...extra };
}

/** Moves the clock to `ms` after t0. */
async function at(s: Setup, ms: number): Promise<void> {
  await s.clock.tick(s.t0 + ms - s.clock.now());
}

// ---- options ----

test('DEFAULT_HEALTH_OPTIONS are the documented defaults and frozen', () => {
  assert.deepEqual(DEFAULT_HEALTH_OPTIONS, {
    intervalMs: 3000,
    jitter: 0.1,
    timeoutMs: 1000,
    attempts: 3,
    retryDelayMs: 1000,
    graceMs: 60_000,
    defaultTtlMs: 15_000,
  });
  assert.ok(Object.isFrozen(DEFAULT_HEALTH_OPTIONS));
});

test('options are merged over the defaults and frozen', () => {
  const checker = new HealthChecker({ probe: async () => {}, onEvent: () => {}, options: { attempts: 5, graceMs: undefined } });
  assert.equal(checker.options.attempts, 5);
  assert.equal(checker.options.graceMs, 60_000);
  assert.ok(Object.isFrozen(checker.options));
});

test('bad options are rejected at construction with a message naming the option', () => {
  const bad: [Partial<HealthOptions> & Record<string, unknown>, string][] = [
    [{ intervalMs: 0 }, 'intervalMs'],
    [{ intervalMs: Number.NaN }, 'intervalMs'],
    [{ jitter: 1 }, 'jitter'],
    [{ jitter: -0.1 }, 'jitter'],
    [{ timeoutMs: 0 }, 'timeoutMs'],
    [{ timeoutMs: 2 ** 31 }, 'timeoutMs'],
    [{ attempts: 0 }, 'attempts'],
    [{ attempts: 1.5 }, 'attempts'],
    [{ retryDelayMs: -1 }, 'retryDelayMs'],
    [{ graceMs: Number.POSITIVE_INFINITY }, 'graceMs'],
    [{ defaultTtlMs: 0 }, 'defaultTtlMs'],
    [{ intervalMs: '3000' as unknown as number }, 'intervalMs'],
    [{ intervalMS: 3000 }, 'intervalMS'],
  ];
  for (const [options, name] of bad) {
    assert.throws(
      () => new HealthChecker({ probe: async () => {}, onEvent: () => {}, options }),
      (err: unknown) => err instanceof RosterError && err.code === 'INVALID_OPTION' && err.message.includes(`"${name}"`),
      `expected ${JSON.stringify(options)} to be rejected`,
    );
  }
});

// ---- timers ----

test('no timer exists and nothing is probed while nothing is tracked', async (t) => {
  const s = setup(t);
  assert.equal(s.clock.pending, 0);
  await s.clock.tick(60_000);
  assert.equal(s.prober.calls.length, 0);
  assert.equal(s.events.length, 0);
  s.checker.track(heartbeat('a', A));
  s.checker.untrack('a');
  assert.equal(s.clock.pending, 0);
  assert.equal(s.checker.size, 0);
});

test('the first round starts after a random part of the interval, then every interval shortened by up to the jitter', async (t) => {
  const randoms = [0.5, 1, 0, 0.5];
  const s = setup(t, { jitter: 0.1 }, () => randoms.shift() ?? 0.5);
  s.checker.track(heartbeat('a', A));
  await at(s, 20_000);
  // first at 0.5 × 3000; then 3000 × 0.9, 3000 × 1.0, 3000 × 0.95 after each round ends: never
  // longer than the interval, so the detection bound holds whatever the jitter.
  assert.deepEqual(s.prober.callsTo(A, s.t0).slice(0, 4), [1500, 4200, 7200, 10_050]);
});

// ---- heartbeat rounds ----

test('one failed probe is not a removal: the retry passes and only `checked` events are sent', async (t) => {
  const s = setup(t);
  s.prober.script(A, 'fail', 'pass');
  s.checker.track(heartbeat('a', A));
  await at(s, 4000);
  assert.deepEqual(s.checks('a'), [
    [0, 0, 'answered HTTP 503'],
    [1000, 0, null],
    [4000, 0, null], // next round: intervalMs after the round ended at 1000
  ]);
  assert.deepEqual(s.changes(), []);
  assert.equal(s.checker.size, 1);
});

test('a round turns critical only after all attempts fail, and says so once', async (t) => {
  const s = setup(t);
  s.prober.script(A, 'fail');
  s.checker.track(heartbeat('a', A));
  await at(s, 1999);
  assert.deepEqual(s.changes(), []);
  await at(s, 2000);
  assert.deepEqual(s.changes(), [['critical', 'a', 2000, 'answered HTTP 503']]);
  await at(s, 8000);
  // the critical instance keeps being probed: rounds at 0 and 5000, three attempts each
  assert.deepEqual(s.prober.callsTo(A, s.t0), [0, 1000, 2000, 5000, 6000, 7000]);
  assert.equal(s.changes().length, 1);
});

test('`attempts` and `retryDelayMs` shape the round', async (t) => {
  const s = setup(t, { attempts: 2, retryDelayMs: 250 });
  s.prober.script(A, 'fail');
  s.checker.track(heartbeat('a', A));
  await at(s, 3250);
  assert.deepEqual(s.prober.callsTo(A, s.t0), [0, 250, 3250]);
  assert.deepEqual(s.changes(), [['critical', 'a', 250, 'answered HTTP 503']]);
});

test('a critical instance whose round passes turns passing again', async (t) => {
  const s = setup(t);
  s.prober.script(A, 'fail', 'fail', 'fail', 'pass');
  s.checker.track(heartbeat('a', A));
  await at(s, 5000);
  assert.deepEqual(s.changes(), [
    ['critical', 'a', 2000, 'answered HTTP 503'],
    ['passing', 'a', 5000],
  ]);
  await at(s, 120_000);
  assert.equal(s.changes().length, 2, 'recovery cancels the grace period');
  assert.equal(s.checker.size, 1);
});

test('latency is measured on the clock', async (t) => {
  const s = setup(t);
  s.prober.script(A, 300);
  s.checker.track(heartbeat('a', A));
  await at(s, 300);
  assert.deepEqual(s.checks('a'), [[300, 300, null]]);
});

test('a hung probe times out after timeoutMs and does not delay another instance', async (t) => {
  const s = setup(t);
  s.prober.script(A, 'hang');
  s.prober.script(B, 'pass');
  s.checker.track(heartbeat('a', A));
  s.checker.track(heartbeat('b', B));
  await at(s, 6000);
  assert.deepEqual(s.checks('a'), [
    [1000, 1000, 'timed out after 1000 ms'],
    [3000, 1000, 'timed out after 1000 ms'],
    [5000, 1000, 'timed out after 1000 ms'],
  ]);
  assert.deepEqual(s.prober.callsTo(B, s.t0), [0, 3000, 6000]);
  assert.deepEqual(s.changes(), [['critical', 'a', 5000, 'timed out after 1000 ms']]);
  assert.ok(s.prober.calls.filter((c) => c.url === A).every((c) => c.signal.aborted), 'timed-out probes are aborted');
});

// ---- grace ----

test('an instance critical for graceMs expires exactly then, once, and is untracked', async (t) => {
  const s = setup(t);
  s.prober.script(A, 'fail');
  s.checker.track(heartbeat('a', A));
  await at(s, 61_999);
  assert.deepEqual(s.changes(), [['critical', 'a', 2000, 'answered HTTP 503']]);
  await at(s, 62_000);
  assert.deepEqual(s.changes().at(-1), ['expired', 'a', 62_000]);
  const probes = s.prober.calls.length;
  await at(s, 200_000);
  assert.equal(s.changes().filter(([type]) => type === 'expired').length, 1);
  assert.equal(s.prober.calls.length, probes, 'no probe after expiry');
  assert.equal(s.checker.size, 0);
  assert.equal(s.clock.pending, 0);
});

test('the grace period restarts when an instance recovers and fails again', async (t) => {
  const s = setup(t);
  s.prober.script(A, 'fail', 'fail', 'fail', 'pass', 'fail');
  s.checker.track(heartbeat('a', A));
  await at(s, 62_000);
  assert.deepEqual(s.changes(), [
    ['critical', 'a', 2000, 'answered HTTP 503'],
    ['passing', 'a', 5000],
    ['critical', 'a', 10_000, 'answered HTTP 503'],
  ]);
  await at(s, 69_999);
  assert.equal(s.checker.size, 1);
  await at(s, 70_000);
  assert.deepEqual(s.changes().at(-1), ['expired', 'a', 70_000]);
});

test('a target restored critical expires graceMs after its criticalSince', async (t) => {
  const s = setup(t);
  s.prober.script(A, 'fail');
  s.checker.track(heartbeat('a', A, { health: 'critical', criticalSince: s.t0 - 50_000 }));
  s.checker.track(ttl('t', 5000, { health: 'critical', criticalSince: s.t0 - 55_000 }));
  await at(s, 4999);
  assert.deepEqual(s.changes(), [], 'no new critical event for an instance already critical');
  await at(s, 5000);
  assert.deepEqual(s.changes(), [['expired', 't', 5000]]);
  await at(s, 10_000);
  assert.deepEqual(s.changes(), [['expired', 't', 5000], ['expired', 'a', 10_000]]);
  assert.equal(s.clock.pending, 0);
});

test('a target restored critical long ago expires at once; one that passes recovers', async (t) => {
  const s = setup(t, {}, () => 0.5);
  s.prober.script(B, 'pass');
  s.checker.track(ttl('old', null, { health: 'critical', criticalSince: s.t0 - 600_000 }));
  s.checker.track(heartbeat('b', B, { health: 'critical', criticalSince: null }));
  await s.clock.tick(0);
  assert.deepEqual(s.changes(), [['expired', 'old', 0]]);
  await at(s, 1500);
  assert.deepEqual(s.changes().at(-1), ['passing', 'b', 1500]);
  await at(s, 100_000);
  assert.equal(s.checker.size, 1);
});

// ---- TTL mode ----

test('a TTL instance without renewal turns critical after its ttl, then expires after graceMs', async (t) => {
  const s = setup(t);
  s.checker.track(ttl('t', 5000));
  await at(s, 4999);
  assert.deepEqual(s.changes(), []);
  await at(s, 5000);
  assert.deepEqual(s.changes(), [['critical', 't', 5000, 'no renewal within 5000 ms']]);
  await at(s, 65_000);
  assert.deepEqual(s.changes().at(-1), ['expired', 't', 65_000]);
  assert.equal(s.prober.calls.length, 0, 'TTL mode never probes');
  assert.equal(s.clock.pending, 0);
});

test('a TTL instance without ttlMs uses defaultTtlMs', async (t) => {
  const s = setup(t, { defaultTtlMs: 7000 });
  s.checker.track(ttl('t', null));
  await at(s, 7000);
  assert.deepEqual(s.changes(), [['critical', 't', 7000, 'no renewal within 7000 ms']]);
});

test('renew before the TTL keeps the instance passing and restarts the TTL', async (t) => {
  const s = setup(t);
  s.checker.track(ttl('t', 5000));
  await at(s, 4000);
  assert.equal(s.checker.renew('t'), true);
  await at(s, 8999);
  assert.deepEqual(s.changes(), []);
  await at(s, 9000);
  assert.deepEqual(s.changes(), [['critical', 't', 9000, 'no renewal within 5000 ms']]);
});

test('renew of a critical TTL instance turns it passing and cancels its expiry', async (t) => {
  const s = setup(t);
  s.checker.track(ttl('t', 5000));
  await at(s, 64_000);
  assert.equal(s.checker.renew('t'), true);
  assert.deepEqual(s.changes(), [
    ['critical', 't', 5000, 'no renewal within 5000 ms'],
    ['passing', 't', 64_000],
  ]);
  await at(s, 68_999);
  assert.equal(s.changes().length, 2);
  await at(s, 69_000);
  assert.deepEqual(s.changes().at(-1), ['critical', 't', 69_000, 'no renewal within 5000 ms']);
  await at(s, 128_999);
  assert.equal(s.checker.size, 1, 'the grace period counts from the new criticalSince');
  await at(s, 129_000);
  assert.deepEqual(s.changes().at(-1), ['expired', 't', 129_000]);
});

test('the TTL counts from lastRenewAt when given', async (t) => {
  const s = setup(t);
  s.checker.track(ttl('t', 5000, { lastRenewAt: s.t0 - 3000 }));
  await at(s, 2000);
  assert.deepEqual(s.changes(), [['critical', 't', 2000, 'no renewal within 5000 ms']]);
});

test('renew is false for an unknown id and for a heartbeat target', (t) => {
  const s = setup(t);
  s.checker.track(heartbeat('a', A));
  assert.equal(s.checker.renew('nobody'), false);
  assert.equal(s.checker.renew('a'), false);
});

// ---- tracking, untracking, closing ----

test('track of a tracked id replaces its settings and restarts its timers', async (t) => {
  const s = setup(t);
  s.checker.track(ttl('x', 5000));
  await at(s, 4000);
  s.checker.track(heartbeat('x', A));
  assert.equal(s.checker.size, 1);
  assert.equal(s.clock.pending, 1, 'only the new round timer remains');
  await at(s, 10_000);
  assert.deepEqual(s.changes(), [], 'the old TTL no longer applies');
  assert.deepEqual(s.prober.callsTo(A, s.t0), [4000, 7000, 10_000]);
  s.checker.track(ttl('x', 1000));
  await at(s, 11_000);
  assert.deepEqual(s.changes(), [['critical', 'x', 11_000, 'no renewal within 1000 ms']]);
});

test('untrack aborts the in-flight probe, sends nothing more and leaves no timer', async (t) => {
  const s = setup(t);
  s.prober.script(A, 'hang');
  s.checker.track(heartbeat('a', A));
  s.checker.track(ttl('t', 5000));
  await at(s, 500);
  s.checker.untrack('a');
  s.checker.untrack('t');
  s.checker.untrack('t');
  assert.equal(s.prober.calls[0]?.signal.aborted, true);
  assert.equal(s.clock.pending, 0);
  await at(s, 100_000);
  assert.deepEqual(s.events, []);
  assert.equal(s.checker.size, 0);
});

test('close aborts probes, clears every timer, is idempotent and refuses new targets', async (t) => {
  const s = setup(t);
  s.prober.script(A, 'hang');
  s.prober.script(B, 'fail');
  s.checker.track(heartbeat('a', A));
  s.checker.track(heartbeat('b', B));
  s.checker.track(ttl('t', 5000));
  await at(s, 2500); // a hung in its retry, b critical with a grace timer, t waiting for renewal
  await s.checker.close();
  await s.checker.close();
  assert.equal(s.clock.pending, 0);
  assert.equal(s.checker.size, 0);
  assert.ok(s.prober.calls.every((call) => call.signal.aborted || call.url === B));
  const before = s.events.length;
  await at(s, 100_000);
  assert.equal(s.events.length, before);
  assert.throws(() => s.checker.track(ttl('t', 5000)), { code: 'REGISTRY_STOPPING' });
});

test('a throwing onEvent does not stop the checker', async (t) => {
  const clock = new FakeClock();
  const prober = new FakeProber(clock);
  prober.script(A, 'fail');
  let calls = 0;
  const checker = new HealthChecker({
    probe: prober.probe,
    onEvent: () => {
      calls++;
      throw new Error('listener bug');
    },
    clock,
    options: EXACT,
    random: () => 0,
  });
  t.after(() => checker.close());
  checker.track(heartbeat('a', A));
  await clock.tick(62_000);
  assert.equal(checker.size, 0, 'still expired on time');
  // one `checked` per probe, plus one critical and one expired
  assert.equal(calls, prober.calls.length + 2);
  assert.equal(clock.pending, 0);
});

test('a listener may untrack from inside an event', async (t) => {
  const clock = new FakeClock();
  const prober = new FakeProber(clock);
  prober.script(A, 'fail');
  const checker: HealthChecker = new HealthChecker({
    probe: prober.probe,
    onEvent: (event) => {
      if (event.type === 'critical') checker.untrack(event.id);
    },
    clock,
    options: EXACT,
    random: () => 0,
  });
  t.after(() => checker.close());
  checker.track(heartbeat('a', A));
  await clock.tick(2000);
  assert.equal(checker.size, 0);
  assert.equal(clock.pending, 0);
  await clock.tick(10_000);
  assert.equal(prober.calls.length, 3);
});

test('a bad ttlMs is refused', (t) => {
  const s = setup(t);
  assert.throws(() => s.checker.track(ttl('t', 0)), { code: 'INVALID_REQUEST' });
  assert.equal(s.checker.size, 0);
});
