// Scale of session liveness: as many session instances as the scale scenario probes, each with
// its session stream held open by one client process that answers every ping the way
// RegistryClient does (a POST per ping, over a pool of keep-alive connections). Once all are
// connected: the registry's CPU and RSS over a window, beside the probed instances of `scale`.
import { openPool, sendJson } from '../lib/http.js';
import { progress, sleep } from '../lib/log.js';
import type { BenchOptions } from '../lib/options.js';
import { spawnChild, startRegistry, type RegistryEndpoint } from '../lib/processes.js';
import { openFds, rssBytes, sampleUsage, type UsageSample } from '../lib/proc.js';
import { withScope, type Scope } from '../lib/scope.js';
import { formatNumber } from '../lib/stats.js';
import { NONE, type Row } from '../lib/table.js';
import type { ScaleResult } from './scale.js';

export interface SessionScaleResult {
  instances: number;
  roster: UsageSample & { fds: number; pingsPerSecond: number };
  /** Streams that ended (cut by the registry) and were reopened during the window. */
  reopened: number;
  baselineRssBytes: number;
  /** Instances not passing at the end of the window. */
  critical: number;
}

// Registers BENCH_COUNT session instances, opens each one's stream on a socket of its own and
// answers each ping that asks for it (as RegistryClient does) with POST …/session/ping?token=N
// over a keep-alive pool; a stream that ends is reopened. Prints "ready" once all streams are
// open, then "pings <answered> <reopened>" on SIGUSR2.
const HOLDER_SOURCE = `
const http = require('node:http');
const base = process.env.BENCH_REGISTRY;
const auth = process.env.BENCH_TOKEN ? { authorization: 'Bearer ' + process.env.BENCH_TOKEN } : {};
const count = Number(process.env.BENCH_COUNT);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
let pings = 0;
let reopened = 0;
const send = (method, path, body) => new Promise((resolve, reject) => {
  const headers = body ? { ...auth, 'content-type': 'application/json' } : auth;
  const req = http.request(base + path, { method, agent, headers }, (res) => {
    let data = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => { data += chunk; });
    res.on('end', () => resolve({ status: res.statusCode, body: data }));
  });
  req.on('error', reject);
  req.end(body);
});
const hold = (id) => new Promise((resolve, reject) => {
  const req = http.get(base + '/v1/instances/' + id + '/session', { agent: false, headers: auth }, (res) => {
    if (res.statusCode !== 200) return reject(new Error('session stream answered ' + res.statusCode));
    let buffered = '';
    let token;
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\\n'); nl >= 0; nl = buffered.indexOf('\\n')) {
        const message = JSON.parse(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        if (message.type === 'open') { token = message.token; resolve(); }
        else if (message.type === 'ping' && message.answer !== false) {
          pings++;
          send('POST', '/v1/instances/' + id + '/session/ping?token=' + token).catch(() => {});
        }
      }
    });
    res.on('error', () => {});
    res.on('close', () => {
      reopened++;
      reopen(id);
    });
  });
  req.on('error', reject);
});
const reopen = (id) => setTimeout(() => hold(id).catch(() => reopen(id)), 100);
const connect = async (i) => {
  const body = JSON.stringify({ service: 'Session' + (i % 100), url: 'http://127.0.0.1:9/session/' + i, liveness: 'session' });
  const answer = await send('POST', '/v1/instances', body);
  if (answer.status !== 200 && answer.status !== 201) throw new Error('register answered ' + answer.status + ': ' + answer.body);
  const parsed = JSON.parse(answer.body);
  await hold((parsed.instance ?? parsed).id);
};
let next = 0;
const worker = async () => { while (next < count) await connect(next++); };
Promise.all(Array.from({ length: 64 }, worker)).then(() => console.log('ready'), (error) => { console.error(error); process.exit(1); });
process.on('SIGUSR2', () => console.log('pings ' + pings + ' ' + reopened));
`;

