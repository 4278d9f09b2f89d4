import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { answerEvery, SessionTracker, type SessionConnection } from '../../../src/registry/health/sessions.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const OPTIONS = { sessionPingMs: 1000, sessionStallMs: 3000, sessionGraceMs: 500, sessionRestoreGraceMs: 5000 };

interface Change {
  id: string;
  alive: boolean;
  reason: string;
  at: number;
}

function setup(t: TestContext) {
  const clock = new FakeClock();
  const start = clock.now();
  const changes: Change[] = [];
  const tracker = new SessionTracker({ clock, options: OPTIONS, onChange: (id, alive, reason) => changes.push({ id, alive, reason, at: clock.now() - start }) });
  t.after(() => tracker.close());
  // A function, so that an earlier assertion on `changes` does not narrow its type.
  const reason = (index: number): string => changes[index]?.reason ?? '';
  return { clock, tracker, changes, start, reason };
}

/** A stream whose pings are counted and which can be made to back up. */
function connection() {
  const stream = { pings: 0, backedUp: false, cut: null as string | null };
  const handle: SessionConnection = {
    ping: () => {
      if (stream.backedUp) return false;
      stream.pings++;
      return true;
    },
    cut: (reason) => {
      stream.cut = reason;
    },
  };
  return { stream, handle };
}

test('a connected session whose pings are answered stays alive, with a ping every sessionPingMs', async (t) => {
  const { clock, tracker, changes } = setup(t);
  tracker.expect('a');
  const { stream, handle } = connection();
  const token = tracker.connect('a', handle);
  for (let second = 0; second < 10; second++) {
    await clock.tick(1000);
    assert.equal(tracker.heard('a', token), true);
  }
  assert.equal(stream.pings, 10);
  assert.equal(tracker.state('a'), 'connected');
  assert.deepEqual(changes, []);
});

test('every second ping asks for an answer (a 3 s stall limit): answering only those keeps the session alive', async (t) => {
  const { clock, tracker, changes } = setup(t);
  tracker.expect('a');
  const asked: boolean[] = [];
  const token = tracker.connect('a', {
    ping: (answer) => {
      asked.push(answer);
      if (answer) queueMicrotask(() => tracker.heard('a', token));
      return true;
    },
    cut: () => {},
  });
  await clock.tick(20_000);
  assert.deepEqual(asked.slice(0, 4), [false, true, false, true]);
  assert.equal(asked.length, 20);
  assert.equal(tracker.state('a'), 'connected');
  assert.deepEqual(changes, []);
});

test('answerEvery leaves a whole ping interval to spare under the stall limit', () => {
  assert.equal(answerEvery({ sessionPingMs: 1000, sessionStallMs: 3000 }), 2);
  assert.equal(answerEvery({ sessionPingMs: 1000, sessionStallMs: 2000 }), 1);
  assert.equal(answerEvery({ sessionPingMs: 1000, sessionStallMs: 1500 }), 1);
  assert.equal(answerEvery({ sessionPingMs: 500, sessionStallMs: 3000 }), 5);
});

test('a closed session turns critical after sessionGraceMs, not before', async (t) => {
  const { clock, tracker, changes, reason } = setup(t);
  tracker.expect('a');
  const token = tracker.connect('a', connection().handle);
  await clock.tick(200);
  tracker.disconnect('a', token);
  assert.equal(tracker.state('a'), 'grace');
  assert.equal(tracker.open, 0);
  await clock.tick(499);
  assert.deepEqual(changes, []);
  await clock.tick(1);
  assert.equal(tracker.state('a'), 'critical');
  assert.deepEqual(changes.map(({ id, alive, at }) => ({ id, alive, at })), [{ id: 'a', alive: false, at: 700 }]);
  assert.match(reason(0), /no new session within 500 ms/);
});

test('a reconnect within the grace keeps the instance alive, and the old stream\'s close is ignored', async (t) => {
  const { clock, tracker, changes } = setup(t);
  tracker.expect('a');
  const first = tracker.connect('a', connection().handle);
  tracker.disconnect('a', first);
  await clock.tick(300);
  const second = tracker.connect('a', connection().handle);
  tracker.disconnect('a', first); // a late close of the first stream
  await clock.tick(1000);
  assert.equal(tracker.heard('a', first), false, 'the first stream is over');
  assert.equal(tracker.heard('a', second), true);
  await clock.tick(1000);
  assert.equal(tracker.state('a'), 'connected');
  assert.deepEqual(changes, []);
});

