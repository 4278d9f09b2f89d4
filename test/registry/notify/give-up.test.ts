// The registry gives up on a subscriber that has failed for longer than subscriberGiveUpMs, and
// takes it back with one whole patch when it is heard from again (here: its probe passes).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Patch } from '../../../src/protocol/course.js';
import type { Registration } from '../../../src/registry/catalog.js';
import { LimitRejections } from '../../../src/registry/limits.js';
import { Registry } from '../../../src/registry/registry.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const HEALTH = { intervalMs: 3000, jitter: 0, timeoutMs: 1000, attempts: 3, retryDelayMs: 1000, graceMs: 600_000, defaultTtlMs: 15_000 };
const GIVE_UP_MS = 20_000;

function reg(name: string, requires: string[] = []): Registration {
  const url = `http://${name}.test`;
  return { service: name, url, requires, updateUrl: `${url}/services`, heartbeatUrl: `${url}/heartbeat`, ttlMs: null, metadata: {}, protocol: 'v1', owner: null };
}

test('a given-up subscriber gets nothing until its probe passes again, then one whole patch', async (t) => {
  const clock = new FakeClock();
  const down = new Set<string>();
  const received: Patch[] = [];
  const attempts: Patch[] = [];
  const rejections = new LimitRejections();
  const registry = new Registry({
    clock,
    rejections,
    random: () => 0,
    channel: {
      async send(target, patch) {
        if (target !== 'http://grading.test/services') return;
        attempts.push(patch);
        if (down.has(target)) throw new Error('connection refused');
        received.push(patch);
      },
      close: async () => undefined,
    },
    probe: async (url) => {
      if (down.has(url)) throw new Error('connection refused');
    },
    options: { health: HEALTH, initialDeliveryWaitMs: 1000, notify: { retryBaseMs: 1000, retryMaxMs: 4000 }, limits: { subscriberGiveUpMs: GIVE_UP_MS } },
  });
  t.after(() => registry.close());
  const grading = reg('grading', ['log']);
  await registry.register(reg('log'));
  await registry.register(grading);
  assert.equal(received.length, 1);

  // Grading's listener dies: patches and probes to it fail. Log changes meanwhile.
  down.add(grading.updateUrl ?? '');
  down.add(grading.heartbeatUrl ?? '');
  await registry.register({ ...reg('log-b'), service: 'log' });
  await registry.register({ ...reg('log-c'), service: 'log' });
  await clock.tick(GIVE_UP_MS + 5_000);
  assert.equal(new Map(rejections.entries()).get('subscriberGiveUpMs'), 1);
  assert.equal(registry.pendingNotifications(grading.updateUrl ?? ''), 0);

  const tried = attempts.length;
  registry.deregisterByUrl('http://log-c.test');
  const lastLogChange = registry.revision;
  await clock.tick(60_000);
  assert.equal(attempts.length, tried, 'no patch is sent to a given-up subscriber');
  assert.equal(registry.pendingNotifications(grading.updateUrl ?? ''), 0);

  // It comes back: its next probe passes, and it gets the whole picture at once.
  down.clear();
  await clock.tick(HEALTH.intervalMs);
  const whole = received.at(-1);
  assert.deepEqual(whole?.Added.map((entry) => entry.URL).sort(), ['http://log-b.test', 'http://log.test']);
  assert.deepEqual(whole?.Removed, []);
  assert.ok((whole?.Revision ?? 0) >= lastLogChange, 'as of the latest change');
  assert.ok((whole?.PrevRevision ?? 0) > (received[0]?.Revision ?? 0), 'a Roster client sees the gap and reads the state');
  assert.equal(registry.pendingNotifications(grading.updateUrl ?? ''), 0);
});
