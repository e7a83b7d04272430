/** Renews a held lease on a fixed interval while a scheduled job runs. */
import { type Clock, isLeaseError, type Lease } from "../../src/index.ts";

/**
 * Calls `lease.renew()` every `everyMs` until `stop` aborts. A retryable failure is retried at the next tick
 * while the term is still valid locally; any other failure, or a term that is no longer valid, calls `onLost`
 * with the error and ends the loop. Resolves once the loop has ended (no renewal is in flight).
 */
export async function keepRenewed(
  lease: Lease,
  everyMs: number,
  clock: Clock,
  stop: AbortSignal,
  onLost: (reason: unknown) => void,
): Promise<void> {
  for (;;) {
    try {
      await clock.sleep(everyMs, stop);
    } catch {
      return;
    }
    if (stop.aborted) return;
    try {
      await lease.renew();
    } catch (error) {
      const transient = isLeaseError(error) && error.retryable;
      if (!transient || !lease.state().isLeader) {
        onLost(error);
        return;
      }
    }
  }
}
