// Where the registry agrees to send probes and patches: the rules alone, then through register().
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { type RosterError } from '../../src/protocol/errors.js';
import type { Registration } from '../../src/registry/catalog.js';
import { buildRegistryServer } from '../../src/registry/http/server.js';
import { createOutboundPolicy, isOutboundRule } from '../../src/registry/outbound-policy.js';
import { resolveRegistryOptions } from '../../src/registry/options.js';
import { Registry } from '../../src/registry/registry.js';
import { FakeClock } from '../helpers/fake-clock.js';

function allowed(allow: string[], url: string, callback: string): boolean {
  try {
    createOutboundPolicy(allow).check({ url, heartbeatUrl: callback, updateUrl: null });
    return true;
  } catch (error) {
    assert.equal((error as RosterError).code, 'URL_NOT_ALLOWED');
    return false;
  }
}

const TABLE: Array<[allow: string[], url: string, callback: string, expected: boolean]> = [
  // The default: the instance's own host, whatever the port, scheme or case.
  [[], 'http://grading:6000', 'http://grading:6000/heartbeat', true],
  [[], 'http://grading:6000', 'https://GRADING:7000/hb', true],
  [[], 'http://grading.:6000', 'http://grading/hb', true],
  [[], 'http://grading:6000', 'http://log:4000/hb', false],
  [[], 'http://localhost:6000', 'http://127.0.0.1:6000/hb', false],
  [[], 'http://[::1]:6000', 'http://[0:0:0:0:0:0:0:1]:6000/hb', true],
  [[], 'http://10.0.0.5:6000', 'http://169.254.169.254/latest/meta-data', false],
  // Exact hosts.
  [['log'], 'http://grading:6000', 'http://log:4000/hb', true],
  [['Log'], 'http://grading:6000', 'http://log:4000/hb', true],
  [['log'], 'http://grading:6000', 'http://log.internal/hb', false],
  [['127.0.0.1'], 'http://localhost:6000', 'http://127.0.0.1:6000/hb', true],
  [['::1'], 'http://localhost:6000', 'http://[::1]:6000/hb', true],
  // *.domain: any name below the domain, not the domain itself.
  [['*.example.com'], 'http://grading:6000', 'http://hooks.example.com/hb', true],
  [['*.example.com'], 'http://grading:6000', 'http://a.b.example.com/hb', true],
  [['*.example.com'], 'http://grading:6000', 'http://example.com/hb', false],
  [['*.example.com'], 'http://grading:6000', 'http://badexample.com/hb', false],
  // CIDRs match IP literals only; a name is never resolved.
  [['10.0.0.0/8'], 'http://grading:6000', 'http://10.1.2.3:8080/hb', true],
  [['10.0.0.0/8'], 'http://grading:6000', 'http://11.0.0.1/hb', false],
  [['10.0.0.0/8'], 'http://grading:6000', 'http://[::ffff:10.0.0.1]/hb', true],
  [['10.0.0.0/8'], 'http://grading:6000', 'http://ten.example/hb', false],
  [['fd00::/8'], 'http://grading:6000', 'http://[fd12::1]/hb', true],
  [['fd00::/8'], 'http://grading:6000', 'http://[fe80::1]/hb', false],
  [['0.0.0.0/0'], 'http://grading:6000', 'http://192.168.1.1/hb', true],
  [['log', '10.0.0.0/8', '*.svc'], 'http://grading:6000', 'http://api.svc/hb', true],
];

for (const [allow, url, callback, expected] of TABLE) {
  test(`allow [${allow.join(', ')}]: ${url} → ${callback} is ${expected ? 'allowed' : 'refused'}`, () => {
    assert.equal(allowed(allow, url, callback), expected);
  });
}

