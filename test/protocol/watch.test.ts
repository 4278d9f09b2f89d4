// The watch events' schemas: what the registry writes parses back; what does not fit is refused
// with REGISTRY_ERROR naming the event and the field; event types from newer registries are skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWatchEvent, type WatchChange, type WatchSnapshot } from '../../src/protocol/index.js';
import { toView } from '../../src/registry/catalog.js';
import { record } from '../registry/store/store-contract.js';

const passing = toView(record('a', 1));
const critical = toView(record('b', 2, { health: 'critical', criticalSince: 1_700_000_005_000, lastCheckAt: 1_700_000_005_000, lastCheckMs: 12, lastError: 'timed out' }));

test('a snapshot and a change as the registry writes them parse back unchanged', () => {
  const snapshot: WatchSnapshot = { revision: 2, instances: [passing, critical] };
  assert.deepEqual(parseWatchEvent('snapshot', JSON.stringify(snapshot)), { event: 'snapshot', data: snapshot });
  const change: WatchChange = { revision: 2, type: 'critical', instance: critical };
  assert.deepEqual(parseWatchEvent('change', JSON.stringify(change)), { event: 'change', data: change });
});

test('an event type this version does not know is skipped, not refused', () => {
  assert.equal(parseWatchEvent('draining', '{"anything": true}'), null);
});

test('fields a newer registry adds do not break the parse', () => {
  const change = { revision: 3, type: 'passing', instance: { ...passing, zone: 'eu-1' }, origin: 'leader' };
  const parsed = parseWatchEvent('change', JSON.stringify(change));
  assert.equal(parsed?.event, 'change');
  assert.equal(parsed.data.instance.url, passing.url);
});

const malformed: Array<[string, string, string, RegExp]> = [
  ['data that is not JSON', 'change', '{"revision": 1, "ty', /invalid "change" event: its data is not JSON/],
  ['a change of an unknown type', 'change', JSON.stringify({ revision: 1, type: 'exploded', instance: passing }), /invalid "change" event: "type"/],
  ['an instance without a URL', 'change', JSON.stringify({ revision: 1, type: 'passing', instance: { ...passing, url: undefined } }), /"instance\.url"/],
  ['an instance with a bad health', 'snapshot', JSON.stringify({ revision: 1, instances: [{ ...passing, health: 'fine' }] }), /invalid "snapshot" event: "instances\.0\.health"/],
  ['a timestamp that is not ISO text', 'snapshot', JSON.stringify({ revision: 1, instances: [{ ...passing, registeredAt: 1_700_000_000_000 }] }), /"instances\.0\.registeredAt"/],
  ['a negative revision', 'snapshot', JSON.stringify({ revision: -1, instances: [] }), /"revision"/],
  ['a snapshot that is an array', 'snapshot', '[]', /invalid "snapshot" event/],
];

for (const [what, event, data, message] of malformed) {
  test(`a malformed event is refused with REGISTRY_ERROR naming what is wrong: ${what}`, () => {
    assert.throws(() => parseWatchEvent(event, data), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'REGISTRY_ERROR');
      assert.match(error.message, /^the watch stream sent an invalid/);
      assert.match(error.message, message);
      return true;
    });
  });
}
