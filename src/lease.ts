/**
 * `createLease`: one participant's handle on one named lease. It keeps only what this invocation learned (the
 * term it holds and its hold mark, a pending claim ID); everything else comes from the store in the same call,
 * so short-lived code can create a handle per invocation. Calls on one handle run one at a time, in call order.
 *
 * Ownership: a term is held by one handle at a time, never by a `holder` name. Two handles with the same
 * holder never both lead; sequential invocations of one holder keep the term by an explicit hand-off: a run
 * ends with `park()`, and the next claim by that holder resumes the parked term (see docs/design.md).
 */
import type { Backend, CallContext, ClaimOutcome, ClaimRequest, LeaderInfo, TermRef } from "./backend.ts";
import { isLeaseError, LeaseLostError, MalformedResponseError, UnsupportedError } from "./errors.ts";
import { deadlineSignal } from "./http.ts";
import { type LeaseOptions, type ResolvedOptions, resolveOptions } from "./options.ts";
import { assertNoWritesUnder, type Compare, normalizeTxn, type TxnOp, type TxnOutcome } from "./txn.ts";

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
  value?: string;
}

/** Call options. `signal` aborts the call early (in addition to the `requestTimeoutMs` deadline). */
export interface CallOptions {
  signal?: AbortSignal;
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
   * Round trips on etcd: 1 to renew, 1 when the term is held (no writes), 2 to take a free lease or resume a
   * parked one (a read, then the writes pipelined).
   * @throws {LeaseTimeoutError | TransportError | HttpStatusError | MalformedResponseError | AuthError} on any
   *   doubt; a failed claim never reports `isLeader: true`. Retrying after a lost response is safe: the retry
   *   reuses the same claim ID and recognises the lease it created.
   */
  claim(options?: CallOptions): Promise<LeaseState>;
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
 * The key of a lease handle's entry for a queued campaign (src/elector-campaign.ts, used by `startElector`): the
 * campaign runs inside the handle's call queue with these ports, and the handle holds the term it won. Not part
 * of the `Lease` interface: a wrapped lease without it campaigns by claiming.
 */
export const campaignHook = Symbol("campaign");

export interface CampaignPorts {
  /** The claim request of this handle under `claimId`. */
  request(claimId: bigint): ClaimRequest;
  /** One `claim()` of the handle (its pending claim ID kept across a retried answer); holds what it wins. */
  claimOnce(ctx: CallContext): Promise<ClaimOutcome>;
  /** A request's context with the handle's deadline. */
  ctx(options?: CallOptions): CallContext;
  /** The election's leader while queued, for `state()`; the caller has checked it (`checkLeader`). */
  seen(leader: LeaderInfo | null): void;
}

/** What a campaign won, its leader checked (`checkLeader`), and when its lease's renewal was sent (local ms). */
type Won = { outcome: Extract<ClaimOutcome, { held: true }>; sentAt: number };

/** The term this handle holds: what the store reported, its hold mark and the local validity end. */
interface HeldTerm extends LeaderInfo {
  hold: string;
  validUntil: number;
}

/**
 * Creates a lease handle. No I/O happens until a method is called.
 * @throws {InvalidArgumentError} an option breaks a rule; the message names the option and the rule.
 */
export function createLease(options: LeaseOptions): Lease {
  return new LeaseHandle(resolveOptions(options));
}

/** A random ID in [2^62, 2^63): positive as an int64, and always beyond JS number precision. */
function randomClaimId(): bigint {
  const words = crypto.getRandomValues(new Uint32Array(2));
  return (1n << 62n) | (BigInt((words[0] as number) & 0x3fffffff) << 32n) | BigInt(words[1] as number);
}

const INT64 = /^-?\d{1,19}$/;

/**
 * The core's own check of what any backend reports, so that a faulty backend cannot make a leader of a bad term:
 * a fencing token is a positive int64, and a lease ID a decimal int64.
 * @throws {MalformedResponseError} naming the backend.
 */
export function checkLeader(info: LeaderInfo, kind: string): void {
  const id = INT64.test(info.leaseId) ? BigInt(info.leaseId) : null;
  if (
    typeof info.token !== "bigint" ||
    info.token <= 0n ||
    info.token >= 1n << 63n ||
    id === null ||
    BigInt.asIntN(64, id) !== id
  ) {
    throw new MalformedResponseError(`${kind}: a term with token ${info.token} and lease ID ${info.leaseId}`);
  }
}

class LeaseHandle implements Lease {
  readonly name: string;
  readonly holder: string;
  readonly ttlMs: number;
  readonly backend: Backend;
  readonly #opts: ResolvedOptions;
  #term: HeldTerm | null = null;
  #lastSeen: LeaderInfo | null = null;
  #pendingClaimId: bigint | null = null;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(opts: ResolvedOptions) {
    this.#opts = opts;
    this.name = opts.name;
    this.holder = opts.holder;
    this.ttlMs = opts.ttlMs;
    this.backend = opts.backend;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The call's deadline: `requestTimeoutMs`, cut short while a term is held so that no request outlives the
   * term's `validUntil` (once that has passed, the store decides and the full timeout applies). `park` and
   * `release` pass `cut: false`: they act only on this handle's own term (park is guarded by the hold in the
   * store; no other invocation can hold the lease a busy term's release revokes), so a late one harms nobody,
   * while one cut short near the end of a run would leave the term busy until its lease expires.
   */
  #ctx(options: CallOptions | undefined, cut = true): CallContext {
    let ms = this.#opts.requestTimeoutMs;
    const left = cut && this.#term ? this.#term.validUntil - this.#opts.clock.now() : 0;
    if (left > 0) ms = Math.min(ms, left);
    return { signal: deadlineSignal(ms, options?.signal), timeoutMs: ms };
  }

