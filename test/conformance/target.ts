/**
 * What the shared backend conformance suite needs from a backend under test. One suite
 * (`runConformance` in suite.ts) runs unchanged against every backend; capability flags decide which cases apply.
 */
import type { Backend, Clock, Transport } from "../../src/index.ts";

export interface ConformanceTarget {
  /** Shown in test names, e.g. "etcd 3.4". */
  name: string;
  /**
   * A backend on a fresh key prefix (each test passes its own, so tests never see each other's leases).
   * `transport`, when given, must be used for every request: the suite passes fault-injecting wrappers of
   * `baseTransport`.
   */
  makeBackend(options: { prefix: string; transport?: Transport }): Backend;
  /**
   * The transport faults are injected into (HTTP backends). Absent for backends without HTTP (memory):
   * then the malformed-response, 5xx and timeout cases are skipped.
   */
  baseTransport?: Transport;
  /**
   * Lets lease time pass. Fake clocks advance instantly; real stores wait for their real TTL (few tests do).
   * `clock` is handed to `createLease`.
   */
  clock: Clock;
  elapse(ms: number): Promise<void>;
  /** Extra time, in ms, a real store may take to expire a lease after its TTL (etcd: up to 500 ms + tick). */
  expirySlackMs: number;
  /**
   * What the store behind `prefix` holds: its live leases and its revision. Only for targets that can tell
   * exactly (memory: one store per prefix); a shared server, whose revision other tests move, leaves it out and
   * the suite counts requests instead.
   */
  footprint?(prefix: string): Promise<{ leases: number; revision: bigint }>;
}
