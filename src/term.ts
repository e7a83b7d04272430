/**
 * `keepTerm`: keeps the term a lease handle holds alive while work runs, and says when and why it ended. The one
 * renewal loop of the library: the Elector and the Workers `scheduled` helper both use it.
 */
import type { Clock } from "./clock.ts";
import { isLeaseError, LeaseLostError } from "./errors.ts";
import type { Lease } from "./lease.ts";

/**
 * How a held term ended:
 * - `lost`: a renewal found the lease gone (`LeaseLostError`) or failed for good (a non-retryable error);
 * - `expired`: the local `validUntil` passed first (renewals kept failing with retryable errors, or the process
 *   could not run in time); `error` is the last renewal's error, or a `LeaseLostError` when there was none;
 * - `stopped`: the caller's signal aborted; the term may still be held: hand it on with `lease.park()` (the
 *   holder's next invocation resumes it) or `lease.release()` (anyone may take over at once);
 * - `transferred`: only from an Elector, whose `transfer(toHolder)` handed the term to that candidate.
 */
export type TermEnd =
  | { reason: "lost" | "expired"; error: unknown }
  | { reason: "stopped" }
  | { reason: "transferred"; toHolder: string };

/** The ends {@link keepTerm} reports: every {@link TermEnd} but `transferred`. */
export type KeptTermEnd = Exclude<TermEnd, { reason: "transferred" }>;

/**
 * Renews `lease` (one `renew()` per round) every `renewIntervalMs` ms, waking no later than the term's
 * `validUntil`, so that an end is reported on time; resolves with the {@link TermEnd}. Never rejects.
 * `onRenewError` is called with every failed renewal the term survives (a retryable error, tried again at the
 * next round), as it happens; the error that ends a term is in the {@link TermEnd} instead.
 * Call it only while `lease.state().isLeader`; otherwise it resolves with `expired` at once.
 */
export async function keepTerm(
  lease: Pick<Lease, "name" | "state" | "renew">,
  renewIntervalMs: number,
  clock: Clock,
  signal: AbortSignal,
  onRenewError?: (error: unknown) => void,
): Promise<KeptTermEnd> {
  let lastError: unknown;
  const expired = () => ({
    reason: "expired" as const,
    error: lastError ?? new LeaseLostError(`lease ${lease.name}: the term's validUntil passed`),
  });
  for (;;) {
    const { isLeader, validUntil } = lease.state();
    if (!isLeader || validUntil === null) return expired();
    try {
      await clock.sleep(Math.min(renewIntervalMs, validUntil - clock.now()), signal);
    } catch {
      return { reason: "stopped" };
    }
    if (!lease.state().isLeader) return expired();
    try {
      await lease.renew({ signal });
      lastError = undefined;
    } catch (error) {
      if (signal.aborted) return { reason: "stopped" };
      if (!isLeaseError(error) || !error.retryable) return { reason: "lost", error };
      lastError = error;
      onRenewError?.(error);
    }
  }
}
