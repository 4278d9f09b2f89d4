// The public surface: every entry point of package.json "exports" exports exactly the names
// listed here, values and types alike (read by the TypeScript compiler from the sources that
// build them). A name added or removed on purpose is added or removed here in the same change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const EXPECTED: Record<string, string[]> = {
  './client': [
    'BODY_LIMIT_BYTES', 'ChangeEvent', 'ClientEvents', 'ClientProtocol', 'ClientTlsOptions', 'DEFAULT_FORGOTTEN_AFTER_MS',
    'DEFAULT_REGISTER_RETRY', 'DEFAULT_REGISTRY_URL', 'DEFAULT_TTL_MS', 'DEFAULT_WAIT_MS', 'Logger', 'Notifications',
    'ProviderOptions', 'RegistryClient', 'RegistryClientOptions', 'RequestHandler', 'ResolvedClientOptions', 'RetryPolicy', 'ServiceChange',
    'RosterError', 'Strategy', 'WaitForOptions', 'WaitingEvent', 'defaultLogger',
  ],
  './client/fastify': ['RosterFastifyOptions', 'rosterFastify'],
  './client/express': ['Middleware', 'RosterExpress', 'RosterExpressOptions', 'rosterExpress'],
  './service': ['RunningService', 'ServiceTlsOptions', 'StartServiceOptions', 'startService'],
  './registry': [
    'Access', 'Authenticator', 'Caller', 'ChangeLogOptions', 'Clock', 'Credentials', 'EtcdAuthOptions', 'EtcdStore',
    'EtcdTlsOptions', 'HealthEvent', 'HttpChannel', 'HttpChannelOptions', 'HttpProber', 'HttpProberOptions', 'InstanceRecord',
    'Logger', 'MemoryStore', 'NotificationChannel', 'NotifierEvent', 'OutboxEntry', 'PatchSigner', 'Principal', 'ProbeEvent',
    'ProbeSigner', 'Prober', 'Registration', 'Registry', 'RegistryApi', 'RegistryAuthOptions', 'RegistryChange',
    'RegistryCourseOptions', 'RegistryEvents', 'RegistryInit', 'RegistryOptions', 'RegistryOptionsInput', 'RegistryRole',
    'RegistryStore', 'RegistryTlsOptions', 'RegistryWatchOptions', 'RunningRegistry', 'Scope', 'SqliteStore',
    'SqliteStoreOptions', 'StartRegistryOptions', 'StoreBatch', 'StoreSnapshot', 'TimerHandle', 'TokenSet', 'TokenSpec',
    'createHttpProber', 'parseTokensFile', 'sha256Hex', 'silentLogger', 'startRegistry', 'systemClock',
  ],
  './registry/server': [
    'RegistryCourseOptions', 'RegistryMetrics', 'RegistryMetricsOptions', 'RegistryServer', 'RegistryServerAuthOptions',
    'RegistryServerOptions', 'RegistryWatchOptions', 'buildRegistryServer', 'createRegistryMetrics',
  ],
  './protocol': [
    'COURSE_HEARTBEAT_PATH', 'COURSE_UPDATE_PATH', 'CourseRegistration', 'ErrorAnswer', 'ErrorBody', 'ErrorCode', 'ErrorCodes',
    'Health', 'InstanceMaintenance', 'InstanceMetadata', 'InstanceView', 'LIMITS', 'Liveness', 'MaintenanceRequest', 'Patch', 'PatchEntry', 'ProviderView', 'RegisterRequest',
    'RegisterResponse', 'RegistryHealthResponse', 'RosterError', 'SIGNATURE_HEADER', 'SIGNATURE_TOLERANCE_MS', 'ServiceView',
    'ServicesResponse', 'SignatureCheck', 'StateResponse', 'WATCH_CHANGE_TYPES', 'WatchChange', 'WatchChangeType', 'WatchEvent',
    'WatchSnapshot', 'checkOption', 'checkSignature', 'describeSignatureCheck', 'errorFromAnswer', 'hasControlCharacter',
    'instanceId', 'isErrorCode', 'isValidHttpUrl', 'isValidServiceName', 'newSigningKey', 'parseCourseRegistration', 'parsePatch',
    'parseRegisterRequest', 'parseWatchEvent', 'probePayload', 'signPayload',
  ],
};

const root = new URL('../', import.meta.url);
const packageJson = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { exports: Record<string, { types: string; default: string }> };
const entryFiles = Object.fromEntries(Object.entries(packageJson.exports).map(([entry, target]) => [entry, target.default]));

/** ./dist/registry/index.js is built from src/registry/index.ts. */
function sourceOf(target: string): string {
  return fileURLToPath(new URL(target.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'), root));
}

/** The names each entry exports, sorted, as the compiler sees them (types included). */
function exportedNames(entries: Record<string, string>): Record<string, string[]> {
  const config = ts.getParsedCommandLineOfConfigFile(fileURLToPath(new URL('tsconfig.json', root)), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  assert.ok(config, 'tsconfig.json could not be read');
  const sources = Object.fromEntries(Object.entries(entries).map(([entry, target]) => [entry, sourceOf(target)]));
  const program = ts.createProgram(Object.values(sources), config.options);
  const checker = program.getTypeChecker();
  return Object.fromEntries(
    Object.entries(sources).map(([entry, file]) => {
      const source = program.getSourceFile(file);
      const module = source && checker.getSymbolAtLocation(source);
      assert.ok(module, `${entry}: ${file} is missing or exports nothing`);
      return [entry, checker.getExportsOfModule(module).map((symbol) => symbol.name).sort()];
    }),
  );
}

test('package.json "exports" names exactly the entry points listed here', () => {
  assert.deepEqual(Object.keys(packageJson.exports).sort(), Object.keys(EXPECTED).sort());
});

test('every entry point declares its types beside its code', () => {
  for (const [entry, target] of Object.entries(packageJson.exports)) {
    assert.equal(target.types, target.default.replace(/\.js$/, '.d.ts'), `${entry}: "types" must sit beside "default"`);
  }
});

test('every entry point exports exactly the names listed here', { timeout: 60_000 }, () => {
  const actual = exportedNames(entryFiles);
  for (const [entry, names] of Object.entries(EXPECTED)) {
    const exported = actual[entry] ?? [];
    const added = exported.filter((name) => !names.includes(name));
    const removed = names.filter((name) => !exported.includes(name));
    assert.deepEqual({ added, removed }, { added: [], removed: [] }, `roster${entry.slice(1)} changed its exports: update EXPECTED if that is intended`);
  }
});
