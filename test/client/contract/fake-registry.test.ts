// The registry client contract against the fake registry the client tests use.
import { FakeRegistry } from '../../helpers/fake-registry.js';
import { registryClientContract } from './registry-contract.js';

registryClientContract({
  async start(t) {
    const registry = await FakeRegistry.start();
    t.after(() => registry.stop());
    return {
      url: registry.url,
      token: null,
      requests: () => registry.requests.map((request) => `${request.method} ${request.path}`),
      dropConnections: () => registry.dropConnections(),
    };
  },
});
