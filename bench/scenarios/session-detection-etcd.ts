// etcd's counterpart of session liveness: a provider process holds a lease at etcd's minimum TTL
// with keep-alive and has put its key under it; a watcher on the key hears the delete once the
// lease expires. The provider is SIGKILLed or SIGSTOPped; either way etcd learns of it only when
// the keep-alives stop and the TTL runs out (a closed gRPC connection revokes nothing).
import { Etcd3 } from 'etcd3';
import { performance } from 'node:perf_hooks';
import { Arrivals } from '../lib/arrivals.js';
import { inBatches } from '../lib/http.js';
import { sleep } from '../lib/log.js';
import { spawnChild, startEtcd } from '../lib/processes.js';
import { killQuietly, withScope, type Scope } from '../lib/scope.js';

/**
 * etcd's minimum lease TTL with its default election timeout (1 s): a lease shorter than
 * 1.5 × the election timeout is raised to it, rounded up to whole seconds.
 */
export const ETCD_LEASE_TTL_S = 2;

// A provider as an etcd user's service would be: the etcd3 client's lease with automatic
// keep-alive (every TTL / 3), its key put under the lease. CommonJS so that etcd3 resolves from
// the repository, where the child runs.
const PROVIDER_SOURCE = `
const { Etcd3 } = require('etcd3');
const client = new Etcd3({ hosts: process.env.ETCD });
const lease = client.lease(Number(process.env.TTL));
lease.on('lost', () => {});
lease.put(process.env.KEY).value('up').then(() => console.log('ready'), (error) => { console.error(error); process.exit(1); });
`;

const CONCURRENCY = 4;
const PREFIX = 'sessions/';

/** Signal → watcher sees the delete, per trial, for each signal in `failures` (`trials` each). */
export async function runEtcdLeaseDetection<F extends string>(failures: readonly F[], trials: number, signalOf: (failure: F) => NodeJS.Signals): Promise<Map<F, number[]>> {
  return withScope(async (scope) => {
    const etcd = await startEtcd(scope);
    const client = new Etcd3({ hosts: etcd.endpoint });
    scope.defer(() => client.close());
    const arrivals = new Arrivals();
    const watcher = await client.watch().prefix(PREFIX).create();
    watcher.on('delete', (kv) => arrivals.record(kv.key.toString(), performance.now()));
    watcher.on('error', () => {});
    scope.defer(() => watcher.cancel());
    const plan = failures.flatMap((failure) => Array.from({ length: trials }, () => failure));
    const times = new Array<number>(plan.length);
    await inBatches(plan, CONCURRENCY, async (failure, index) => {
      times[index] = await leaseTrial(scope, etcd.endpoint, arrivals, `${PREFIX}provider-${index}`, signalOf(failure));
    });
    return new Map(failures.map((failure) => [failure, times.filter((_, i) => plan[i] === failure)]));
  });
}

async function leaseTrial(scope: Scope, endpoint: string, arrivals: Arrivals, key: string, signal: NodeJS.Signals): Promise<number> {
  const provider = spawnChild(scope, process.execPath, ['-e', PROVIDER_SOURCE], { ETCD: endpoint, TTL: String(ETCD_LEASE_TTL_S), KEY: key });
  scope.defer(() => killQuietly(provider.child, 'SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the etcd provider did not start within 60 s:\n${provider.output()}`)), 60_000);
    provider.child.stdout!.on('data', (chunk: Buffer) => {
      if (!chunk.toString().includes('ready')) return;
      clearTimeout(timer);
      resolve();
    });
    provider.child.once('exit', () => reject(new Error(`the etcd provider exited:\n${provider.output()}`)));
  });
  // Strike at a random point of the keep-alive cycle (every TTL / 3).
  await sleep(1000 + Math.random() * ETCD_LEASE_TTL_S * 1000);
  const told = arrivals.waitFor(key, 1, 30_000);
  provider.child.kill(signal);
  const struck = performance.now();
  const [at] = await told;
  killQuietly(provider.child, 'SIGKILL');
  return at! - struck;
}
