/**
 * `run`'s claim: once, or with `--wait` again and again until the lease is won or the wait runs out. There is no
 * watch in the library yet, so waiting polls: a claim that finds the lease held is one read-only request (no
 * writes, no lease), every `pollIntervalMs(ttlMs)` ms with ±20 % jitter so that waiting hosts spread out.
 */
import { setTimeout as delay } from "node:timers/promises";
import { isLeaseError, type Lease, type LeaseState } from "../../src/index.ts";
import { formatMs } from "./duration.ts";
import type { Reporter } from "./output.ts";

/** The poll interval while waiting, in ms: a quarter of the TTL, at most a second. */
export function pollIntervalMs(ttlMs: number): number {
  return Math.min(1000, ttlMs / 4);
}

/** Who holds the lease, for messages: `host-2 (token 41)`, or this holder's own busy term. */
export function describeHolder(state: LeaseState): string {
  if (state.busy)
    return `${state.holder} (token ${state.token}; busy: another invocation of this holder holds it)`;
  return `${state.holder ?? "nobody"} (token ${state.token ?? "none"})`;
}

const sleep = (ms: number, signal: AbortSignal) => delay(ms, undefined, { signal }).catch(() => undefined);

/**
 * Claims `lease`: once when `waitMs` is undefined, else until it is won, `waitMs` ms have passed (Infinity: no
 * limit) or `signal` aborts. While waiting, failures a retry may cure are reported and retried.
 * Resolves with the last state (`isLeader` false when not won).
 * @throws the claim's error: always without `--wait`, and when it is not retryable with it.
 */
export async function claimLease(
  lease: Lease,
  waitMs: number | undefined,
  signal: AbortSignal,
  report: Reporter,
): Promise<LeaseState> {
  const giveUpAt = Date.now() + (waitMs ?? 0);
  let seen = "";
  for (;;) {
    let state: LeaseState | undefined;
    try {
      state = await lease.claim({ signal });
    } catch (error) {
      if (waitMs === undefined || signal.aborted || !isLeaseError(error) || !error.retryable) throw error;
      report.event(
        "claim-failed",
        { code: error.code, message: error.message },
        `claim failed, retrying: ${error.message}`,
      );
    }
    if (state?.isLeader || waitMs === undefined || signal.aborted) return state ?? lease.state();
    const left = giveUpAt - Date.now();
    if (state && left > 0) {
      const now = `${state.holder}/${state.token}/${state.busy}`;
      if (now !== seen) {
        seen = now;
        const wait = Number.isFinite(left) ? ` (for up to ${formatMs(Math.ceil(left))})` : "";
        report.event(
          "waiting",
          { name: lease.name, holder: state.holder, token: state.token, busy: state.busy },
          `waiting for ${lease.name}${wait}: held by ${describeHolder(state)}`,
        );
      }
    }
    if (left <= 0) return state ?? lease.state();
    const interval = pollIntervalMs(lease.ttlMs) * (0.8 + 0.4 * Math.random());
    await sleep(Math.min(interval, left), signal);
  }
}
