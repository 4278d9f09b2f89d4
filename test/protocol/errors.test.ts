// The errors catalogue: each factory builds a RosterError with its stable code, status and a message
// that says what happened; errorFromAnswer turns an HTTP answer back into the same error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as errors from '../../src/protocol/errors.js';
import { ErrorCodes, RosterError, errorFromAnswer, type ErrorCode } from '../../src/protocol/errors.js';

const cause = new Error('connect ECONNREFUSED 127.0.0.1:2379');

/** One call of every factory, with the code it must give and a part of the message it must hold. */
const FACTORIES: Array<[string, () => RosterError, ErrorCode, RegExp]> = [
  ['invalidRequest', () => errors.invalidRequest('"url" must be a URL'), 'INVALID_REQUEST', /"url" must be a URL/],
  ['invalidJson', () => errors.invalidJson('Unexpected token'), 'INVALID_REQUEST', /not valid JSON \(Unexpected token\)/],
  ['emptyBody', () => errors.emptyBody(), 'INVALID_REQUEST', /body is empty/],
  ['payloadTooLarge', () => errors.payloadTooLarge(16384), 'PAYLOAD_TOO_LARGE', /larger than 16384 bytes/],
  ['unsupportedMediaType', () => errors.unsupportedMediaType(), 'UNSUPPORTED_MEDIA_TYPE', /application\/json/],
  ['routeNotFound', () => errors.routeNotFound('GET', '/nope', '; see docs/api.md'), 'NOT_FOUND', /^no route GET \/nope; see docs\/api\.md$/],
  ['notFound', () => errors.notFound('no student with ID "7"'), 'NOT_FOUND', /student/],
  ['methodNotAllowed', () => errors.methodNotAllowed('use GET on /students'), 'METHOD_NOT_ALLOWED', /use GET/],
  ['unauthorized', () => errors.unauthorized('send a token'), 'UNAUTHORIZED', /send a token/],
  ['forbidden', () => errors.forbidden('needs the "admin" scope'), 'FORBIDDEN', /admin/],
  ['badSignature', () => errors.badSignature('unsigned patch'), 'BAD_SIGNATURE', /unsigned/],
  ['notOwner', () => errors.notOwner('http://a:1', 'alice', 'bob'), 'NOT_OWNER', /http:\/\/a:1 belongs to "alice"; "bob" may not/],
  ['urlNotAllowed', () => errors.urlNotAllowed('heartbeat URL', 'http://x/', 'register one on "a"'), 'URL_NOT_ALLOWED', /heartbeat URL http:\/\/x\/ is not allowed: register/],
  ['instanceNotFound', () => errors.instanceNotFound('abc'), 'INSTANCE_NOT_FOUND', /id "abc".*register again/],
  ['instanceNotFoundAt', () => errors.instanceNotFoundAt('http://a:1'), 'INSTANCE_NOT_FOUND', /registered at http:\/\/a:1/],
  ['serviceNotFound', () => errors.serviceNotFound('Log'), 'SERVICE_NOT_FOUND', /service "Log"/],
  ['uriTooLong', () => errors.uriTooLong(), 'URI_TOO_LONG', /^the path is too long/],
  ['unknownService', () => errors.unknownService('Log', '`roster ls` lists them'), 'SERVICE_NOT_FOUND', /no service "Log" is registered or required; `roster ls`/],
  ['notTtlInstance', () => errors.notTtlInstance('http://a:1', 'http://a:1/hb'), 'NOT_TTL_INSTANCE', /through http:\/\/a:1\/hb/],
  ['registryStopping', () => errors.registryStopping(), 'REGISTRY_STOPPING', /shutting down/],
  ['notLeader', () => errors.notLeader(), 'NOT_LEADER', /no longer the leader/],
  ['noLeader', () => errors.noLeader(), 'NO_LEADER', /none is elected/],
  ['storeClosed', () => errors.storeClosed('the log store'), 'STORE_CLOSED', /^the log store is closed/],
  ['noProvider', () => errors.noProvider('no instance of service "Log" is available'), 'NO_PROVIDER', /"Log"/],
  ['registryUnreachable', () => errors.registryUnreachable('cannot reach the registry', cause), 'REGISTRY_UNREACHABLE', /cannot reach/],
  ['registryError', () => errors.registryError('unexpected answer'), 'REGISTRY_ERROR', /unexpected/],
  ['etcdUnreachable', () => errors.etcdUnreachable(['http://127.0.0.1:2379'], cause), 'ETCD_UNREACHABLE', /etcd at http:\/\/127\.0\.0\.1:2379: connect ECONNREFUSED.*--etcd-endpoints/],
  ['clientClosed', () => errors.clientClosed('register()'), 'CLIENT_CLOSED', /^register\(\): this client is closed/],
  ['registrationCancelled', () => errors.registrationCancelled('deregister()'), 'CLIENT_CLOSED', /^register\(\): deregister\(\) was called while waiting for the registry/],
  ['internal', () => errors.internal('the log service failed'), 'INTERNAL', /failed/],
  ['invalidOption', () => errors.invalidOption('ttlMs', 'a positive integer'), 'INVALID_OPTION', /^option "ttlMs" must be a positive integer$/],
  ['invalidArgument', () => errors.invalidArgument('--registry', 'an http:// URL'), 'INVALID_OPTION', /^--registry must be an http:\/\/ URL$/],
  ['invalidConfigFile', () => errors.invalidConfigFile('tokens file t.json: "name" is missing'), 'INVALID_OPTION', /tokens file/],
  ['unreadableFile', () => errors.unreadableFile('tls.ca', '/x.pem', new Error('ENOENT'), 'a CA file'), 'INVALID_OPTION', /^option "tls.ca" names a CA file that cannot be read: \/x\.pem \(ENOENT\)/],
  ['addressInUse', () => errors.addressInUse({ port: 3000, host: '::' }, 'choose another with --port'), 'ADDRESS_IN_USE', /^port 3000 is already in use on ::: choose another with --port$/],
  ['portNotAllowed', () => errors.portNotAllowed({ port: 80, host: '::' }, 'choose another with --port'), 'ADDRESS_NOT_AVAILABLE', /not allowed to listen on port 80/],
  ['hostNotAvailable', () => errors.hostNotAvailable('10.9.9.9', '--host'), 'ADDRESS_NOT_AVAILABLE', /host "10\.9\.9\.9".*--host/],
  ['schemaTooNew', () => errors.schemaTooNew('registry.db', 9, 'upgrade Roster'), 'SCHEMA_TOO_NEW', /registry\.db was written by a newer Roster \(schema 9\); upgrade Roster/],
  ['storeDamaged', () => errors.storeDamaged('sqlite:/r.db', 'instances/abc', '"url" is missing'), 'STORE_DAMAGED', /^sqlite:\/r\.db holds a damaged row at instances\/abc: "url" is missing/],
  ['unknownOption', () => errors.unknownOption('notify.timeoutMS', 'the registry', ['timeoutMs', 'maxQueue']), 'INVALID_OPTION', /^option "notify\.timeoutMS" is not an option of the registry; known: timeoutMs, maxQueue$/],
  ['limitReached', () => errors.limitReached('maxInstancesPerService', 2, 'service "Greeter" holds 2 instances'), 'LIMIT_REACHED', /^service "Greeter" holds 2 instances: the limit "maxInstancesPerService" \(2\) is reached; nothing was changed.*limits\.maxInstancesPerService/],
  ['rateLimited', () => errors.rateLimited(1000, 10_000, 4, 'credential "alice"'), 'RATE_LIMITED', /^too many writes: at most 1000 per 10000 ms for credential "alice".*retry in 4 s$/],
  ['damagedState', () => errors.damagedState('data/registry.db', 'a table is missing', '--reset-data'), 'STORE_DAMAGED', /^data\/registry\.db is damaged: a table is missing\. Restore it from a backup, or start afresh with --reset-data/],
  ['clientNotListening', () => errors.clientNotListening('app.roster'), 'CLIENT_CLOSED', /^app\.roster: the app does not listen yet.*`url` option/],
  ['partNotReady', () => errors.partNotReady('grading', 30_000), 'PART_NOT_READY', /^grading did not become ready within 30 s$/],
];

