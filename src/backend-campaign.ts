/**
 * The optional campaign capability of the Backend contract (`Backend.campaign`, `capabilities.campaign` and
 * `capabilities.transfer`): queued candidates as etcd's `clientv3/concurrency` Campaign has them, and the
 * transfer of a term to one of them.
 */
import type { CallContext, ClaimRequest, LeaderInfo, TermRef } from "./backend.ts";

/**
 * A queued candidate of an election (see {@link CampaignBackend}): its own store lease, and the create revision
 * of its candidate key, the fencing token it will lead with.
 */
export interface Candidate {
  /** The candidate's store lease ID, decimal (etcd: the claim ID, so a retried enqueue finds its own lease). */
  leaseId: string;
  /** The candidate key's create revision: the token of the term it leads, once every earlier candidate is gone. */
  token: bigint;
}

/**
 * What one step of a campaign found.
 * - `held: true`: the candidate was first in the queue and now leads: its term record is written under the
 *   candidate's lease (`hold` is its mark, `leader.token` the candidate's token), and the lease was renewed.
 * - `held: false`: a candidate created earlier is still queued (`leader` is the election's current leader as
 *   `leader()` reports it: a first candidate that has not written its term record yet is reported as a Go
 *   candidate is, by its proclaimed value with `ttlMs` null); `ahead` names what to
 *   wait for with {@link CampaignBackend.waitGone} (the predecessor's key), opaque to the core. The candidate's
 *   lease was renewed: `grantedTtlMs`.
 */
export type CampaignStep =
  | { held: true; leader: LeaderInfo; grantedTtlMs: number; hold: string }
  | { held: false; leader: LeaderInfo | null; ahead: string; grantedTtlMs: number };

/**
 * Campaigning by queueing, as etcd's `clientv3/concurrency` Election does: each campaigner puts its own
 * candidate key on its own lease, waits until every candidate created before it is gone, then leads by writing
 * the term record guarded by its candidate key. The leader is always the first candidate, so fencing tokens
 * (candidate create revisions) strictly increase from one term to the next. The core drives the loop (enqueue,
 * step, wait; renewals at its own interval) so that the backend stays a stateless translator:
 * see `Lease.campaign`.
 */
export interface CampaignBackend {
  /**
   * Grants the candidate's lease (`req.claimId` as its ID, `req.ttlMs`) and puts its candidate key on it (etcd:
   * `POST /v3/lease/grant` pipelined with a txn that creates `E/<lease ID hex>` only while absent, else reads
   * it). A retry under the same claim ID finds its own lease and key.
   */
  enqueue(req: ClaimRequest, ctx: CallContext): Promise<Candidate & { grantedTtlMs: number }>;
  /**
   * Leads if `candidate` is first, else says what it waits for; renews the candidate's lease either way (etcd:
   * ONE txn comparing the candidate key's create revision and lease, every candidate's create revision ≥ its
   * own, and the term record absent, putting the busy record; else reading the candidate, its predecessor
   * (highest create revision below its own), the first candidate and the record; pipelined with
   * `POST /v3/lease/keepalive`).
   * @throws {LeaseLostError} the candidate's key or lease is gone (it expired): enqueue again.
   */
  step(req: ClaimRequest, candidate: Candidate, ctx: CallContext): Promise<CampaignStep>;
  /**
   * Resolves once `ahead` (from a {@link CampaignStep}) is deleted, or when the wait can no longer tell (then
   * the core steps again, which reads); rejects with the signal's reason when `options.signal` aborts (etcd:
   * `POST /v3/watch` on that one key from the step's revision, as Go's `waitDeletes`).
   * @throws {LeaseError} the watch failed; the core steps again at its next renewal.
   */
  waitGone(
    name: string,
    ahead: string,
    options: { signal: AbortSignal; requestTimeoutMs: number },
  ): Promise<void>;
  /**
   * Optional, with `capabilities.transfer`: ends `term` and hands it to the queued leasehold candidate of
   * `req.toHolder`, which alone may lead for `req.windowMs` (whole seconds, at least the store's minimum TTL);
   * after the window, whoever is first leads as before. Resolves once the store has ended the term (etcd: one
   * read-only txn of the candidates and their queue markers `<prefix>#q/<name>/<lease ID hex>`; then
   * `POST /v3/lease/grant` of the window's lease pipelined with ONE txn guarded by the term (candidate key,
   * lease, the hold's mod revision) and by the create revisions of the target and of every candidate ahead of
   * it and their markers, that deletes the term's candidate key and the candidates ahead (they queue again,
   * behind the target) and puts the transfer record at `E` on the window's lease; then `POST /v3/lease/revoke`
   * of the term's lease). The target leads by its next {@link step}, which replaces the transfer record with its
   * term record.
   * @throws {InvalidArgumentError} (field `toHolder`) refused before anything was written: no such queued
   *   candidate, more than one, or a candidate that is not leasehold's (a Go candidate, `etcdctl elect`) queued
   *   ahead of it; the term goes on.
   * @throws {LeaseLostError} the term is no longer held. Any other error leaves the outcome in doubt.
   */
  transfer?(term: TermRef, req: TransferRequest, ctx: CallContext): Promise<void>;
}

/** What {@link CampaignBackend.transfer} hands on, and for how long. */
export interface TransferRequest {
  /** The holder of the queued candidate to lead next. */
  toHolder: string;
  /** How long only that candidate may lead, in ms: a whole number of seconds within the store's TTL range. */
  windowMs: number;
}
