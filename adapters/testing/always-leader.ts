/**
 * A Backend stub on which every claim wins: a claim that finds the lease held (by another holder, or busy by
 * another invocation of the same holder) ends that term and takes a new one. Otherwise it is the memory backend,
 * so renewals, park/resume, guarded transactions and reads behave as there; the displaced invocation's guarded
 * writes are refused. For unit tests of the code a leader runs, where who wins does not matter.
 */
import { type MemoryBackend, type MemoryBackendOptions, memoryBackend } from "./memory-backend.ts";

/**
 * Creates an always-winning store on a fresh memory backend; `options` are the memory backend's.
 * @throws {InvalidArgumentError} as {@link memoryBackend}.
 */
export function alwaysLeader(options: MemoryBackendOptions = {}): MemoryBackend {
  const inner = memoryBackend(options);
  return {
    ...inner,
    kind: "always-leader",
    async claim(req, ctx) {
      const outcome = await inner.claim(req, ctx);
      if (outcome.held) return outcome;
      const { holder, leaseId, token, ttlMs } = outcome.leader;
      // The memory backend's release revokes by lease ID and compares no hold mark, so none is needed here.
      await inner.release(
        { name: req.name, holder, leaseId, token, ttlMs: ttlMs ?? req.ttlMs, hold: "" },
        ctx,
      );
      return inner.claim(req, ctx);
    },
  };
}
