import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Patch } from '../../../src/protocol/course.js';
import { RosterError } from '../../../src/protocol/errors.js';
import type { NotificationChannel } from '../../../src/registry/notify/channel.js';
import {
  DEFAULT_NOTIFIER_OPTIONS,
  Notifier,
  type NotifierEvent,
  type NotifierOptions,
} from '../../../src/registry/notify/notifier.js';
import { FakeClock } from '../../helpers/fake-clock.js';

/**
 * How the fake target answers: `ok` accepts, `fail` refuses, `hang` waits until aborted,
 * `deaf` never settles and ignores its signal, `manual` waits for the test to call `answer`.
 */
type Mode = 'ok' | 'fail' | 'hang' | 'deaf' | 'manual';

interface Call {
  target: string;
  patch: Patch;
  signal: AbortSignal;
  answer: (ok: boolean) => void;
}

class FakeChannel implements NotificationChannel {
  readonly modes = new Map<string, Mode>();
  readonly calls: Call[] = [];
  /** Patches each target accepted, in the order it accepted them. */
  readonly accepted = new Map<string, Patch[]>();
  readonly #inFlight = new Map<string, number>();
  maxInFlightPerTarget = 0;

  send(target: string, patch: Patch, signal: AbortSignal): Promise<void> {
    const inFlight = (this.#inFlight.get(target) ?? 0) + 1;
    this.#inFlight.set(target, inFlight);
    this.maxInFlightPerTarget = Math.max(this.maxInFlightPerTarget, inFlight);
    const promise = new Promise<void>((resolve, reject) => {
      const answer = (ok: boolean): void => {
        if (ok) this.#accept(target, patch);
        if (ok) resolve();
        else reject(new Error(`${target} refused`));
      };
      this.calls.push({ target, patch, signal, answer });
      this.#respond(this.modes.get(target) ?? 'ok', answer, signal, reject);
    });
    const done = (): void => void this.#inFlight.set(target, (this.#inFlight.get(target) ?? 1) - 1);
    promise.then(done, done);
    return promise;
  }

  async close(): Promise<void> {}

  /** Revisions `target` accepted, in order. */
  revisions(target: string): number[] {
    return (this.accepted.get(target) ?? []).map((patch) => patch.Revision ?? -1);
  }

  attemptsAt(target: string): number[] {
    return this.calls.filter((call) => call.target === target).map((call) => call.patch.Revision ?? -1);
  }

  #respond(mode: Mode, answer: (ok: boolean) => void, signal: AbortSignal, reject: (e: unknown) => void): void {
    if (mode === 'ok' || mode === 'fail') queueMicrotask(() => answer(mode === 'ok'));
    if (mode === 'hang') signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  }

  #accept(target: string, patch: Patch): void {
    this.accepted.set(target, [...(this.accepted.get(target) ?? []), patch]);
  }
}

function setup(options: Partial<NotifierOptions> = {}, random = () => 0.5) {
  const clock = new FakeClock();
  const channel = new FakeChannel();
  const events: NotifierEvent[] = [];
  const notifier = new Notifier({ channel, clock, options, random, onEvent: (e) => events.push(e) });
  const send = (target: string, Revision: number) =>
    notifier.enqueue(target, { Added: [{ Name: 'LogService', URL: `http://log/${Revision}` }], Removed: [], Revision });
  const ofType = <T extends NotifierEvent['type']>(type: T) =>
    events.filter((e): e is Extract<NotifierEvent, { type: T }> => e.type === type);
  return { clock, channel, events, notifier, send, ofType };
}

const A = 'http://a.test/services';
const B = 'http://b.test/services';
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('delivers many patches to one subscriber in enqueue order, one at a time', async () => {
  const { clock, channel, notifier, send, ofType } = setup();
  const results = await Promise.all(range(1, 200).map((revision) => send(A, revision)));
  assert.ok(results.every((delivered) => delivered));
  assert.deepEqual(channel.revisions(A), range(1, 200));
  assert.equal(channel.maxInFlightPerTarget, 1);
  assert.deepEqual(ofType('delivered').map((e) => e.revision), range(1, 200));
  assert.equal(notifier.pending(A), 0);
  assert.equal(notifier.targets, 0);
  assert.equal(clock.pending, 0, 'no timer is left once everything is delivered');
});

test('stamps PrevRevision per target, starting again at 0 after remove()', async () => {
  const { channel, notifier, send } = setup();
  await Promise.all([send(A, 5), send(A, 7), send(B, 3), send(A, 12)]);
  notifier.remove(A);
  await send(A, 13);
  const stamps = (target: string) => channel.accepted.get(target)?.map((p) => [p.Revision, p.PrevRevision]);
  assert.deepEqual(stamps(A), [[5, 0], [7, 5], [12, 7], [13, 0]]);
  assert.deepEqual(stamps(B), [[3, 0]]);
  assert.deepEqual(Object.keys(channel.accepted.get(B)?.[0] ?? {}), ['Added', 'Removed', 'Revision', 'PrevRevision']);
});

