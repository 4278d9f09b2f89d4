// The first patch after a start is not a missed one: nothing was seen yet, so the client reads the
// registry's state quietly (debug). A gap after that is worth an info line.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { RegistryClient } from '../../src/client/index.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { recordingLogger } from '../helpers/fake-registry.js';

const LOG_A = 'http://127.0.0.1:4001';

function bareClient(t: TestContext) {
  const logger = recordingLogger();
  const client = new RegistryClient({
    service: 'Portal', url: 'http://127.0.0.1:5000', requires: ['LogService'],
    registryUrl: 'http://127.0.0.1:9', registerRetry: false, clock: new FakeClock(), logger,
  });
  t.after(() => client.close());
  return { client, logger };
}

const missed = (lines: readonly string[]) => lines.filter((line) => line.startsWith('missed a patch'));

test('a first patch after start whose PrevRevision is ahead logs at debug, not info', (t) => {
  const { client, logger } = bareClient(t);
  client.applyPatch({ Added: [{ Name: 'LogService', URL: LOG_A }], Removed: [], Revision: 5, PrevRevision: 4 });
  assert.deepEqual(missed(logger.messages('info')), []);
  assert.deepEqual(missed(logger.messages('debug')), ["missed a patch before revision 5 (have 0); reading the registry's state"]);
});

test('a gap once patches have been seen still logs at info', (t) => {
  const { client, logger } = bareClient(t);
  client.applyPatch({ Added: [{ Name: 'LogService', URL: LOG_A }], Removed: [], Revision: 1, PrevRevision: 0 });
  client.applyPatch({ Added: [], Removed: [{ Name: 'LogService', URL: LOG_A }], Revision: 5, PrevRevision: 4 });
  assert.deepEqual(missed(logger.messages('info')), ["missed a patch before revision 5 (have 1); reading the registry's state"]);
});
