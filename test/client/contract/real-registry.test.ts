// The registry client contract against the real registry, started as users start it and guarded
// as it is by default: the client sends the admin token.
import type { IncomingMessage } from 'node:http';
import { startRegistry } from '../../../src/registry/start-registry.js';
import { registryClientContract } from './registry-contract.js';

registryClientContract({
  async start(t) {
    const running = await startRegistry({ host: '127.0.0.1', port: 0 });
    t.after(() => running.close());
    const requests: string[] = [];
    running.app.server.on('request', (request: IncomingMessage) => void requests.push(`${request.method} ${request.url}`));
    return {
      url: running.url,
      token: running.adminToken,
      requests: () => [...requests],
      dropConnections: () => running.app.server.closeAllConnections(),
    };
  },
});
