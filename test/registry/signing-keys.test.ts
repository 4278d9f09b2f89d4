// The per-URL signing keys and the key generator behind them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkSignature, probePayload } from '../../src/protocol/signature.js';
import { nextSigningKey, SigningKeys } from '../../src/registry/signing-keys.js';

test('nextSigningKey: 32 random bytes in base64url, never the same twice across pool refills', () => {
  const keys = new Set(Array.from({ length: 1000 }, () => nextSigningKey()));
  assert.equal(keys.size, 1000);
  for (const key of keys) assert.match(key, /^[A-Za-z0-9_-]{43}$/);
});

test('SigningKeys: the last instance added for a URL signs; removing it hands over; course instances are not kept', () => {
  const keys = new SigningKeys();
  const url = 'http://host:6000/heartbeat?x=1';
  keys.add(url, 'a', 'key-a');
  keys.add(url, 'b', 'key-b');
  keys.add(url, 'course', null);
  const now = 1_000;
  assert.equal(checkSignature('key-b', keys.signProbe(url, now) ?? undefined, probePayload('/heartbeat?x=1'), now), 'valid');
  keys.remove(url, 'b');
  assert.equal(checkSignature('key-a', keys.sign(url, 'body', now) ?? undefined, 'body', now), 'valid');
  keys.add(url, 'a', 'key-a2');
  assert.equal(checkSignature('key-a2', keys.sign(url, 'body', now) ?? undefined, 'body', now), 'valid');
  keys.remove(url, 'a');
  keys.remove(url, 'course');
  assert.equal(keys.sign(url, 'body', now), null);
  assert.equal(keys.signProbe(url, now), null);
});
