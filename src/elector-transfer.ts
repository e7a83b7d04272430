/**
 * `Elector.transfer`: hands the term a lease handle holds to a named queued candidate, through the backend's
 * `CampaignBackend.transfer`, inside the handle's call queue (so that no renewal or guarded write of the term
 * runs meanwhile). Afterwards the handle holds nothing, whatever the outcome, unless the backend refused before
 * writing anything.
 */

import { type CampaignPorts, campaignHook, type Won } from "./campaign-hook.ts";
import { InvalidArgumentError, LeaseLostError, UnsupportedError } from "./errors.ts";
import type { Lease } from "./lease.ts";
import { validateHolder } from "./names.ts";

export interface TransferOptions {
  /**
   * How long only the target may take the lease, in ms; rounded up to whole seconds and to at least the store's
   * minimum TTL (etcd: 2000). Default: the lease's TTL. After it, whoever is first in the queue leads.
   */
  windowMs?: number;
}

/** The window in ms as the store is asked for it (whole units of its TTL granularity, within its range). */
function windowOf(lease: Lease, windowMs: number | undefined): number {
  const { minTtlMs, maxTtlMs, ttlGranularityMs } = lease.backend.capabilities;
  const ms = windowMs ?? lease.ttlMs;
  if (!Number.isInteger(ms) || ms < 1 || ms > maxTtlMs) {
    throw new InvalidArgumentError("windowMs", `must be a whole number of ms from 1 to ${maxTtlMs}`);
  }
  return Math.max(minTtlMs, Math.ceil(ms / ttlGranularityMs) * ttlGranularityMs);
}

/**
 * Transfers the term `lease` holds to the queued candidate of `toHolder` (see `Elector.transfer`). `ended` is
 * called once the term is over in the store, before the handle drops it: with no argument when the transfer
 * was made, with the error when its outcome is in doubt (the term was released) or the term was already lost.
 * @throws {InvalidArgumentError} `toHolder` or `windowMs` is invalid, or the backend refused (field `toHolder`):
 *   the term goes on.
 * @throws {UnsupportedError} the backend cannot transfer (`capabilities.transfer`), or `lease` is not a handle
 *   from `createLease`.
 * @throws {LeaseLostError} the handle holds no term.
 * @throws {LeaseError} any other failure: the outcome is in doubt, so the term was released (its lease revoked,
 *   best effort) and the handle holds nothing.
 */
export async function transferTerm(
  lease: Lease,
  toHolder: string,
  options: TransferOptions,
  ended: (error?: unknown) => void,
): Promise<void> {
  const { backend } = lease;
  const move = backend.campaign?.transfer;
  if (!backend.capabilities.transfer || !move) {
    throw new UnsupportedError(
      `${backend.kind} cannot transfer a term: it has no queue of candidates to hand it to (capabilities.transfer)`,
    );
  }
  if (!(campaignHook in lease)) {
    throw new UnsupportedError(`lease ${lease.name}: transfer needs a lease handle from createLease`);
  }
  validateHolder(toHolder, "toHolder");
  const windowMs = windowOf(lease, options.windowMs);
  const handle = lease as Lease & {
    [campaignHook](run: (p: CampaignPorts) => Promise<Won>): Promise<unknown>;
  };
  let failure: unknown;
  await handle[campaignHook](async (ports) => {
    const term = ports.term();
    if (!term) throw new LeaseLostError(`lease ${lease.name}: not leader; nothing to transfer`);
    try {
      await ports.call(undefined, (ctx) => move.call(backend.campaign, term, { toHolder, windowMs }, ctx));
    } catch (error) {
      // Refused before any write: the term goes on.
      if (error instanceof InvalidArgumentError) throw error;
      failure = error;
      if (!(error instanceof LeaseLostError)) {
        await ports.call(undefined, (ctx) => backend.release(term, ctx)).catch(() => undefined);
      }
    }
    ended(failure);
    return null;
  });
  if (failure !== undefined) throw failure;
}