test('each factory builds a RosterError with its code, the status of that code and a message that says what happened', () => {
  for (const [name, make, code, message] of FACTORIES) {
    const error = make();
    assert.ok(error instanceof RosterError, name);
    assert.equal(error.code, code, name);
    assert.equal(error.status, ErrorCodes[code].status, name);
    assert.equal(error.retryable, ErrorCodes[code].retryable, name);
    assert.match(error.message, message, name);
    assert.deepEqual(JSON.parse(JSON.stringify(error)), { code, message: error.message }, name);
  }
});

test('every exported factory is covered above, and every code has at least one factory', () => {
  const exported = Object.entries(errors).filter(([name, value]) => typeof value === 'function' && /^[a-z]/.test(name));
  const notFactories = new Set(['checkOption', 'errorFromAnswer', 'isErrorCode', 'withAdvice']);
  const tested = new Set(FACTORIES.map(([name]) => name));
  for (const [name] of exported) if (!notFactories.has(name)) assert.ok(tested.has(name), `no test case for ${name}()`);
  const made = new Set(FACTORIES.map(([, , code]) => code));
  for (const code of Object.keys(ErrorCodes)) assert.ok(made.has(code as ErrorCode), `no factory builds ${code}`);
});

test('a cause is kept for the log, never put into the JSON body', () => {
  const error = errors.etcdUnreachable(['http://e:2379'], cause);
  assert.equal(error.cause, cause);
  assert.deepEqual(Object.keys(error.toJSON()), ['code', 'message']);
});