test('a subscriber that was down gets what it missed, in order, when it comes back', async () => {
  const { clock, channel, send, ofType } = setup({ retryBaseMs: 250, retryMaxMs: 1_000 });
  channel.modes.set(A, 'fail');
  const results = [send(A, 1), send(A, 2), send(A, 3)];
  await clock.tick(0);
  for (const wait of [250, 500, 1_000, 1_000]) {
    const before = channel.calls.length;
    await clock.tick(wait - 1);
    assert.equal(channel.calls.length, before, `no retry before ${wait} ms`);
    await clock.tick(1);
    assert.equal(channel.calls.length, before + 1, `a retry after ${wait} ms`);
  }
  const failed = ofType('failed');
  assert.deepEqual(failed.map((e) => e.retryInMs), [250, 500, 1_000, 1_000, 1_000]);
  assert.deepEqual(failed.map((e) => e.attempt), [1, 2, 3, 4, 5]);
  assert.match(failed[0]?.error ?? '', /refused/);
  assert.deepEqual(channel.attemptsAt(A), [1, 1, 1, 1, 1], 'later patches wait behind the failing one');

  channel.modes.set(A, 'ok');
  await clock.tick(1_000);
  assert.deepEqual(await Promise.all(results), [true, true, true]);
  assert.deepEqual(channel.revisions(A), [1, 2, 3]);
  assert.deepEqual(
    ofType('delivered').map(({ revision, attempts, latencyMs }) => ({ revision, attempts, latencyMs })),
    [
      { revision: 1, attempts: 6, latencyMs: 3_750 },
      { revision: 2, attempts: 1, latencyMs: 3_750 },
      { revision: 3, attempts: 1, latencyMs: 3_750 },
    ],
  );
  assert.equal(clock.pending, 0);
});

test('backoff is jittered by ±20% with the injected random', async () => {
  for (const [random, expected] of [[() => 0, 200], [() => 1, 300]] as const) {
    const { clock, channel, send, ofType } = setup({ retryBaseMs: 250 }, random);
    channel.modes.set(A, 'fail');
    void send(A, 1);
    await clock.tick(0);
    assert.equal(ofType('failed')[0]?.retryInMs, expected);
  }
});

test('a hung target times out after timeoutMs and does not delay another target', async () => {
  const { clock, channel, notifier, send, ofType } = setup({ timeoutMs: 2_000 });
  channel.modes.set(A, 'hang');
  const hung = [send(A, 1), send(A, 2)];
  const others = await Promise.all([send(B, 1), send(B, 2), send(B, 3)]);
  assert.deepEqual(others, [true, true, true], 'B is delivered without moving the clock');
  assert.deepEqual(channel.revisions(B), [1, 2, 3]);
  assert.equal(notifier.pending(A), 2);

  await clock.tick(1_999);
  assert.equal(ofType('failed').length, 0);
  await clock.tick(1);
  const [failure] = ofType('failed');
  assert.equal(failure?.target, A);
  assert.match(failure?.error ?? '', /timed out after 2000 ms/);
  assert.equal(channel.calls.find((call) => call.target === A)?.signal.aborted, true);

  channel.modes.set(A, 'ok');
  await clock.tick(250);
  assert.deepEqual(await Promise.all(hung), [true, true]);
  assert.deepEqual(channel.revisions(A), [1, 2]);
});

test('a channel that ignores its signal still cannot hold a target past the timeout', async () => {
  const { clock, channel, send, ofType } = setup({ timeoutMs: 1_000 });
  channel.modes.set(A, 'deaf');
  const result = send(A, 1);
  await clock.tick(1_000);
  assert.equal(ofType('failed').length, 1);
  channel.modes.set(A, 'ok');
  await clock.tick(250);
  assert.equal(await result, true);
});

test('remove() drops the queue, aborts the send in flight and resolves false', async () => {
  const { clock, channel, notifier, send, ofType } = setup();
  channel.modes.set(A, 'hang');
  const results = [send(A, 1), send(A, 2), send(A, 3)];
  await clock.tick(0);
  notifier.remove(A);
  assert.deepEqual(await Promise.all(results), [false, false, false]);
  assert.equal(channel.calls[0]?.signal.aborted, true);
  assert.deepEqual(ofType('dropped'), [{ type: 'dropped', target: A, count: 3, reason: 'removed', revisions: [1, 2, 3] }]);
  assert.equal(notifier.pending(A), 0);
  assert.equal(notifier.targets, 0);
  await clock.tick(0);
  assert.equal(clock.pending, 0, 'no timeout or retry timer is left behind');
});

test('remove() cancels a waiting retry', async () => {
  const { clock, channel, notifier, send } = setup();
  channel.modes.set(A, 'fail');
  const result = send(A, 1);
  await clock.tick(0);
  assert.equal(clock.pending, 1, 'the retry timer');
  notifier.remove(A);
  assert.equal(await result, false);
  assert.equal(clock.pending, 0);
  await clock.tick(60_000);
  assert.equal(channel.calls.length, 1);
});

