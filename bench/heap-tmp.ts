import { writeHeapSnapshot } from 'node:v8';
import { registerFarm, startFarm } from './lib/heartbeat-farm.js';
import { withScope } from './lib/scope.js';
import { startRegistry } from '../dist/registry/index.js';
const gc = (globalThis as any).gc as () => void;
await withScope(async (scope) => {
  const farm = await startFarm(scope, 4);
  const running = await startRegistry({ store: 'memory', port: 0, host: '127.0.0.1' } as any);
  scope.defer(() => running.close());
  const url = (running as any).url;
  gc(); const h0 = process.memoryUsage().heapUsed;
  await registerFarm(scope, url, farm, 10000);
  await new Promise((r) => setTimeout(r, 8000));
  gc(); gc();
  const h1 = process.memoryUsage().heapUsed;
  console.log('live heap per instance', ((h1 - h0) / 10000).toFixed(0), 'B; total live', (h1 / 1e6).toFixed(1), 'MB');
  if (process.env.SNAP) console.log(writeHeapSnapshot('/tmp/pb/reg.heapsnapshot'));
});
