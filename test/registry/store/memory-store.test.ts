import { MemoryStore } from '../../../src/registry/store/memory-store.js';
import { storeContract } from './store-contract.js';

storeContract('memory store', {
  create: async () => new MemoryStore(),
  reopen: async (store) => store,
});
