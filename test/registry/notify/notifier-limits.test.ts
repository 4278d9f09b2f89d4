// The notifier's bounds: queued bytes per subscriber and in total, and giving up on a subscriber
// that fails for too long. All on the fake clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Patch } from '../../../src/protocol/course.js';
import type { NotificationChannel } from '../../../src/registry/notify/channel.js';
import { LimitRejections, type LimitName } from '../../../src/registry/limits.js';
import { Notifier, patchBytes, type NotifierEvent, type NotifierLimits } from '../../../src/registry/notify/notifier.js';
import { FakeClock } from '../../helpers/fake-clock.js';

/** Targets in `failing` refuse every patch; the others accept it. */
class SwitchChannel implements NotificationChannel {
  readonly failing = new Set<string>();
  readonly calls: Array<{ target: string; patch: Patch }> = [];
  readonly accepted = new Map<string, Patch[]>();

  async send(target: string, patch: Patch): Promise<void> {
    this.calls.push({ target, patch });
    await Promise.resolve();
    if (this.failing.has(target)) throw new Error(`${target} refused`);
    this.accepted.set(target, [...(this.accepted.get(target) ?? []), patch]);
  }

  async close(): Promise<void> {}

  callsTo(target: string): number {
    return this.calls.filter((call) => call.target === target).length;
  }
}

function setup(limits: Partial<NotifierLimits>) {
  const clock = new FakeClock();
  const channel = new SwitchChannel();
  const events: NotifierEvent[] = [];
  const rejections = new LimitRejections();
  const notifier = new Notifier({ channel, clock, limits, rejections, options: { retryBaseMs: 250, retryMaxMs: 1_000 }, random: () => 0.5, onEvent: (e) => events.push(e) });
  const send = (target: string, revision: number) =>
    notifier.enqueue(target, { Added: [{ Name: 'LogService', URL: `http://log.test/${revision}` }], Removed: [], Revision: revision });
  const rejected = (limit: LimitName) => new Map(rejections.entries()).get(limit) ?? 0;
  const ofType = <T extends NotifierEvent['type']>(type: T) => events.filter((e): e is Extract<NotifierEvent, { type: T }> => e.type === type);
  return { clock, channel, notifier, send, rejected, ofType };
}

const A = 'http://a.test/services';
const B = 'http://b.test/services';
const ONE_PATCH = patchBytes(A, { Added: [{ Name: 'LogService', URL: 'http://log.test/10' }], Removed: [] });

/**
 * Plays the patches as Roster's client does (docs/protocol.md): an old revision is ignored, a
 * PrevRevision it has not seen makes it read the whole state, anything else is applied. Fails if a
 * patch would be applied while a revision before it, which the registry sent, never arrived.
 */
function assertNothingMissedSilently(received: Patch[], sent: number[]): void {
  let last = 0;
  for (const patch of received) {
    const revision = patch.Revision ?? 0;
    if (revision <= last) continue;
    if ((patch.PrevRevision ?? 0) > last) {
      last = revision; // repaired from the state
      continue;
    }
    const skipped = sent.filter((r) => r > last && r < revision);
    assert.deepEqual(skipped, [], `revision ${revision} applied on top of ${last} though ${skipped.join(', ')} never arrived`);
    last = revision;
  }
}

test('a failing subscriber never holds more than outboxBytesPerSubscriber; once back it sees the gap', async () => {
  const bound = 10 * ONE_PATCH;
  const { clock, channel, notifier, send, rejected, ofType } = setup({ outboxBytesPerSubscriber: bound });
  channel.failing.add(A);
  const results = [send(A, 1)];
  await clock.tick(0);
  let most = 0;
  for (let revision = 2; revision <= 100; revision++) {
    results.push(send(A, revision));
    most = Math.max(most, notifier.bytesFor(A));
  }
  assert.ok(most <= bound, `held ${most} bytes, bound ${bound}`);
  assert.ok(rejected('outboxBytesPerSubscriber') >= 9, 'each shrink is counted');
  assert.ok(ofType('dropped').every((e) => e.reason === 'overflow'));

  channel.failing.delete(A);
  await clock.tick(1_000);
  const received = channel.accepted.get(A) ?? [];
  assert.equal(received.at(-1)?.Revision, 100, 'the newest revision arrives');
  assert.ok(received.some((p) => p.PrevRevision === p.Revision && p.Added.length === 0), 'a gap marker stands for what was dropped');
  assertNothingMissedSilently(received, Array.from({ length: 100 }, (_, i) => i + 1));
  assert.equal(notifier.bytesFor(A), 0);
  assert.equal(notifier.queuedBytes, 0);
  const settled = await Promise.all(results);
  assert.ok(settled.includes(false) && settled.at(-1) === true);
});