  #termRef(term: HeldTerm): TermRef {
    const { holder, leaseId, token, hold, value } = term;
    const ref: TermRef = { name: this.name, holder, leaseId, token, hold, ttlMs: this.ttlMs };
    return value === undefined ? ref : { ...ref, value };
  }

  /** Local validity never exceeds what was asked, nor what the store granted: the smaller of the two counts. */
  #hold(info: LeaderInfo, hold: string, grantedTtlMs: number, sentAt: number): void {
    if (info.holder !== this.holder || !(grantedTtlMs > 0) || info.parked) {
      throw new MalformedResponseError(
        `${this.backend.kind}: a held claim for ${info.holder}, TTL ${grantedTtlMs} ms`,
      );
    }
    const ttlMs = Math.min(this.ttlMs, grantedTtlMs);
    this.#term = { ...info, hold, ttlMs, validUntil: sentAt + ttlMs - this.#opts.driftMarginMs };
    this.#lastSeen = this.#term;
  }

  state(): LeaseState {
    const term = this.#term;
    const held = term !== null && this.#opts.clock.now() < term.validUntil;
    // A term this handle can no longer vouch for says nothing about who leads now.
    const info = held ? term : term ? null : this.#lastSeen;
    return {
      name: this.name,
      isLeader: held,
      busy: !held && info !== null && info.holder === this.holder && !info.parked,
      holder: info?.holder ?? null,
      token: info?.token ?? null,
      leaseId: info?.leaseId ?? null,
      leaseIdHex: info ? BigInt.asUintN(64, BigInt(info.leaseId)).toString(16) : null,
      validUntil: held ? term.validUntil : null,
      ttlMs: info?.ttlMs ?? null,
      ...(info?.value === undefined ? {} : { value: info.value }),
    };
  }

  claim(options?: CallOptions): Promise<LeaseState> {
    return this.#serial(async () => {
      const ctx = this.#ctx(options);
      const term = this.#term;
      if (term) {
        try {
          await this.#renewHeld(term, ctx);
          return this.state();
        } catch (error) {
          if (!(error instanceof LeaseLostError)) throw error;
        }
      }
      await this.#claimOnce(ctx);
      return this.state();
    });
  }

  /** See {@link CampaignPorts}: a queued campaign runs in this handle's call queue and holds what it won. */
  [campaignHook](run: (ports: CampaignPorts) => Promise<Won>): Promise<LeaseState> {
    return this.#serial(async () => {
      const { outcome, sentAt } = await run({
        request: (claimId) => this.#request(claimId),
        claimOnce: (ctx) => this.#claimOnce(ctx),
        ctx: (options) => this.#ctx(options, false),
        seen: (leader) => {
          this.#lastSeen = leader;
        },
      });
      this.#hold(outcome.leader, outcome.hold, outcome.grantedTtlMs, sentAt);
      return this.state();
    });
  }

  #request(claimId: bigint) {
    const { value } = this.#opts;
    const req = { name: this.name, holder: this.holder, ttlMs: this.ttlMs, claimId };
    return value === undefined ? req : { ...req, value };
  }

  /** One claim of the lease under the pending claim ID (kept across a retryable failure); holds what it won. */
  async #claimOnce(ctx: CallContext): Promise<ClaimOutcome> {
    this.#pendingClaimId ??= randomClaimId();
    const sentAt = this.#opts.clock.now();
    let outcome: ClaimOutcome;
    try {
      outcome = await this.backend.claim(this.#request(this.#pendingClaimId), ctx);
    } catch (error) {
      // Only an outcome-unknown failure keeps the claim ID, so that the retry recognises its own lease.
      if (!(isLeaseError(error) && error.retryable)) this.#pendingClaimId = null;
      throw error;
    }
    this.#pendingClaimId = null;
    checkLeader(outcome.leader, this.backend.kind);
    if (outcome.held) this.#hold(outcome.leader, outcome.hold, outcome.grantedTtlMs, sentAt);
    else this.#lastSeen = outcome.leader;
    return outcome;
  }

  async #renewHeld(term: HeldTerm, ctx: CallContext): Promise<void> {
    const sentAt = this.#opts.clock.now();
    try {
      const { grantedTtlMs } = await this.backend.renew(this.#termRef(term), ctx);
      this.#hold(term, term.hold, grantedTtlMs, sentAt);
    } catch (error) {
      if (error instanceof LeaseLostError) this.#forget();
      throw error;
    }
  }

  /** Drops the held term and what it said about the holder: after a loss, who leads is unknown. */
  #forget(): void {
    this.#term = null;
    this.#lastSeen = null;
  }

  renew(options?: CallOptions): Promise<LeaseState> {
    return this.#serial(async () => {
      const term = this.#term;
      if (!term) throw new LeaseLostError(`lease ${this.name}: no term held; call claim() first`);
      await this.#renewHeld(term, this.#ctx(options));
      return this.state();
    });
  }

  release(options?: CallOptions): Promise<void> {
    return this.#serial(async () => {
      const ctx = this.#ctx(options, false);
      const term = this.#term;
      if (term) await this.backend.release(this.#termRef(term), ctx);
      else await this.backend.releaseParked(this.name, this.holder, ctx);
      this.#forget();
    });
  }

  park(options?: CallOptions): Promise<void> {
    return this.#serial(async () => {
      const term = this.#term;
      if (!term) return;
      const ctx = this.#ctx(options, false);
      // Dropped before the write: whatever its outcome, this handle may no longer act on the term.
      this.#forget();
      await this.backend.park(this.#termRef(term), ctx);
    });
  }

  async leader(options?: CallOptions): Promise<LeaderInfo | null> {
    const info = await this.backend.leader(this.name, this.#ctx(options));
    if (info) checkLeader(info, this.backend.kind);
    return info;
  }

  doIfLeader(
    ops: readonly TxnOp[],
    compares: readonly Compare[] = [],
    options?: CallOptions,
  ): Promise<TxnOutcome> {
    return this.#serial(async () => {
      const caps = this.backend.capabilities;
      const normalized = normalizeTxn(ops, compares, caps.compareTargets);
      const reserved = this.backend.reservedPrefix;
      if (reserved) assertNoWritesUnder(reserved, normalized.ops);
      if (!caps.atomicGuard && !this.#opts.allowNonAtomicGuard) {
        throw new UnsupportedError(
          `${this.backend.kind} has no atomic guard; set allowNonAtomicGuard: true to accept a non-atomic check`,
        );
      }
      const term = this.#term;
      if (!term) return { applied: false, reason: "not-leader" };
      const outcome = await this.backend.txn(
        { term: this.#termRef(term), ...normalized },
        this.#ctx(options),
      );
      if (!outcome.applied && outcome.reason === "not-leader") this.#forget();
      return outcome;
    });
  }
}