test('overflow drops the oldest waiting patches; the receiver sees the PrevRevision gap', async () => {
  const { clock, channel, notifier, send, ofType } = setup({ maxQueue: 3 });
  channel.modes.set(A, 'hang');
  const results = range(1, 6).map((revision) => send(A, revision));
  assert.equal(notifier.pending(A), 4, 'the one in flight plus maxQueue waiting');
  assert.deepEqual(ofType('dropped'), [
    { type: 'dropped', target: A, count: 1, reason: 'overflow', revisions: [2] },
    { type: 'dropped', target: A, count: 1, reason: 'overflow', revisions: [3] },
  ]);
  channel.modes.set(A, 'ok');
  await clock.tick(2_000 + 250);
  assert.deepEqual(await Promise.all(results), [true, false, false, true, true, true]);
  const received = channel.accepted.get(A)?.map((p) => [p.Revision, p.PrevRevision]);
  assert.deepEqual(received, [[1, 0], [4, 3], [5, 4], [6, 5]]);
});

test('retryNow() runs a waiting retry at once, and does nothing while a send is in flight', async () => {
  const { clock, channel, notifier, send } = setup({ retryBaseMs: 10_000, retryMaxMs: 10_000 });
  channel.modes.set(A, 'fail');
  const result = send(A, 1);
  await clock.tick(0);
  channel.modes.set(A, 'manual');
  notifier.retryNow(A);
  notifier.retryNow(A);
  assert.equal(channel.calls.length, 2, 'one retry, not two');
  channel.calls[1]?.answer(true);
  assert.equal(await result, true);
  assert.equal(clock.pending, 0);
  notifier.retryNow(B); // unknown target: no-op
});

test('close() keeps in-flight sends within the grace, aborts the rest and drops the queue', async () => {
  const { clock, channel, notifier, send, ofType } = setup({ timeoutMs: 5_000 });
  const C = 'http://c.test/services';
  channel.modes.set(A, 'manual');
  channel.modes.set(B, 'hang');
  channel.modes.set(C, 'fail');
  const a = [send(A, 1), send(A, 2)];
  const b = send(B, 1);
  const c = send(C, 1);
  await clock.tick(0);

  const closing = notifier.close(1_000);
  assert.equal(notifier.close(), closing, 'idempotent');
  assert.equal(await a[1], false, 'queued patches are dropped at once');
  assert.equal(await c, false, 'a waiting retry is cancelled');
  assert.equal(await send(A, 3), false, 'nothing more is accepted');

  channel.calls.find((call) => call.target === A)?.answer(true);
  assert.equal(await a[0], true, 'an in-flight send may finish within the grace');
  await clock.tick(999);
  assert.equal(channel.calls.find((call) => call.target === B)?.signal.aborted, false);
  await clock.tick(1);
  assert.equal(await b, false);
  await closing;
  assert.equal(channel.calls.find((call) => call.target === B)?.signal.aborted, true);
  assert.equal(notifier.targets, 0);
  assert.equal(clock.pending, 0);
  assert.equal(channel.calls.length, 3, 'no retry after close');
  const closed = ofType('dropped').filter((e) => e.reason === 'closed');
  assert.equal(closed.reduce((sum, e) => sum + e.count, 0), 4);
});

test('close() with nothing in flight resolves without moving the clock', async () => {
  const { notifier } = setup();
  await notifier.close();
});

test('a throwing event listener breaks nothing', async () => {
  const notifier = new Notifier({
    channel: new FakeChannel(),
    clock: new FakeClock(),
    onEvent: () => {
      throw new Error('listener bug');
    },
  });
  assert.equal(await notifier.enqueue(A, { Added: [], Removed: [], Revision: 1 }), true);
});

test('options are validated, named in the error, and frozen', () => {
  const channel = new FakeChannel();
  for (const name of ['timeoutMs', 'retryBaseMs', 'retryMaxMs', 'maxQueue'] as const) {
    for (const bad of [0, -1, 1.5, Number.NaN, Infinity, '5' as unknown as number]) {
      assert.throws(
        () => new Notifier({ channel, options: { [name]: bad } }),
        (error: unknown) =>
          error instanceof RosterError && error.code === 'INVALID_OPTION' && error.message.includes(`"${name}"`),
        `${name} = ${String(bad)}`,
      );
    }
  }
  assert.throws(() => new Notifier({ channel, options: { retryBaseMs: 500, retryMaxMs: 100 } }), /"retryMaxMs"/);
  const notifier = new Notifier({ channel, options: { timeoutMs: 100 } });
  assert.deepEqual(notifier.options, { ...DEFAULT_NOTIFIER_OPTIONS, timeoutMs: 100 });
  assert.ok(Object.isFrozen(notifier.options));
  assert.ok(Object.isFrozen(DEFAULT_NOTIFIER_OPTIONS));
  assert.deepEqual(DEFAULT_NOTIFIER_OPTIONS, { timeoutMs: 2_000, retryBaseMs: 250, retryMaxMs: 30_000, maxQueue: 10_000 });
});