test('withAdvice keeps the code and adds what to do after the message', () => {
  const error = errors.withAdvice(errors.unauthorized('a valid token is needed'), 'give one with --token');
  assert.equal(error.code, 'UNAUTHORIZED');
  assert.equal(error.message, 'a valid token is needed; give one with --token');
});

test('checkOption throws INVALID_OPTION naming the option, and nothing when the option is good', () => {
  assert.doesNotThrow(() => errors.checkOption(true, 'x', 'anything'));
  assert.throws(() => errors.checkOption(false, 'retryMaxMs', 'at least retryBaseMs'), { code: 'INVALID_OPTION', message: 'option "retryMaxMs" must be at least retryBaseMs' });
});

test('errorFromAnswer rebuilds the error a Roster server sent, from a parsed body or from text', () => {
  const sent = errors.notOwner('http://a:1', 'alice', 'bob');
  for (const body of [sent.toJSON(), JSON.stringify(sent)]) {
    const rebuilt = errorFromAnswer({ status: 409, body, from: 'the registry at http://r' });
    assert.ok(rebuilt instanceof RosterError);
    assert.deepEqual(rebuilt.toJSON(), sent.toJSON());
    assert.equal(rebuilt.status, 409);
  }
});

test('errorFromAnswer turns an answer it does not know into REGISTRY_ERROR naming who answered, what and how', () => {
  const text = errorFromAnswer({ status: 500, body: 'panic: oops\n', from: 'the registry at http://r', request: 'GET /v1/watch', hint: ' (a course registry?)' });
  assert.equal(text.code, 'REGISTRY_ERROR');
  assert.equal(text.message, 'the registry at http://r answered GET /v1/watch with HTTP 500: panic: oops (a course registry?)');
  const unknownCode = errorFromAnswer({ status: 418, body: { code: 'TEAPOT', message: 'short and stout' }, from: 'x' });
  assert.equal(unknownCode.code, 'REGISTRY_ERROR');
  assert.equal(unknownCode.message, 'x answered HTTP 418: short and stout');
  assert.equal(errorFromAnswer({ status: 502, body: undefined, from: 'x' }).message, 'x answered HTTP 502');
  // A code inherited from Object.prototype is not one of ours.
  assert.equal(errorFromAnswer({ status: 400, body: { code: 'toString', message: 'm' }, from: 'x' }).code, 'REGISTRY_ERROR');
});
