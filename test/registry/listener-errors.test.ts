// One policy for errors thrown by listeners: reported through the registry's logger, never
// swallowed, never passed to the code that emitted the event, and the other listeners still
// hear it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Registration } from '../../src/registry/catalog.js';
import type { RegistryChange } from '../../src/registry/registry-api.js';
import { Registry } from '../../src/registry/registry.js';
import { emitReporting, silentLogger, type Logger } from '../../src/shared/logger.js';
import { EventEmitter } from 'node:events';

function recordingErrors(): Logger & { reported: Array<{ fields: object | string; message: string | undefined }> } {
  const reported: Array<{ fields: object | string; message: string | undefined }> = [];
  return { ...silentLogger, reported, error: (fields, message) => void reported.push({ fields, message }) };
}

function ttlInstance(service: string, port: number): Registration {
  return { service, url: `http://127.0.0.1:${port}`, requires: [], updateUrl: null, heartbeatUrl: null, ttlMs: 600_000, metadata: {}, protocol: 'v1', owner: null };
}

test('a throwing change listener: the registration succeeds, the next listener hears it, the logger reports it', async (t) => {
  const logger = recordingErrors();
  const registry = new Registry({ channel: { send: async () => undefined, close: async () => undefined }, probe: async () => undefined, logger });
  t.after(() => registry.close(0));
  registry.on('change', () => {
    throw new Error('listener bug');
  });
  const heard: RegistryChange[] = [];
  registry.on('change', (change) => heard.push(change));

  const answer = await registry.register(ttlInstance('Log', 4000));

  assert.equal(answer.created, true);
  assert.deepEqual(heard.map((change) => [change.type, change.instance.service]), [['registered', 'Log']]);
  assert.equal(logger.reported.length, 1);
  assert.match(logger.reported[0]?.message ?? '', /'change' listener threw: listener bug/);
  assert.equal((logger.reported[0]?.fields as { event?: string }).event, 'change');
});

test('emitReporting removes once-listeners as emit does', () => {
  const emitter = new EventEmitter();
  const heard: number[] = [];
  emitter.once('tick', (n: number) => heard.push(n));
  emitReporting(emitter, silentLogger, 'tick', 1);
  emitReporting(emitter, silentLogger, 'tick', 2);
  assert.deepEqual(heard, [1]);
  assert.equal(emitter.listenerCount('tick'), 0);
});
