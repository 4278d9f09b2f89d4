// Scenario 6: etcd doing the equivalent work in the same run, on the same machine: one member
// on loopback, driven through the etcd3 npm client.
//   registration: grant a lease and put the instance's key with it (timed), then revoke the
//     lease, which deletes the key — the counterpart of POST + DELETE /v1/instances;
//   propagation: a prefix watch per dependent, spread over several clients, each client its own
//     HTTP/2 connection (one connection carrying 1,000 watchers is the bottleneck otherwise);
//   lookups: a prefix range read of one service's keys.
import { Etcd3, type IOptions } from 'etcd3';
import { performance } from 'node:perf_hooks';
import { Arrivals } from '../lib/arrivals.js';
import { inBatches } from '../lib/http.js';
import { runLoad, type LoadResult } from '../lib/load.js';
import { progress } from '../lib/log.js';
import type { BenchOptions } from '../lib/options.js';
import { startEtcd } from '../lib/processes.js';
import { measureRounds } from '../lib/propagation.js';
import { withScope, type Scope } from '../lib/scope.js';
import { formatLatency, type Summary } from '../lib/stats.js';

export interface EtcdResult {
  registration: LoadResult;
  /** Watchers → latency. */
  propagation: Map<number, Summary>;
  lookups: LoadResult;
  watchersPerClient: number;
}

function connect(scope: Scope, endpoint: string): Etcd3 {
  // grpc-js shares one connection between clients to the same address unless told otherwise.
  const options: IOptions = { hosts: endpoint, grpcOptions: { 'grpc.use_local_subchannel_pool': 1 } };
  const client = new Etcd3(options);
  scope.defer(() => client.close());
  return client;
}

export async function runEtcdPeer(options: BenchOptions): Promise<EtcdResult> {
  return withScope(async (scope) => {
    const etcd = await startEtcd(scope);
    const client = connect(scope, etcd.endpoint);
    const registration = await leasedPuts(options, client);
    const propagation = new Map<number, Summary>();
    for (const watchers of options.sizes.propagation.dependents) {
      propagation.set(watchers, await withScope((inner) => watchPropagation(options, inner, etcd.endpoint, watchers)));
    }
    const lookups = await rangeReads(options, client);
    return { registration, propagation, lookups, watchersPerClient: options.sizes.etcd.watchersPerClient };
  });
}

async function leasedPuts(options: BenchOptions, client: Etcd3): Promise<LoadResult> {
  const { concurrency, durationMs, warmupMs, maxCount } = options.sizes.registration;
  const cycles = (tag: string, ms: number): Promise<LoadResult> =>
    runLoad({
      concurrency,
      durationMs: ms,
      maxCount,
      task: async (index) => {
        const url = `http://127.0.0.1:9/${tag}/${index}`;
        const begin = performance.now();
        const lease = client.lease(60, { autoKeepAlive: false });
        lease.on('lost', () => {});
        await lease.put(`services/Reg${index % 16}/${url}`).value(JSON.stringify({ service: `Reg${index % 16}`, url }));
        const latency = performance.now() - begin;
        await lease.revoke();
        return latency;
      },
    });
  await cycles('warmup', warmupMs);
  const result = await cycles('run', durationMs);
  progress(`etcd put with lease: ${Math.round(result.perSecond)}/s, p99 ${result.latency.p99.toFixed(2)} ms, ${result.errors} errors`);
  return result;
}

async function watchPropagation(options: BenchOptions, scope: Scope, endpoint: string, watchers: number): Promise<Summary> {
  const { rounds, warmupRounds, roundTimeoutMs } = options.sizes.propagation;
  const perClient = options.sizes.etcd.watchersPerClient;
  const clients = Array.from({ length: Math.ceil(watchers / perClient) }, () => connect(scope, endpoint));
  const arrivals = new Arrivals();
  await inBatches(Array.from({ length: watchers }, (_, i) => i), 32, async (i) => {
    const watcher = await clients[i % clients.length]!.watch().prefix('services/Provider/').create();
    watcher.on('put', (kv) => arrivals.record(`+${kv.key.toString()}`, performance.now()));
    watcher.on('delete', (kv) => arrivals.record(`-${kv.key.toString()}`, performance.now()));
    watcher.on('error', () => {});
    scope.defer(() => watcher.cancel());
  });
  const provider = clients[0]!;
  const lease = provider.lease(60);
  lease.on('lost', () => {});
  await lease.grant();
  scope.defer(() => lease.revoke());
  const summary = await measureRounds({
    arrivals,
    subscribers: watchers,
    rounds,
    warmupRounds,
    roundTimeoutMs,
    keyOf: (round) => `services/Provider/http://127.0.0.1:9/provider/${round}`,
    appear: async (key) => void (await lease.put(key).value(JSON.stringify({ service: 'Provider', url: key }))),
    disappear: async (key) => void (await provider.delete().key(key)),
  });
  progress(`etcd watch to ${watchers} (${clients.length} clients): ${formatLatency(summary)}`);
  return summary;
}

async function rangeReads(options: BenchOptions, client: Etcd3): Promise<LoadResult> {
  const { durationMs, maxCount, connections, instances } = options.sizes.lookups;
  for (let i = 0; i < instances; i++) {
    const url = `http://127.0.0.1:9/lookup/${i}`;
    await client.put(`services/Lookup/${url}`).value(JSON.stringify({ service: 'Lookup', url }));
  }
  const task = async (): Promise<void> => {
    const found = await client.getAll().prefix('services/Lookup/').strings();
    if (Object.keys(found).length !== instances) throw new Error('etcd range read returned the wrong number of keys');
  };
  await runLoad({ concurrency: connections, durationMs: Math.min(1000, durationMs), maxCount, task });
  const result = await runLoad({ concurrency: connections, durationMs, maxCount, task });
  progress(`etcd range reads: ${Math.round(result.perSecond)}/s`);
  return result;
}
