// Nothing acknowledged is lost: the real registry (dist/, SQLite store) is sent a burst of mixed
// registrations and deregistrations through both protocols, killed with SIGKILL in the middle of
// it, and started again, several rounds; after each restart every change it had answered 2xx must
// be there. A change in flight when it was killed may or may not have landed: it is not counted,
// and the restarted registry's state settles it for the next round. Run `npm run build` first.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { instanceId } from '../../src/protocol/ids.js';
import { NodeProcess, bearer, freePort, readAdminToken, scratchDir } from '../helpers/processes.js';

const DIST_CLI = fileURLToPath(new URL('../../dist/cli/roster.js', import.meta.url));

const WORKERS = 12;
const URLS_PER_WORKER = 16;
/** Acknowledged changes after which each round's registry is killed, while the workers go on sending. */
const KILL_AFTER = [150, 420, 260, 600, 330];

interface Slot {
  url: string;
  /** Even slots speak /v1, odd ones the course's /services: the same protocol for both ways. */
  protocol: 'v1' | 'course';
  /** What the last acknowledged change left: registered or not. */
  registered: boolean;
  /** A change was sent and not answered when the registry died: either outcome is allowed. */
  uncertain: boolean;
}

interface Tally {
  registrations: number;
  deregistrations: number;
  refused: string[];
}

async function startRegistry(t: TestContext, port: number, dataDir: string): Promise<NodeProcess> {
  // No probes and no expiry during the test: only the burst changes the catalog.
  const args = [DIST_CLI, 'registry', '--host', '127.0.0.1', '--port', String(port), '--store', 'sqlite', '--data-dir', dataDir, '--health-interval', '3600000', '--ttl', '3600000'];
  const registry = new NodeProcess(t, args, {}, { tsx: false });
  await registry.waitForEvent((e) => typeof e.msg === 'string' && e.msg.startsWith('registry listening'));
  return registry;
}

/** Sends the change that flips the slot; true once acknowledged, false when the registry is gone. */
async function flip(base: string, token: string, slot: Slot, worker: number, agent: Agent, tally: Tally): Promise<boolean> {
  const service = `Burst${worker % 4}`;
  const [method, path, headers, body] = slot.registered ? deregistration(slot, token) : registration(slot, service, token);
  slot.uncertain = true;
  let status: number;
  try {
    const response = await request(`${base}${path}`, { method, headers, body, dispatcher: agent });
    status = response.statusCode;
    await response.body.dump();
  } catch {
    return false;
  }
  if (status >= 300) {
    tally.refused.push(`${method} ${path} ${slot.url}: ${status}`);
    return false;
  }
  slot.uncertain = false;
  slot.registered = !slot.registered;
  if (slot.registered) tally.registrations++;
  else tally.deregistrations++;
  return true;
}

function registration(slot: Slot, service: string, token: string): ['POST', string, Record<string, string>, string] {
  if (slot.protocol === 'v1') {
    return ['POST', '/v1/instances', { ...bearer(token), 'content-type': 'application/json' }, JSON.stringify({ service, url: slot.url, ttlMs: 3_600_000 })];
  }
  const body = { ServiceName: service, ServiceURL: slot.url, RequiredServices: [], ServiceUpdateURL: '', HeartbeatURL: '' };
  return ['POST', '/services', { 'content-type': 'application/json' }, JSON.stringify(body)];
}

function deregistration(slot: Slot, token: string): ['DELETE', string, Record<string, string>, string | undefined] {
  if (slot.protocol === 'v1') return ['DELETE', `/v1/instances/${encodeURIComponent(instanceId(slot.url))}`, bearer(token), undefined];
  return ['DELETE', '/services', { 'content-type': 'text/plain' }, slot.url];
}

async function registeredUrls(base: string, token: string): Promise<Set<string>> {
  const state = (await (await fetch(`${base}/v1/state`, { headers: bearer(token) })).json()) as { instances: Array<{ url: string }> };
  return new Set(state.instances.map((instance) => instance.url));
}

test('SIGKILL during bursts of registrations and deregistrations, several rounds: no acknowledged change is lost', { timeout: 180_000 }, async (t) => {
  const dataDir = scratchDir(t, 'roster-durability-');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const slots: Slot[][] = Array.from({ length: WORKERS }, (_, worker) =>
    Array.from({ length: URLS_PER_WORKER }, (_, i) => ({ url: `http://127.0.0.1:9/w${worker}/i${i}`, protocol: i % 2 === 0 ? 'v1' : 'course', registered: false, uncertain: false })),
  );
  const tally: Tally = { registrations: 0, deregistrations: 0, refused: [] };
  let missing = 0;

  let registry = await startRegistry(t, port, dataDir);
  const token = readAdminToken(dataDir);
  for (const [round, killAfter] of KILL_AFTER.entries()) {
    const burstStart = performance.now();
    const agent = new Agent({ connections: WORKERS });
    const ackedBefore = tally.registrations + tally.deregistrations;
    let killed = false;
    // Each worker flips its own slots in turn, so the order of one URL's changes is the order sent.
    const workers = slots.map(async (own, worker) => {
      for (let turn = 0; ; turn++) {
        const slot = own[turn % own.length]!;
        if (!(await flip(base, token, slot, worker, agent, tally))) return;
        if (!killed && tally.registrations + tally.deregistrations - ackedBefore >= killAfter) {
          killed = true;
          registry.kill('SIGKILL');
        }
      }
    });
    await Promise.all(workers);
    await registry.exited;
    await agent.destroy();

    const burstMs = performance.now() - burstStart;
    // The registry started again is checked, then takes the next round's burst.
    const restartStart = performance.now();
    registry = await startRegistry(t, port, dataDir);
    const restartMs = performance.now() - restartStart;
    const present = await registeredUrls(base, token);
    const lost = slots.flat().filter((slot) => !slot.uncertain && slot.registered !== present.has(slot.url));
    missing += lost.length;
    // Durations are reported, never asserted.
    t.diagnostic(`round ${round + 1}: burst ${Math.round(burstMs)} ms, restart ${Math.round(restartMs)} ms; killed after ${killAfter} acknowledged changes; ${lost.length} missing after restart${lost.length ? `: ${lost.map((s) => `${s.url} (${s.registered ? 'registered' : 'deregistered'})`).join(', ')}` : ''}`);
    // What was in flight settles on what the registry kept.
    for (const slot of slots.flat()) {
      if (slot.uncertain) slot.registered = present.has(slot.url);
      slot.uncertain = false;
    }
  }
  registry.kill('SIGKILL');
  await registry.exited;

  t.diagnostic(`acknowledged: ${tally.registrations} registrations, ${tally.deregistrations} deregistrations over ${KILL_AFTER.length} rounds; missing after restart: ${missing}`);
  assert.deepEqual(tally.refused, [], 'every change the burst sent was accepted while the registry ran');
  assert.ok(tally.deregistrations > 0 && tally.registrations > 0);
  assert.equal(missing, 0, 'acknowledged changes missing after a restart');
});
