// `roster log`, `roster grading` and `roster portal`: one set of options and ROSTER_* variables
// for all three, resolved in one place, and honoured by each command run as a real process.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveDemoSettings, type DemoServiceFlags } from '../../src/cli/commands/demo-service.js';
import { DEMO_SERVICES, type DemoPart } from '../../src/services/names.js';
import { NodeProcess, ROSTER_CLI, freePort, scratchDir } from '../helpers/processes.js';
import { secureRegistry, type SecureRegistry } from '../services/secure-registry.js';

const PARTS = Object.keys(DEMO_SERVICES) as DemoPart[];
const NOT_A_TTY = { isTTY: false };
const BOUNDED = { timeout: 60_000 };

function flags(more: Partial<DemoServiceFlags> = {}): DemoServiceFlags {
  return { protocol: 'roster', dataDir: '/nonexistent-roster-data', ...more };
}

test('the defaults come from the names module', () => {
  for (const part of PARTS) {
    const settings = resolveDemoSettings(part, flags(), {}, NOT_A_TTY);
    assert.equal(settings.port, DEMO_SERVICES[part].port);
    assert.equal(settings.host, 'localhost');
    assert.deepEqual(settings.registryUrl, ['http://localhost:3000']);
    assert.equal(settings.token, undefined);
  }
});

test('ROSTER_PORT, ROSTER_HOST, ROSTER_REGISTRY_URL (several) and ROSTER_TOKEN apply when the flags are absent', () => {
  const env = { ROSTER_PORT: '7100', ROSTER_HOST: '127.0.0.1', ROSTER_REGISTRY_URL: 'http://a:3001, http://b:3002', ROSTER_TOKEN: 'from-env' };
  for (const part of PARTS) {
    const settings = resolveDemoSettings(part, flags(), env, NOT_A_TTY);
    assert.deepEqual(
      { port: settings.port, host: settings.host, registryUrl: settings.registryUrl, token: settings.token },
      { port: 7100, host: '127.0.0.1', registryUrl: ['http://a:3001', 'http://b:3002'], token: 'from-env' },
    );
  }
});

test('flags win over the variables; --port 0 is a port, not an absence', () => {
  const env = { ROSTER_PORT: '7100', ROSTER_HOST: '127.0.0.1', ROSTER_REGISTRY_URL: 'http://a:3001', ROSTER_TOKEN: 'from-env' };
  const settings = resolveDemoSettings('grading', flags({ port: 0, host: '::1', registry: 'http://c:1,http://d:2', token: 'from-flag' }), env, NOT_A_TTY);
  assert.deepEqual(
    { port: settings.port, host: settings.host, registryUrl: settings.registryUrl, token: settings.token },
    { port: 0, host: '::1', registryUrl: ['http://c:1', 'http://d:2'], token: 'from-flag' },
  );
});

test('ROSTER_LOG_FORMAT: readable lines on a terminal unless it says json; JSON lines elsewhere', () => {
  const format = (isTTY: boolean, env: Record<string, string> = {}) => resolveDemoSettings('portal', flags(), env, { isTTY }).logFormat;
  assert.equal(format(true), 'readable');
  assert.equal(format(true, { ROSTER_LOG_FORMAT: 'json' }), 'json');
  assert.equal(format(false), 'json');
});

test("without ROSTER_TOKEN, the part's own <data-dir>/<part>.token is used, for a registry on this machine only", (t) => {
  const dataDir = scratchDir(t);
  for (const part of PARTS) writeFileSync(join(dataDir, `${part}.token`), `secret-of-${part}\n`, { mode: 0o600 });
  for (const part of PARTS) {
    assert.equal(resolveDemoSettings(part, flags({ dataDir }), {}, NOT_A_TTY).token, `secret-of-${part}`);
    assert.equal(resolveDemoSettings(part, flags({ dataDir }), { ROSTER_TOKEN: 'from-env' }, NOT_A_TTY).token, 'from-env');
    assert.equal(resolveDemoSettings(part, flags({ dataDir, registry: 'http://registry.example:3000' }), {}, NOT_A_TTY).token, undefined, 'a part token is not sent to another machine');
  }
});

test('a bad value is refused, naming the flag or variable it came from', () => {
  assert.throws(() => resolveDemoSettings('log', flags(), { ROSTER_PORT: 'eighty' }, NOT_A_TTY), /option "ROSTER_PORT" must be a port number/);
  assert.throws(() => resolveDemoSettings('log', flags(), { ROSTER_PORT: '70000' }, NOT_A_TTY), /option "ROSTER_PORT"/);
  assert.throws(() => resolveDemoSettings('log', flags({ registry: 'http://a:1,not a url' }), {}, NOT_A_TTY), /option "--registry" must be an http\(s\) URL/);
  assert.throws(() => resolveDemoSettings('log', flags(), { ROSTER_REGISTRY_URL: 'ftp://a' }, NOT_A_TTY), /option "ROSTER_REGISTRY_URL"/);
  assert.throws(() => resolveDemoSettings('log', flags(), { ROSTER_LOG_LEVEL: 'loud' }, NOT_A_TTY), /option "ROSTER_LOG_LEVEL" must be one of trace, debug/);
});

