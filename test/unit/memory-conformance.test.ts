import { fakeClock, type MemoryBackend, memoryBackend } from "../../adapters/testing/index.ts";
import { runConformance } from "../conformance/suite.ts";

const clock = fakeClock();
const stores = new Map<string, MemoryBackend>();

runConformance({
  name: "memory",
  makeBackend: ({ prefix }) => {
    let store = stores.get(prefix);
    if (!store) {
      store = memoryBackend({ clock, prefix });
      stores.set(prefix, store);
    }
    return store;
  },
  clock,
  elapse: async (ms) => clock.advance(ms),
  expirySlackMs: 0,
});
