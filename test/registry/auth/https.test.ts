// The registry over HTTPS, with a throwaway CA made by openssl: a client that trusts the CA
// connects; one that does not, cannot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { startRegistry } from '../../../src/registry/start-registry.js';
import { makePki } from '../../helpers/pki.js';

test('with tls.cert and tls.key the registry serves HTTPS; a client trusting the CA reads it', async (t) => {
  const pki = makePki(t);
  const running = await startRegistry({ host: '127.0.0.1', port: 0, tls: { cert: pki.cert, key: pki.key } });
  t.after(() => running.close());
  assert.match(running.url, /^https:\/\/127\.0\.0\.1:\d+$/);

  const trusting = new Agent({ connect: { ca: readFileSync(pki.ca) } });
  t.after(() => trusting.close());
  const health = await request(`${running.url}/v1/health`, { dispatcher: trusting });
  assert.equal(health.statusCode, 200);
  await health.body.dump();
  const state = await request(`${running.url}/v1/state`, { dispatcher: trusting, headers: { authorization: `Bearer ${running.adminToken}` } });
  assert.equal(state.statusCode, 200);
  await state.body.dump();

  // Over HTTPS the session cookie is Secure.
  const login = await request(`${running.url}/login?token=${running.adminToken}`, { dispatcher: trusting });
  assert.match(String(login.headers['set-cookie']), /; Secure$/);
  await login.body.dump();

  // Without the CA, the certificate is not trusted.
  await assert.rejects(request(`${running.url}/v1/health`), (error: Error & { code?: string; cause?: { code?: string } }) => {
    assert.match(`${error.code} ${error.cause?.code} ${error.message}`, /CERT|certificate|SELF_SIGNED|UNABLE_TO_VERIFY/i);
    return true;
  });
});
