// The registry client contract against the real registry, built as users build it and guarded
// as it is by default: the client sends the admin token.
import { startWatchRegistry } from '../../helpers/watch-registry.js';
import { registryClientContract } from './registry-contract.js';

registryClientContract({
  async start(t) {
    const registry = await startWatchRegistry(t, { adminToken: 'client-contract-admin-token' });
    return { url: registry.url, token: registry.adminToken };
  },
});