test('a demo command exits 2 on a bad ROSTER_PORT or --registry, before starting anything', BOUNDED, async (t) => {
  // One process per kind of mistake: the three commands share the code that reads them (above).
  const runs: Array<{ args: string[]; env: Record<string, string>; expected: RegExp }> = [
    { args: [ROSTER_CLI, 'grading'], env: { ROSTER_PORT: 'eighty' }, expected: /roster: option "ROSTER_PORT"/ },
    { args: [ROSTER_CLI, 'portal', '--registry', 'http://127.0.0.1:1,nowhere'], env: {}, expected: /roster: option "--registry"/ },
  ];
  await Promise.all(
    runs.map(async ({ args, env, expected }) => {
      const run = new NodeProcess(t, args, env);
      const [code] = await run.exited;
      assert.equal(code, 2, run.output);
      assert.match(run.output, expected);
    }),
  );
});

interface Started {
  process: NodeProcess;
  url: string;
}

/**
 * Runs `roster <part>` and waits for its "listening" line, which it prints once registered. The
 * line must be JSON: stdout is not a terminal and ROSTER_LOG_FORMAT says json.
 */
async function startPart(t: TestContext, part: DemoPart, args: string[], env: Record<string, string>): Promise<Started> {
  const name = DEMO_SERVICES[part].name;
  const run = new NodeProcess(t, [ROSTER_CLI, part, ...args], { ROSTER_LOG_FORMAT: 'json', ROSTER_TOKEN: '', ROSTER_PORT: '', ROSTER_HOST: '', ROSTER_REGISTRY_URL: '', ...env });
  const listening = await run.waitForEvent((event) => typeof event.msg === 'string' && event.msg.startsWith(`${name} listening on `));
  assert.equal(typeof listening.level, 'number', 'a pino line: numeric level');
  assert.equal(typeof listening.time, 'number', 'a pino line: epoch time');
  return { process: run, url: String(listening.msg).slice(`${name} listening on `.length) };
}

/** SIGTERM: the service deregisters and exits 0. */
async function stop(started: Started): Promise<void> {
  started.process.kill('SIGTERM');
  const [code, signal] = await started.process.exited;
  assert.equal(code, 0, `exited with ${signal ?? code}:\n${started.process.output}`);
}

function owners(secure: SecureRegistry, part: DemoPart): Array<[string, string | null]> {
  const name = DEMO_SERVICES[part].name;
  return secure.registry.registry
    .instances()
    .filter((instance) => instance.service === name)
    .map((instance) => [instance.url, instance.owner]);
}

for (const part of PARTS) {
  test(`roster ${part} honours ROSTER_PORT, ROSTER_HOST, ROSTER_LOG_FORMAT, --registry a,b, ROSTER_REGISTRY_URL a,b, ROSTER_TOKEN and <data-dir>/${part}.token`, BOUNDED, async (t) => {
    const secure = await secureRegistry(t);
    const token = secure.tokens[part];
    // Nothing listens on the first registry URL: the service must fail over to the second.
    const dead = `http://127.0.0.1:${await freePort()}`;
    const [portA, portB] = [await freePort(), await freePort()];

    // --registry a,b; the token from the part's file, as `roster up` writes it.
    const dataDir = scratchDir(t);
    writeFileSync(join(dataDir, `${part}.token`), `${token}\n`, { mode: 0o600 });
    const fromFlags = startPart(t, part, ['--registry', `${dead},${secure.registry.url}`, '--data-dir', dataDir], { ROSTER_PORT: String(portA), ROSTER_HOST: '127.0.0.1' });
    // ROSTER_REGISTRY_URL a,b; the token from ROSTER_TOKEN, with no token file.
    const fromEnv = startPart(t, part, ['--data-dir', scratchDir(t)], {
      ROSTER_PORT: String(portB),
      ROSTER_HOST: '127.0.0.1',
      ROSTER_REGISTRY_URL: `${dead},${secure.registry.url}`,
      ROSTER_TOKEN: token,
    });
    const started = await Promise.all([fromFlags, fromEnv]);

    const expected = [`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`];
    assert.deepEqual(started.map((s) => s.url), expected);
    // Registered with the part's own token: the registry records its name as the owner.
    assert.deepEqual(owners(secure, part).sort(), expected.map((url) => [url, part]).sort());
    await Promise.all(started.map(stop));
    assert.deepEqual(owners(secure, part), [], 'both deregistered on SIGTERM');
  });
}