test('a hung client (no ping answered for sessionStallMs) is cut and turns critical at once', async (t) => {
  const { clock, tracker, changes } = setup(t);
  tracker.expect('a');
  const { stream, handle } = connection();
  const token = tracker.connect('a', handle);
  await clock.tick(1000);
  tracker.heard('a', token);
  await clock.tick(2999);
  assert.deepEqual(changes, []);
  await clock.tick(1);
  assert.equal(tracker.state('a'), 'critical');
  assert.match(stream.cut ?? '', /no ping answered within 3000 ms/);
  assert.deepEqual(changes.map(({ alive, at }) => ({ alive, at })), [{ alive: false, at: 4000 }]);
  assert.equal(tracker.open, 0);
});

test('a stream whose writes back up is cut at the next ping and turns critical', async (t) => {
  const { clock, tracker, changes } = setup(t);
  tracker.expect('a');
  const { stream, handle } = connection();
  const token = tracker.connect('a', handle);
  await clock.tick(1000);
  tracker.heard('a', token);
  stream.backedUp = true;
  await clock.tick(1000);
  assert.equal(tracker.state('a'), 'critical');
  assert.match(stream.cut ?? '', /stopped taking pings/);
  assert.deepEqual(changes.map(({ alive, at }) => ({ alive, at })), [{ alive: false, at: 2000 }]);
});

test('a critical instance that opens a session is alive again', async (t) => {
  const { clock, tracker, changes } = setup(t);
  tracker.expect('a');
  const token = tracker.connect('a', connection().handle);
  tracker.disconnect('a', token);
  await clock.tick(500);
  tracker.connect('a', connection().handle);
  assert.deepEqual(changes.map(({ alive }) => alive), [false, true]);
  assert.equal(tracker.state('a'), 'connected');
});

test('a registered or restored instance has sessionRestoreGraceMs to open its session', async (t) => {
  const { clock, tracker, changes, reason } = setup(t);
  tracker.expect('late');
  tracker.expect('prompt');
  assert.equal(tracker.state('late'), 'waiting');
  await clock.tick(4000);
  tracker.connect('prompt', connection().handle);
  await clock.tick(999);
  assert.deepEqual(changes, []);
  await clock.tick(1);
  assert.deepEqual(changes.map(({ id, alive, at }) => ({ id, alive, at })), [{ id: 'late', alive: false, at: 5000 }]);
  assert.match(reason(0), /no session opened within 5000 ms/);
});

test('an instance restored as critical stays critical, silently, until it connects', async (t) => {
  const { clock, tracker, changes } = setup(t);
  tracker.expect('a', OPTIONS.sessionRestoreGraceMs, true);
  assert.equal(tracker.state('a'), 'critical');
  await clock.tick(60_000);
  assert.deepEqual(changes, []);
  tracker.connect('a', connection().handle);
  assert.deepEqual(changes.map(({ alive }) => alive), [true]);
});

test('registering again while connected keeps the session', async (t) => {
  const { clock, tracker, changes } = setup(t);
  tracker.expect('a');
  const token = tracker.connect('a', connection().handle);
  tracker.expect('a');
  await clock.tick(900);
  assert.equal(tracker.heard('a', token), true);
  assert.equal(tracker.state('a'), 'connected');
  assert.deepEqual(changes, []);
});

test('a second stream replaces the first, which is cut', async (t) => {
  const { tracker } = setup(t);
  tracker.expect('a');
  const first = connection();
  tracker.connect('a', first.handle);
  tracker.connect('a', connection().handle);
  assert.match(first.stream.cut ?? '', /replaced/);
  assert.equal(tracker.open, 1);
});

test('forget() and close() cut streams, clear every timer and report nothing', async (t) => {
  const { clock, tracker, changes } = setup(t);
  tracker.expect('a');
  tracker.expect('b');
  tracker.expect('c');
  const a = connection();
  tracker.connect('a', a.handle);
  tracker.connect('b', connection().handle);
  tracker.forget('a');
  assert.match(a.stream.cut ?? '', /no longer registered/);
  tracker.close();
  tracker.close();
  assert.equal(clock.pending, 0);
  assert.equal(tracker.open, 0);
  await clock.tick(60_000);
  assert.deepEqual(changes, []);
  assert.equal(tracker.state('a'), undefined);
});

test('connect() of an instance the tracker was not told of is a bug, refused', (t) => {
  const { tracker } = setup(t);
  assert.throws(() => tracker.connect('unknown', connection().handle), /not a session instance/);
});
