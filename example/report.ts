/**
 * The job both triggers run: it records who ran it, in which term, as one guarded write. The write commits only
 * while the caller still holds that very term, so the journal holds at most one entry per term even if a
 * leader is paused past its lease.
 */
import type { Lease, TxnOutcome } from "leasehold";

/** Journal keys: `example/journal/<lease name>/<fencing token>/<holder>`. */
export const JOURNAL_PREFIX = "example/journal/";

export function runReport(lease: Lease, token: bigint, trigger: string): Promise<TxnOutcome> {
  const key = `${JOURNAL_PREFIX}${lease.name}/${token}/${lease.holder}`;
  return lease.doIfLeader([{ type: "put", key, value: JSON.stringify({ trigger, holder: lease.holder }) }]);
}
