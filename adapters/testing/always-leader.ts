/**
 * A Backend stub on which every claim wins: a claimant takes the lease over from any other holder. Otherwise it
 * is the memory backend, so renewals, guarded transactions and reads behave as there. For unit tests of the
 * code a leader runs, where who wins does not matter.
 */
import { type MemoryBackend, type MemoryBackendOptions, memoryBackend } from "./memory-backend.ts";

export function alwaysLeader(options: MemoryBackendOptions = {}): MemoryBackend {
  const inner = memoryBackend(options);
  return {
    ...inner,
    kind: "always-leader",
    async claim(req, ctx) {
      const outcome = await inner.claim(req, ctx);
      if (outcome.held) return outcome;
      const { holder, leaseId, token } = outcome.leader;
      await inner.release({ name: req.name, holder, leaseId, token }, ctx);
      return inner.claim(req, ctx);
    },
  };
}
