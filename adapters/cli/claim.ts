/**
 * `run`'s claim: once, or with `--wait` again until the lease is won or the wait runs out. While waiting, the
 * lease is followed with `observe()` (a watch: etcd's, leasehold-zk-gateway's; polling without one), and
 * a change that frees the lease, or parks this holder's own term, is claimed at once. A claim is also sent at
 * least every {@link backstopMs} (±20 % jitter, so waiting hosts spread out), so that a change the observation
 * did not report (a gap while it falls back to polling) never strands the waiter. A claim that finds the lease
 * held is one read-only request (no writes, no lease).
 */
import { isLeaseError, type Lease, type LeaseState } from "../../src/backend-kit.ts";
import { formatMs } from "./duration.ts";
import type { Reporter } from "./output.ts";
import { Wakeup } from "./wakeup.ts";

/** How often `observe()` reads `leader()` while it polls, in ms: a quarter of the TTL, at most a second. */
function pollIntervalMs(ttlMs: number): number {
  return Math.min(1000, Math.ceil(ttlMs / 4));
}

/** The longest time between two claims while waiting, in ms, whatever the observation says: the TTL, at most 10 s. */
function backstopMs(ttlMs: number): number {
  return Math.min(10_000, ttlMs);
}

/** Who holds the lease, for messages: `host-2 (token 41)`, or this holder's own busy term. */
export function describeHolder(state: LeaseState): string {
  if (state.busy)
    return `${state.holder} (token ${state.token}; busy: another invocation of this holder holds it)`;
  return `${state.holder ?? "nobody"} (token ${state.token ?? "none"})`;
}

const jitter = (ms: number) => ms * (0.8 + 0.4 * Math.random());

/**
 * Claims `lease`: once when `waitMs` is undefined, else until it is won, `waitMs` ms have passed (Infinity: no
 * limit) or `signal` aborts. While waiting, failures a retry may cure are reported and retried after the poll
 * interval; the observation's modes are reported (`observing` events).
 * Resolves with the last state (`isLeader` false when not won).
 * @throws the claim's error: always without `--wait`, and when it is not retryable with it.
 */
export async function claimLease(
  lease: Lease,
  waitMs: number | undefined,
  signal: AbortSignal,
  report: Reporter,
): Promise<LeaseState> {
  if (waitMs === undefined) return lease.claim({ signal });
  const giveUpAt = Date.now() + waitMs;
  const stop = new AbortController();
  const observing = AbortSignal.any([signal, stop.signal]);
  let wakeup: Wakeup | undefined;
  let seen = "";
  try {
    for (;;) {
      let state: LeaseState | undefined;
      try {
        state = await lease.claim({ signal });
      } catch (error) {
        if (signal.aborted || !isLeaseError(error) || !error.retryable) throw error;
        report.event(
          "claim-failed",
          { code: error.code, message: error.message },
          `claim failed, retrying: ${error.message}`,
        );
      }
      if (state?.isLeader || signal.aborted) return state ?? lease.state();
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
      // Started after the first claim found the lease held: its first change is the state as it starts, so a
      // release in between is not missed.
      wakeup ??= new Wakeup(lease, observing, {
        pollIntervalMs: pollIntervalMs(lease.ttlMs),
        onMode: (mode, reason) =>
          report.event(
            "observing",
            { name: lease.name, mode, reason },
            `${mode === "watch" ? "watching" : "polling"} ${lease.name}: ${reason}`,
          ),
      });
      const next = state ? backstopMs(lease.ttlMs) : pollIntervalMs(lease.ttlMs);
      await wakeup.wait(Math.min(jitter(next), left));
    }
  } finally {
    stop.abort();
    await wakeup?.closed();
  }
}
