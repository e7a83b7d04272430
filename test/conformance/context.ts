/**
 * What every conformance case shares: fresh key prefixes (so that cases never see each other's leases), lease
 * handles with the suite's defaults, and direct Backend calls for the cases that bypass the core.
 */
import {
  type Backend,
  type BackendCapabilities,
  type CallContext,
  createLease,
  type Lease,
  type LeaseOptions,
} from "../../src/backend-kit.ts";
import type { ConformanceTarget } from "./target.ts";

/** The lease name most cases use. */
export const LEASE_NAME = "jobs/nightly";

let run = 0;
const runId = Math.random().toString(36).slice(2, 8);

export interface SuiteContext {
  target: ConformanceTarget;
  caps: BackendCapabilities;
  /** The TTL every handle asks for, in ms: the store's minimum, so that real expiry waits stay short. */
  ttlMs: number;
  /** A backend on a new key prefix. */
  fresh(): { prefix: string; backend: Backend };
  /** A handle on {@link LEASE_NAME} with the suite's TTL and the target's clock. */
  lease(backend: Backend, holder: string, extra?: Partial<LeaseOptions>): Lease;
  /** A data key no other case uses. */
  key(suffix: string): string;
  /** Options that let `doIfLeader` run on every backend: non-atomic guards are allowed where there is no other. */
  guarded: Partial<LeaseOptions>;
  /** The context of one direct Backend call (10 s deadline). */
  call(): CallContext;
  /** A claim ID as the core draws them: a random int64 in [2^62, 2^63). */
  claimId(): bigint;
}

export function suiteContext(target: ConformanceTarget): SuiteContext {
  const fresh = () => {
    const prefix = `conformance-${runId}-${run++}/`;
    return { prefix, backend: target.makeBackend({ prefix }) };
  };
  const caps = fresh().backend.capabilities;
  const ttlMs = caps.minTtlMs;
  return {
    target,
    caps,
    ttlMs,
    fresh,
    lease: (backend, holder, extra = {}) =>
      createLease({ backend, name: LEASE_NAME, holder, ttlMs, clock: target.clock, ...extra }),
    key: (suffix) => `conformance-data-${runId}-${run++}/${suffix}`,
    guarded: caps.atomicGuard ? {} : { allowNonAtomicGuard: true },
    call: () => ({ signal: AbortSignal.timeout(10_000), timeoutMs: 10_000 }),
    claimId: () => {
      const words = crypto.getRandomValues(new Uint32Array(2));
      return (1n << 62n) | (BigInt((words[0] as number) & 0x3fffffff) << 32n) | BigInt(words[1] as number);
    },
  };
}
