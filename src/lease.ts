/**
 * `createLease`: one participant's handle on one named lease. It keeps only what this invocation learned (the
 * term it holds and its hold mark, a pending claim ID); everything else comes from the store in the same call,
 * so short-lived code can create a handle per invocation. Calls on one handle run one at a time, in call order.
 *
 * Ownership: a term is held by one handle at a time, never by a `holder` name. Two handles with the same
 * holder never both lead; sequential invocations of one holder keep the term by an explicit hand-off: a run
 * ends with `park()`, and the next claim by that holder resumes the parked term (see docs/design.md).
 */
import type { Backend, LeaderInfo } from "./backend.ts";
import { LeaseHandle } from "./lease-handle.ts";
import { type LeaseOptions, resolveOptions } from "./options.ts";
import type { Compare, TxnOp, TxnOutcome } from "./txn.ts";

/**
 * What one participant knows about a lease after a call.
 *
 * - `isLeader`: true only while this handle holds the term and local time is before `validUntil`.
 * - `holder`, `token`, `leaseId`, `value`: the current term as the store reported it (this handle's own when
 *   `isLeader`), or null when nobody holds the lease. `leaseIdHex` is `leaseId` in lowercase hex, the form
 *   `etcdctl lease timetolive` takes and the last segment of the term's etcd candidate key.
 * - `busy`: true when the claim found this holder's own term held by another invocation (a duplicated or
 *   overlapping run of the same holder): not leader, `holder` is this handle's own. It frees when that
 *   invocation parks or releases, or at most one TTL plus the store's expiry slack after it stopped renewing.
 * - `validUntil`: local epoch ms until which this handle may act as leader: the local time the claim or renew
 *   was sent + min(TTL asked, TTL the store granted) - the drift margin. Null when not leader.
 * - `ttlMs`: the current term's TTL in ms (the holder's own, for another holder): its lease expires at most
 *   this long after its last renewal (etcd adds up to 500 ms). Null when unknown (a Go election candidate).
 * - `ttlLeftMs`: an upper bound on the time the current term's store lease has left, in ms from now, should its
 *   holder renew it no more (counted down by `state()`, at least 0). For this handle's own term, from its last
 *   renewal: the TTL plus the store's expiry slack after the answer arrived. For another holder (or a busy term),
 *   from the call that read it: the holder's TTL plus the expiry slack, or the store's own figure when the claim
 *   asked for it (`ClaimOptions.ttlLeft`) and it is smaller. It is not a promise that the lease frees by then:
 *   a holder that keeps renewing keeps it. Null when unknown (a Go candidate publishes no TTL), and whenever
 *   `holder` is null.
 */
export interface LeaseState {
  name: string;
  isLeader: boolean;
  busy: boolean;
  holder: string | null;
  token: bigint | null;
  leaseId: string | null;
  leaseIdHex: string | null;
  validUntil: number | null;
  ttlMs: number | null;
  ttlLeftMs: number | null;
  value?: string;
}

/** Call options. `signal` aborts the call early (in addition to the `requestTimeoutMs` deadline). */
export interface CallOptions {
  signal?: AbortSignal;
}

/** Options of `claim()`. */
export interface ClaimOptions extends CallOptions {
  /**
   * When the claim finds the lease held (by another holder, or busy), also read the store's figure of the time
   * its lease has left, for `LeaseState.ttlLeftMs` (`Backend.ttlLeft`; etcd: one more round trip,
   * `POST /v3/lease/timetolive`, within the same deadline). Without it, or on a backend without the figure, the
   * bound comes from the holder's TTL; a failed read leaves that bound too. Default false.
   */
  ttlLeft?: boolean;
}