export async function runSessionScale(options: BenchOptions): Promise<SessionScaleResult> {
  const { instances, settleMs, floorWindowMs: windowMs } = options.sizes.scale;
  return withScope(async (scope) => {
    const registry = await startRegistry(scope, { store: 'memory', cpuProfileDir: options.cpuProfileDir });
    await sleep(500);
    const baselineRssBytes = rssBytes(registry.pid);
    progress(`session scale: connecting ${instances} session instances`);
    const holder = await startHolder(scope, registry, instances);
    await sleep(settleMs);
    progress(`session scale: measuring the registry for ${windowMs / 1000} s`);
    const before = await holder.pings();
    const usage = await sampleUsage(registry.pid, windowMs);
    const after = await holder.pings();
    const pingsPerSecond = (after.answered - before.answered) / (usage.windowMs / 1000);
    const reopened = after.reopened - before.reopened;
    const roster = { ...usage, fds: openFds(registry.pid), pingsPerSecond };
    const critical = await countCritical(scope, registry);
    progress(`session scale: CPU ${roster.cpuPercent.toFixed(1)} % (kernel ${roster.systemPercent.toFixed(1)} %), RSS ${(roster.rssMeanBytes / 1e6).toFixed(1)} MB, ${Math.round(pingsPerSecond)} pings/s answered, ${reopened} streams reopened, ${roster.fds} fds, ${critical} not passing`);
    return { instances, roster, reopened, baselineRssBytes, critical };
  });
}

async function startHolder(scope: Scope, registry: RegistryEndpoint, instances: number) {
  const env = { BENCH_REGISTRY: registry.url, BENCH_TOKEN: registry.token ?? '', BENCH_COUNT: String(instances) };
  const handle = spawnChild(scope, process.execPath, ['-e', HOLDER_SOURCE], env);
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  handle.child.stdout!.on('data', (chunk: Buffer) => {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    for (const wake of waiters.splice(0)) wake();
  });
  const nextLine = (prefix: string, timeoutMs: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the session holder printed no "${prefix}" within ${timeoutMs / 1000} s:\n${handle.output()}`)), timeoutMs);
      const look = (): void => {
        const index = lines.findIndex((line) => line.startsWith(prefix));
        if (index < 0) return void waiters.push(look);
        clearTimeout(timer);
        resolve(lines.splice(0, index + 1).at(-1)!);
      };
      handle.child.once('exit', () => reject(new Error(`the session holder exited:\n${handle.output()}`)));
      look();
    });
  await nextLine('ready', 300_000);
  return {
    ...handle,
    async pings(): Promise<{ answered: number; reopened: number }> {
      handle.child.kill('SIGUSR2');
      const [, answered, reopened] = (await nextLine('pings', 10_000)).split(' ');
      return { answered: Number(answered), reopened: Number(reopened) };
    },
  };
}

async function countCritical(scope: Scope, registry: RegistryEndpoint): Promise<number> {
  const { status, body } = await sendJson(openPool(scope, registry, 1), 'GET', '/v1/services');
  if (status !== 200) throw new Error(`GET /v1/services answered ${status}`);
  const { services } = JSON.parse(body) as { services: Array<{ critical: number }> };
  return services.reduce((sum, service) => sum + service.critical, 0);
}

const MB = 1_000_000;

export function sessionScaleRows(result: SessionScaleResult, probed: ScaleResult | null): Row[] {
  const { roster } = result;
  const load = `${result.instances.toLocaleString('en-US')} session instances connected (streams held by one client process, ${formatNumber(roster.pingsPerSecond)} pings/s answered, ${result.reopened} streams cut and reopened, ${result.critical} not passing at the end, ${roster.fds} open fds), over ${formatNumber(roster.windowMs / 1000, 0)} s`;
  const beside = probed ? `; beside: ${probed.instances.toLocaleString('en-US')} probed instances ${formatNumber(probed.roster.cpuPercent, 1)} % of one core, ${formatNumber(probed.roster.rssMeanBytes / MB, 1)} MB` : '';
  const row = { scenario: 'session scale', etcd: NONE, ratio: NONE };
  return [
    { ...row, figure: `registry CPU while idle: ${load}${beside}`, target: '≤ 5 % of one core', result: `${formatNumber(roster.cpuPercent, 1)} % of one core (kernel ${formatNumber(roster.systemPercent, 1)} %)`, met: roster.cpuPercent <= 5 && result.critical === 0 && result.reopened === 0 },
    { ...row, figure: `registry RSS, mean (max): ${load}; empty registry ${formatNumber(result.baselineRssBytes / MB, 1)} MB`, target: '≤ 150 MB', result: `${formatNumber(roster.rssMeanBytes / MB, 1)} MB (${formatNumber(roster.rssMaxBytes / MB, 1)} MB)`, met: roster.rssMaxBytes <= 150 * MB },
  ];
}
