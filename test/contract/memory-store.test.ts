// Runs the shared idempotency store contract against the in-process MemoryStore.
import t from 'tap';
import { MemoryStore } from '../../src/idempotency/memory-store.js';
import { runStoreContract } from './store-contract.js';

runStoreContract(t, 'memory', async () => new MemoryStore({ maxEntries: 1000, maxBytes: 8 * 1024 * 1024 }));