export interface Lease {
  readonly name: string;
  readonly holder: string;
  /** The TTL sent to the store, in ms (the option rounded up to the store's granularity). */
  readonly ttlMs: number;
  readonly backend: Backend;
  /**
   * Renews the term this handle holds; otherwise takes the lease if it is free, resumes this holder's parked
   * term, or reports who holds it (`busy: true` when it is this holder's own term, held by another invocation).
   * Round trips on etcd: 1 to renew, 1 when the term is held (no writes; 2 with `ttlLeft: true`), 2 to take a
   * free lease or resume a parked one (a read, then the writes pipelined).
   * @throws {LeaseTimeoutError | TransportError | HttpStatusError | MalformedResponseError | AuthError} on any
   *   doubt; a failed claim never reports `isLeader: true`. Retrying after a lost response is safe: the retry
   *   reuses the same claim ID and recognises the lease it created.
   */
  claim(options?: ClaimOptions): Promise<LeaseState>;
  /**
   * Extends the held term by the TTL with one round trip (etcd `POST /v3/lease/keepalive`).
   * @throws {LeaseLostError} this handle holds no term, or the store no longer has its lease.
   */
  renew(options?: CallOptions): Promise<LeaseState>;
  /**
   * Resigns: ends the term so the next claimant can take the lease at once (etcd: one `POST /v3/lease/revoke`,
   * which deletes the term's keys with its lease; ZooKeeper: one `DELETE /sessions/v1/<id>`, which deletes the
   * ephemeral leader znode). Without a term in this handle, it ends this holder's *parked* term, if any (never a
   * busy one: that belongs to another live invocation): etcd reads, then deletes the keys in a txn guarded by the
   * parked record's mod revision, then revokes (3 round trips). Releasing a lease already gone succeeds. The call
   * keeps its full `requestTimeoutMs` deadline even near `validUntil`. Afterwards this handle holds nothing.
   * @throws {LeaseTimeoutError | TransportError | HttpStatusError | MalformedResponseError | AuthError} when the
   *   store's answer is in doubt; the term then ends by itself when its lease expires.
   */
  release(options?: CallOptions): Promise<void>;
  /**
   * Ends this invocation's hold and keeps the term for the next invocation of the same holder, which resumes
   * it with its claim (no new store lease, no gap). One guarded write (etcd: a txn on the term record; ZooKeeper:
   * a versioned set of the leader znode). The parked term expires one TTL after its last renewal unless resumed.
   * After `park()` this handle holds nothing, whatever the outcome; without a term it does nothing.
   */
  park(options?: CallOptions): Promise<void>;
  /**
   * Who holds the lease now, read from the store (etcd: one read-only `POST /v3/kv/txn` of the election's first
   * candidate and the term record; ZooKeeper: one `GET` of the leader znode), or null when it is free:
   * `{ holder, token, ttlMs, leaseId, value?, parked }` (see `LeaderInfo`; `ttlMs` is null for a Go candidate).
   * Changes nothing in this handle's own state.
   * @throws {LeaseTimeoutError | TransportError | HttpStatusError | MalformedResponseError | AuthError} on any
   *   doubt, including a term whose token or lease ID is not a valid int64.
   */
  leader(options?: CallOptions): Promise<LeaderInfo | null>;
  /**
   * Commits `ops` atomically only if this handle still holds its term at commit time and every compare
   * matches: on etcd ONE `POST /v3/kv/txn` guarded by the leader key's create_revision and lease.
   * Returns `{applied: false, reason: "not-leader"}` without a round trip when this handle holds no term
   * (call `claim()` first), and `"condition-failed"` when only the caller's compares failed.
   * @throws {InvalidArgumentError} bad ops or compares, or a compare target the backend does not support
   *   (nothing is sent).
   * @throws {UnsupportedError} the backend's guard is not atomic and `allowNonAtomicGuard` is not set.
   * @throws {LeaseTimeoutError | TransportError | HttpStatusError | MalformedResponseError | AuthError} no
   *   usable answer: the ops may or may not have been committed (the txn goes to another endpoint only after a
   *   refused connection, which proves it never left). `retryable` says another call may succeed, not that repeating these ops is safe:
   *   a repeat commits them again if the first did, so make them idempotent or add a compare (e.g. on a key's
   *   `modRevision`) that a first commit fails.
   */
  doIfLeader(
    ops: readonly TxnOp[],
    compares?: readonly Compare[],
    options?: CallOptions,
  ): Promise<TxnOutcome>;
  /** The local view, without I/O: `isLeader` turns false by itself once `validUntil` passes. */
  state(): LeaseState;
}

/**
 * Creates a lease handle. No I/O happens until a method is called.
 * @throws {InvalidArgumentError} an option breaks a rule; the message names the option and the rule.
 */
export function createLease(options: LeaseOptions): Lease {
  return new LeaseHandle(resolveOptions(options));
}
