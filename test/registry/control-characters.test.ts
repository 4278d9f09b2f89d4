// A registration holding a control character in any text field (the URLs, the requirements, the
// tags, a metadata key or value however deep) is refused with a 400 naming the field, through both
// protocols, and the catalog stays as it was. The URL parser alone would take some of them: it drops
// tabs and line breaks and percent-encodes ESC, while the text as sent is what is stored and shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry } from '../../src/registry/start-registry.js';
import { bearer } from '../helpers/processes.js';

const URL_OK = 'http://127.0.0.1:7001';
const ESCAPES = '\u001b]0;pwned\u0007\u001b[2J';

const v1Cases: Array<[string, Record<string, unknown>, string]> = [
  ['an instance URL with terminal escapes', { url: `${URL_OK}/${ESCAPES}` }, 'url'],
  ['an instance URL with a tab (the URL parser drops it)', { url: `${URL_OK}/a\tb` }, 'url'],
  ['an instance URL with a NUL', { url: `${URL_OK}/\u0000` }, 'url'],
  ['an update URL with a line break', { updateUrl: `${URL_OK}/services\n` }, 'updateUrl'],
  ['a heartbeat URL with a C1 control', { heartbeatUrl: `${URL_OK}/heartbeat\u009b` }, 'heartbeatUrl'],
  ['a requirement with a NUL', { requires: ['LogService\u0000'] }, 'requires.0'],
  ['a tag with escapes', { metadata: { tags: ['ok', `t${ESCAPES}`] } }, 'metadata.tags.1'],
  ['a version with a NUL', { metadata: { version: '1.0\u0000' } }, 'metadata.version'],
  ['a metadata value with escapes', { metadata: { owner: `team${ESCAPES}` } }, 'metadata.owner'],
  ['a nested metadata value', { metadata: { build: { notes: ['fine', 'bad\u007f'] } } }, 'metadata.build.notes.1'],
  ['a metadata key with a NUL', { metadata: { 'k\u0000': 'v' } }, 'metadata'],
];

test('v1 and course registrations with control characters: 400 naming the field, nothing registered', { timeout: 30_000 }, async (t) => {
  const running = await startRegistry({ host: '127.0.0.1', port: 0 });
  t.after(() => running.close());
  const headers = { ...bearer(running.adminToken!), 'content-type': 'application/json' };
  const revision = running.registry.revision;

  for (const [what, change, field] of v1Cases) {
    const response = await fetch(`${running.url}/v1/instances`, { method: 'POST', headers, body: JSON.stringify({ service: 'Evil', url: URL_OK, ttlMs: 60_000, ...change }) });
    const body = (await response.json()) as { code: string; message: string };
    assert.equal(response.status, 400, `${what}: ${body.message}`);
    assert.equal(body.code, 'INVALID_REQUEST');
    assert.ok(body.message.includes(`"${field}"`), `${what}: ${body.message} names "${field}"`);
    // A service name's pattern (letters, digits, ".", "_", "-") already leaves control characters out.
    assert.match(body.message, /must not contain control characters|hold only letters, digits/);
  }

  const course = { ServiceName: 'Evil', ServiceURL: `${URL_OK}/${ESCAPES}`, RequiredServices: null, ServiceUpdateURL: '', HeartbeatURL: '' };
  for (const [field, registration] of [['ServiceURL', course], ['HeartbeatURL', { ...course, ServiceURL: URL_OK, HeartbeatURL: `${URL_OK}/hb\r\n` }]] as const) {
    const response = await fetch(`${running.url}/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(registration) });
    const text = await response.text();
    assert.equal(response.status, 400, text);
    assert.ok(text.includes(`"${field}" must not contain control characters`), text);
  }

  assert.equal(running.registry.revision, revision, 'nothing changed');
  const state = (await (await fetch(`${running.url}/v1/state`, { headers: bearer(running.adminToken!) })).json()) as { instances: unknown[] };
  assert.equal(state.instances.length, 0);
});