test('one patch bigger than the bound alone becomes a gap marker rather than staying whole', async () => {
  const { clock, channel, notifier, rejected } = setup({ outboxBytesPerSubscriber: 200 });
  const Added = Array.from({ length: 20 }, (_, i) => ({ Name: 'LogService', URL: `http://log.test/${i}` }));
  const delivered = notifier.enqueue(A, { Added, Removed: [], Revision: 7 });
  assert.ok(notifier.bytesFor(A) <= 200);
  await clock.tick(0);
  assert.equal(await delivered, true);
  assert.deepEqual(channel.accepted.get(A), [{ Added: [], Removed: [], Revision: 7, PrevRevision: 7 }]);
  assert.equal(rejected('outboxBytesPerSubscriber'), 1);
});

test('the total bound shrinks the largest queues first; a subscriber that keeps up loses nothing', async () => {
  const total = 40 * ONE_PATCH;
  const { clock, channel, notifier, send, rejected } = setup({ outboxBytesTotal: total });
  const down = ['http://d1.test/services', 'http://d2.test/services', 'http://d3.test/services'];
  for (const target of down) channel.failing.add(target);
  let most = 0;
  for (let revision = 1; revision <= 60; revision++) {
    for (const target of [...down, B]) void send(target, revision);
    most = Math.max(most, notifier.queuedBytes);
    await clock.settle();
  }
  assert.ok(most <= total, `held ${most} bytes in all, bound ${total}`);
  assert.ok(rejected('outboxBytesTotal') > 0);
  assert.equal(rejected('outboxBytesPerSubscriber'), 0);
  assert.deepEqual((channel.accepted.get(B) ?? []).map((p) => [p.Revision, p.PrevRevision]), Array.from({ length: 60 }, (_, i) => [i + 1, i]));
});

test('a subscriber failing longer than subscriberGiveUpMs is given up, and retried again once heard from', async () => {
  const { clock, channel, notifier, send, rejected, ofType } = setup({ subscriberGiveUpMs: 10_000 });
  channel.failing.add(A);
  const first = send(A, 1);
  void send(A, 2);
  await clock.tick(9_000);
  assert.equal(notifier.isGivenUp(A), false, 'not before the bound');
  await clock.tick(2_000);

  assert.equal(notifier.isGivenUp(A), true);
  assert.equal(await first, false);
  assert.deepEqual(ofType('dropped').map((e) => [e.reason, e.revisions]), [['given-up', [1, 2]]]);
  assert.equal(rejected('subscriberGiveUpMs'), 1);
  assert.equal(notifier.pending(A), 0);
  assert.equal(notifier.queuedBytes, 0);
  assert.equal(clock.pending, 0, 'no retry timer is left');

  const attempts = channel.callsTo(A);
  assert.equal(await send(A, 3), false, 'nothing is queued for it meanwhile');
  await clock.tick(600_000);
  assert.equal(channel.callsTo(A), attempts, 'and nothing is sent');
  assert.deepEqual(ofType('skipped').map((e) => e.revision), [3]);
  assert.equal(ofType('enqueued').length, 2, 'a skipped patch is never queued, so never stored');

  channel.failing.delete(A);
  assert.equal(notifier.heardFrom(A), true);
  assert.equal(notifier.heardFrom(A), false, 'only the first word after the give-up asks for a whole patch');
  assert.equal(await send(A, 4), true);
  assert.deepEqual(channel.accepted.get(A), [{ Added: [{ Name: 'LogService', URL: 'http://log.test/4' }], Removed: [], Revision: 4, PrevRevision: 3 }]);
});

test('the give-up counts one unbroken run of failures: a delivery in between starts it afresh', async () => {
  const { clock, channel, notifier, send } = setup({ subscriberGiveUpMs: 10_000 });
  channel.failing.add(A);
  void send(A, 1);
  await clock.tick(8_000);
  channel.failing.delete(A);
  await clock.tick(1_000);
  assert.equal(notifier.pending(A), 0);
  channel.failing.add(A);
  void send(A, 2);
  await clock.tick(8_000);
  assert.equal(notifier.isGivenUp(A), false, '16 s of failures, but never 10 s in a row');
  assert.equal(notifier.pending(A), 1);
});

test('re-registering (retryNow) takes a given-up subscriber back; remove() forgets the give-up', async () => {
  const { clock, channel, notifier, send } = setup({ subscriberGiveUpMs: 1_000 });
  channel.failing.add(A);
  channel.failing.add(B);
  void send(A, 1);
  void send(B, 1);
  await clock.tick(3_000);
  assert.ok(notifier.isGivenUp(A) && notifier.isGivenUp(B));
  notifier.retryNow(A);
  notifier.remove(B);
  assert.equal(notifier.isGivenUp(A), false);
  assert.equal(notifier.isGivenUp(B), false);
  channel.failing.clear();
  assert.equal(await send(A, 2), true);
  assert.equal(await send(B, 2), true);
  assert.equal(channel.accepted.get(B)?.[0]?.PrevRevision, 0, 'a removed subscriber starts afresh');
});
