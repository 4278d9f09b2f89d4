// Many instances whose heartbeat URLs are served by a few real listeners: instance i is
// http://127.0.0.1:<port>/i/<i>, probed at /hb/<i>. For the scale and failure scenarios.
import { inBatches, listenMany, openPool, register } from './http.js';
import type { RegistryEndpoint } from './processes.js';
import type { Scope } from './scope.js';

export interface Farm {
  readonly origins: readonly string[];
  /** Probes answered so far, all listeners together. */
  probes(): number;
}

/** The listeners; they keep Node's default keep-alive timeout, as a real service would. */
export async function startFarm(scope: Scope, listenerCount: number): Promise<Farm> {
  let probes = 0;
  const listeners = await listenMany(
    scope,
    listenerCount,
    () => (_req, res) => {
      probes += 1;
      res.end('ok');
    },
    { keepAliveTimeoutMs: null },
  );
  return { origins: listeners.map((l) => l.origin), probes: () => probes };
}

/** Instance i of the farm; the bare prober of the scale scenario builds the same URLs. */
export function farmInstance(farm: Farm, i: number): { url: string; heartbeatUrl: string } {
  const origin = farm.origins[i % farm.origins.length]!;
  return { url: `${origin}/i/${i}`, heartbeatUrl: `${origin}/hb/${i}` };
}

/** Registers `instances` farm instances, spread over 100 services. */
export async function registerFarm(scope: Scope, registry: RegistryEndpoint, farm: Farm, instances: number): Promise<void> {
  const pool = openPool(scope, registry, 32);
  const indexes = Array.from({ length: instances }, (_, i) => i);
  await inBatches(indexes, 32, async (i) => {
    await register(pool, { service: `Farm${i % 100}`, ...farmInstance(farm, i) });
  });
}
