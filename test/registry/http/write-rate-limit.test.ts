// Whom a write counts against: an IPv4 source as it is, an IPv6 source by its /64, so a caller
// with many addresses of one network gets one window, not one per address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sourceKeyOf } from '../../../src/registry/http/write-rate-limit.js';

test('sourceKeyOf: IPv4 addresses (also IPv4-mapped) are counted one by one', () => {
  assert.equal(sourceKeyOf('127.0.0.1'), '127.0.0.1');
  assert.equal(sourceKeyOf('::ffff:10.0.0.7'), '10.0.0.7');
  assert.notEqual(sourceKeyOf('10.0.0.7'), sourceKeyOf('10.0.0.8'));
});

test('sourceKeyOf: IPv6 addresses of one /64 share a key, whatever their spelling', () => {
  const key = sourceKeyOf('2001:db8:1:2::1');
  assert.equal(key, '2001:db8:1:2::/64');
  for (const address of ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:0DB8:0001:0002:0:0:0:9', '2001:db8:1:2::a%eth0', '2001:db8:1:2:0:0:10.0.0.1']) {
    assert.equal(sourceKeyOf(address), key, address);
  }
});

test('sourceKeyOf: other /64 networks get keys of their own', () => {
  assert.equal(sourceKeyOf('2001:db8:1:3::1'), '2001:db8:1:3::/64');
  assert.equal(sourceKeyOf('::1'), '0:0:0:0::/64');
  assert.equal(sourceKeyOf('fe80::1'), 'fe80:0:0:0::/64');
  assert.equal(sourceKeyOf('2001:db8::'), '2001:db8:0:0::/64');
});
