// Scenario 5: GET /v1/services/{name} from wrk (or autocannon when wrk is not installed) over
// keep-alive connections, and the same load against a plain node:http server in its own process
// answering the same body: the ceiling that this load generator and this machine allow.
import { inBatches, openPool, register, sendJson } from '../lib/http.js';
import { hammer as hammerWithAutocannon } from '../lib/autocannon.js';
import type { LoadResult } from '../lib/load.js';
import { progress } from '../lib/log.js';
import type { BenchOptions } from '../lib/options.js';
import { authHeaders, freePort, spawnChild, startRegistry, waitForHttp } from '../lib/processes.js';
import { cpuTimeMs } from '../lib/proc.js';
import { withScope, type Scope } from '../lib/scope.js';
import { formatNumber } from '../lib/stats.js';
import { loadRows } from '../lib/load-rows.js';
import { NONE, type Row } from '../lib/table.js';
import { hammerWithWrk, wrkInstalled } from '../lib/wrk.js';

export interface LookupsResult {
  roster: LoadResult;
  /** The registry's CPU use during the measured load, in % of one core. */
  rosterCpuPercent: number;
  plainNode: LoadResult;
  bodyBytes: number;
  /** The load generator used: "wrk" or "autocannon". */
  generator: string;
}

interface HammerOptions {
  connections: number;
  durationMs: number;
  maxCount: number;
  headers?: Record<string, string>;
}

type Hammer = (url: string, options: HammerOptions) => Promise<LoadResult>;

/** wrk when it is installed (`npm run bench` installs it), else autocannon. */
function pickGenerator(): { generator: string; hammer: Hammer } {
  return wrkInstalled() ? { generator: 'wrk', hammer: hammerWithWrk } : { generator: 'autocannon', hammer: hammerWithAutocannon };
}

const PATH = '/v1/services/Lookup';

export async function runLookups(options: BenchOptions): Promise<LookupsResult> {
  const { durationMs, baselineMs, maxCount, connections, instances } = options.sizes.lookups;
  const { generator, hammer } = pickGenerator();
  return withScope(async (scope) => {
    const registry = await startRegistry(scope, { store: 'memory', cpuProfileDir: options.cpuProfileDir });
    const pool = openPool(scope, registry, connections);
    const indexes = Array.from({ length: instances }, (_, i) => i);
    await inBatches(indexes, 8, async (i) => void (await register(pool, { service: 'Lookup', url: `http://127.0.0.1:9/lookup/${i}`, ttlMs: 3_600_000 })));
    const { body } = await sendJson(pool, 'GET', PATH);
    // The plain server gets the same header, so that both answer the same requests.
    const headers = authHeaders(registry);
    await hammer(`${registry.url}${PATH}`, { connections, durationMs: 1000, maxCount, headers });
    const cpuBefore = cpuTimeMs(registry.pid);
    const roster = await hammer(`${registry.url}${PATH}`, { connections, durationMs, maxCount, headers });
    const rosterCpuPercent = ((cpuTimeMs(registry.pid) - cpuBefore) / roster.elapsedMs) * 100;
    progress(`lookups (${generator}): ${Math.round(roster.perSecond)}/s (${roster.errors} errors), registry CPU ${rosterCpuPercent.toFixed(0)} %`);
    const plainNode = await plainServerLoad(scope, hammer, body, { connections, durationMs: baselineMs, maxCount, headers });
    progress(`lookups, plain node:http: ${Math.round(plainNode.perSecond)}/s`);
    return { roster, rosterCpuPercent, plainNode, bodyBytes: Buffer.byteLength(body), generator };
  });
}

const PLAIN_SERVER = `
const body = process.env.BENCH_BODY;
require('node:http').createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}).listen(Number(process.env.BENCH_PORT), '127.0.0.1');
`;

async function plainServerLoad(scope: Scope, hammer: Hammer, body: string, load: HammerOptions): Promise<LoadResult> {
  const port = await freePort();
  const server = spawnChild(scope, process.execPath, ['-e', PLAIN_SERVER], { BENCH_BODY: body, BENCH_PORT: String(port) });
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(origin, server);
  await hammer(`${origin}${PATH}`, { ...load, durationMs: 1000 });
  return hammer(`${origin}${PATH}`, load);
}

export const LOOKUPS_TARGET_PER_SECOND = 30_000;

export function lookupRows(options: BenchOptions, result: LookupsResult, peer: LoadResult | string): Row[] {
  const { connections, instances } = options.sizes.lookups;
  const { roster, plainNode } = result;
  return [
    ...loadRows({
      scenario: 'lookups',
      rateFigure: `GET /v1/services/{name} per second (${result.generator}): ${connections} keep-alive connections, ${instances} instances, ${result.bodyBytes}-byte answer; registry CPU ${formatNumber(result.rosterCpuPercent, 0)} % of one core`,
      latencyFigure: 'lookup latency',
      targetPerSecond: LOOKUPS_TARGET_PER_SECOND,
      roster,
      peer,
      peerWork: 'prefix range read',
    }),
    {
      scenario: 'lookups',
      figure: 'ceiling: a plain node:http server in its own process, same answer, same load generator',
      target: NONE,
      result: `${formatNumber(plainNode.perSecond)}/s`,
      etcd: NONE,
      ratio: NONE,
      met: null,
    },
  ];
}
