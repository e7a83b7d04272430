/**
 * The key of a lease handle's entry for a queued campaign (src/elector-campaign.ts, used by `startElector`): the
 * campaign runs inside the handle's call queue with these ports, and the handle holds the term it won. Not part
 * of the `Lease` interface: a wrapped lease without it campaigns by claiming.
 */
import type { CallContext, ClaimOutcome, ClaimRequest, LeaderInfo, TermRef } from "./backend.ts";
import type { CallOptions } from "./lease.ts";

export const campaignHook = Symbol("campaign");

export interface CampaignPorts {
  /** The claim request of this handle under `claimId`. */
  request(claimId: bigint): ClaimRequest;
  /** One `claim()` of the handle (its pending claim ID kept across a retried answer); holds what it wins. */
  claimOnce(ctx: CallContext): Promise<ClaimOutcome>;
  /** Runs one request under the handle's full `requestTimeoutMs` deadline (`withDeadline`), not cut. */
  call<T>(options: CallOptions | undefined, fn: (ctx: CallContext) => Promise<T>): Promise<T>;
  /** The election's leader while queued, for `state()`; the caller has checked it (`checkLeader`). */
  seen(leader: LeaderInfo | null): void;
  /** The term this handle holds (for a transfer of it, src/elector-transfer.ts), or null. */
  term(): TermRef | null;
}

/**
 * What a campaign won, its leader checked (`checkLeader`), and when its lease's renewal was sent (local ms); or
 * null when the run ended the term this handle held (a transfer): the handle then holds nothing.
 */
export type Won = { outcome: Extract<ClaimOutcome, { held: true }>; sentAt: number } | null;
