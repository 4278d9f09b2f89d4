import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capSeries } from '../../src/registry/metrics.js';

test('capSeries keeps every series up to the cap', () => {
  const depths = new Map([['http://a.test/services', 3], ['http://b.test/services', 1]]);
  assert.deepEqual(capSeries(depths, 2), depths);
});

test('beyond the cap the largest keep their label and the rest are summed under "other"', () => {
  const depths = new Map(Array.from({ length: 2_000 }, (_, i) => [`http://10.0.${i >> 8}.${i & 255}:8080/services`, i % 7]));
  depths.set('http://deep.test/services', 500);
  const capped = capSeries(depths, 5);
  assert.equal(capped.size, 5);
  assert.equal(capped.get('http://deep.test/services'), 500);
  const total = (map: Map<string, number>) => [...map.values()].reduce((sum, value) => sum + value, 0);
  assert.equal(total(capped), total(depths), 'nothing is lost, only folded');
  assert.ok(capped.has('other'));
});
