import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createHttpProber } from '../../src/registry/health/prober.js';
import { HttpChannel } from '../../src/registry/notify/http-channel.js';
import { OriginGate, originOf } from '../../src/registry/origin-gate.js';

/** A task the test finishes by hand. */
function manual() {
  let finish!: () => void;
  let fail!: (error: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  return { task: () => done, finish, fail };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

test('at most `concurrency` tasks run towards one origin; the others wait their turn in order', async () => {
  const gate = new OriginGate({ concurrency: 2, maxWaiting: 10 });
  const tasks = Array.from({ length: 5 }, () => manual());
  const started: number[] = [];
  const runs = tasks.map((t, i) => gate.run(`http://one.test:8080/update/${i}`, new AbortController().signal, () => (started.push(i), t.task())));
  await settle();
  assert.deepEqual(started, [0, 1]);
  assert.equal(gate.active('http://one.test:8080/'), 2);
  assert.equal(gate.waiting('http://one.test:8080/'), 3);
  tasks[1]?.finish();
  await settle();
  assert.deepEqual(started, [0, 1, 2]);
  for (const t of tasks) t.finish();
  await Promise.all(runs);
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  assert.equal(gate.active('http://one.test:8080/'), 0);
});

test('origins are counted apart: scheme, host and port', async () => {
  const gate = new OriginGate({ concurrency: 1, maxWaiting: 0 });
  const held = manual();
  const running = gate.run('http://one.test:8080/a', new AbortController().signal, held.task);
  await Promise.all(['http://one.test:8081/a', 'https://one.test:8080/a', 'http://two.test:8080/a'].map((url) => gate.run(url, new AbortController().signal, async () => {})));
  held.finish();
  await running;
  assert.equal(originOf('http://one.test:8080/a?b'), 'http://one.test:8080');
  assert.equal(originOf('not a url'), 'not a url');
});

test('beyond maxWaiting a request fails at once, names the limit, and is counted', async () => {
  const refused: string[] = [];
  const gate = new OriginGate({ concurrency: 1, maxWaiting: 1, onRefused: (origin) => refused.push(origin) });
  const held = manual();
  const signal = new AbortController().signal;
  const first = gate.run('http://one.test/a', signal, held.task);
  const second = gate.run('http://one.test/b', signal, async () => 'second');
  let ran = false;
  await assert.rejects(gate.run('http://one.test/c', signal, async () => void (ran = true)), /outboundQueuePerOrigin/);
  assert.equal(ran, false);
  assert.deepEqual(refused, ['http://one.test']);
  held.finish();
  await first;
  assert.equal(await second, 'second');
});

test('a request whose signal aborts while it waits leaves the queue without taking a slot', async () => {
  const gate = new OriginGate({ concurrency: 1, maxWaiting: 5 });
  const held = manual();
  const first = gate.run('http://one.test/a', new AbortController().signal, held.task);
  const abort = new AbortController();
  let ran = false;
  const waiting = gate.run('http://one.test/b', abort.signal, async () => void (ran = true));
  abort.abort(new Error('timed out'));
  await assert.rejects(waiting, /timed out/);
  assert.equal(gate.waiting('http://one.test/'), 0);
  await assert.rejects(gate.run('http://one.test/c', abort.signal, async () => {}), /timed out/, 'an aborted signal never waits');
  held.finish();
  await first;
  assert.equal(ran, false);
  assert.equal(gate.active('http://one.test/'), 0);
});

test('a task that fails frees its slot for the next', async () => {
  const gate = new OriginGate({ concurrency: 1, maxWaiting: 5 });
  const held = manual();
  const signal = new AbortController().signal;
  const first = gate.run('http://one.test/a', signal, held.task);
  const next = gate.run('http://one.test/b', signal, async () => 'next');
  held.fail(new Error('refused'));
  await assert.rejects(first, /refused/);
  assert.equal(await next, 'next');
  assert.equal(gate.active('http://one.test/'), 0);
});

test('patches and probes towards one origin share its slots, on real sockets', async (t) => {
  let inFlight = 0;
  let most = 0;
  const held: Array<() => void> = [];
  const arrived = new EventEmitter();
  const server = createServer((req, res) => {
    inFlight += 1;
    most = Math.max(most, inFlight);
    held.push(() => {
      inFlight -= 1;
      res.end();
    });
    arrived.emit('request');
    req.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const gate = new OriginGate({ concurrency: 2, maxWaiting: 10 });
  const channel = new HttpChannel({ gate });
  const prober = createHttpProber({ gate });
  t.after(() => Promise.all([channel.close(), prober.close()]));
  const signal = new AbortController().signal;
  const work = [
    ...[1, 2, 3].map((i) => channel.send(`${origin}/dependent/${i}/services`, { Added: [], Removed: [] }, signal)),
    ...[1, 2, 3].map((i) => prober.probe(`${origin}/instance/${i}/heartbeat`, signal)),
  ];
  for (let answered = 0; answered < 6; answered++) {
    while (held.length < Math.min(2, 6 - answered)) await once(arrived, 'request');
    assert.equal(gate.waiting(origin), Math.max(0, 6 - answered - 2));
    held.shift()?.();
  }
  await Promise.all(work);
  assert.equal(most, 2);
});