test('rules: CIDRs, hosts and *.domain are valid; anything else is not', () => {
  for (const rule of ['10.0.0.0/8', '192.168.1.7/32', '::/0', 'fd00::/8', 'log', 'api.example.com', '127.0.0.1', '::1', '*.example.com', 'my_host']) {
    assert.ok(isOutboundRule(rule), rule);
  }
  for (const rule of ['', '*', '*.', 'example.*', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/', 'host/8', 'http://log', 'log:4000', 'a b', '-bad.example']) {
    assert.ok(!isOutboundRule(rule), rule);
  }
});

test('both URLs are checked; the refusal names the URL, the host and how to widen the policy', () => {
  const policy = createOutboundPolicy();
  assert.throws(() => policy.check({ url: 'http://grading:6000', heartbeatUrl: 'http://grading:6000/hb', updateUrl: 'http://evil:80/x' }), {
    code: 'URL_NOT_ALLOWED',
    status: 422,
    message: /update URL http:\/\/evil:80\/x .*"grading".*--allow-callback-hosts/,
  });
  assert.throws(() => policy.check({ url: 'http://grading:6000', heartbeatUrl: 'http://evil/hb', updateUrl: null }), { message: /^the heartbeat URL http:\/\/evil\/hb / });
});

test('option outbound.allow is validated, naming the option and the bad entry', () => {
  assert.deepEqual(resolveRegistryOptions().outbound.allow, []);
  assert.deepEqual(resolveRegistryOptions({ outbound: { allow: ['10.0.0.0/8'] } }).outbound.allow, ['10.0.0.0/8']);
  assert.throws(() => resolveRegistryOptions({ outbound: { allow: ['10.0.0.0/40'] } }), { code: 'INVALID_OPTION', message: /"outbound\.allow".*"10\.0\.0\.0\/40"/ });
  assert.throws(() => resolveRegistryOptions({ outbound: { allow: 'log' as unknown as string[] } }), { code: 'INVALID_OPTION', message: /"outbound\.allow"/ });
});

function setup(t: TestContext, allow?: string[]) {
  const sent: string[] = [];
  const registry = new Registry({
    clock: new FakeClock(),
    channel: { send: async (target) => void sent.push(target), close: async () => undefined },
    probe: async () => undefined,
    options: { outbound: allow ? { allow } : undefined },
  });
  t.after(() => registry.close(0));
  return { registry, sent };
}

function reg(extra: Partial<Registration> = {}): Registration {
  return {
    service: 'grading',
    url: 'http://grading:6000',
    requires: ['log'],
    updateUrl: 'http://grading:6000/services',
    heartbeatUrl: 'http://grading:6000/heartbeat',
    ttlMs: null,
    metadata: {},
    protocol: 'v1',
    owner: null,
    ...extra,
  };
}

test('a registration with an update URL on another host is refused and changes nothing', async (t) => {
  const { registry, sent } = setup(t);
  await registry.register(reg());
  const before = { revision: registry.revision, instances: structuredClone(registry.instances()) };
  await assert.rejects(registry.register(reg({ updateUrl: 'http://169.254.169.254/latest' })), { code: 'URL_NOT_ALLOWED', status: 422 });
  await assert.rejects(registry.register(reg({ url: 'http://other:6000', heartbeatUrl: 'http://grading:6000/heartbeat', updateUrl: null })), { code: 'URL_NOT_ALLOWED' });
  assert.equal(registry.revision, before.revision);
  assert.deepEqual(registry.instances(), before.instances);
  assert.deepEqual(sent, ['http://grading:6000/services'], 'no patch went to the refused URL');
});

test('the allow-list admits what it names', async (t) => {
  const { registry, sent } = setup(t, ['hooks.internal', '10.0.0.0/8']);
  await registry.register(reg({ updateUrl: 'http://hooks.internal/grading', heartbeatUrl: 'http://10.0.0.9/hb' }));
  assert.deepEqual(sent, ['http://hooks.internal/grading']);
  assert.equal(registry.instances().length, 1);
});

test('over the course API a refused registration answers 422 with the reason', async (t) => {
  const { registry } = setup(t);
  const app = buildRegistryServer(registry);
  t.after(() => app.close());
  const answer = await app.inject({
    method: 'POST',
    url: '/services',
    headers: { 'content-type': 'application/json' },
    payload: { ServiceName: 'Grading', ServiceURL: 'http://localhost:6000', RequiredServices: [], ServiceUpdateURL: 'http://127.0.0.1:9/services', HeartbeatURL: '' },
  });
  assert.equal(answer.statusCode, 422);
  assert.match(answer.body, /update URL http:\/\/127\.0\.0\.1:9\/services is not allowed/);
  assert.equal(registry.instances().length, 0);
});
