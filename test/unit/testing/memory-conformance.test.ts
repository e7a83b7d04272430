import { fakeClock, type MemoryBackend, memoryBackend } from "../../../adapters/testing/index.ts";
import { runConformance } from "../../conformance/suite.ts";

const clock = fakeClock();
const stores = new Map<string, MemoryBackend>();
const storeOf = (prefix: string): MemoryBackend => {
  let store = stores.get(prefix);
  if (!store) {
    store = memoryBackend({ clock, prefix });
    stores.set(prefix, store);
  }
  return store;
};

runConformance({
  name: "memory",
  // One store per prefix: every backend the suite makes on a prefix sees the same leases, as on a server.
  makeBackend: ({ prefix }) => storeOf(prefix),
  clock,
  elapse: async (ms) => clock.advance(ms),
  expirySlackMs: 0,
  footprint: async (prefix) => {
    const store = storeOf(prefix);
    return { leases: store.leaseCount(), revision: store.revision() };
  },
});
