/**
 * The contract every store implements. Backends are stateless request translators: the lease handle
 * (`createLease`) keeps what one invocation knows and passes it in explicitly, so any backend call can be made
 * from a fresh process that knows only its configuration.
 */
import type { CampaignBackend } from "./backend-campaign.ts";
import type { CompareTarget, NormalizedCompare, NormalizedOp, TxnOutcome } from "./txn.ts";

export type { CampaignBackend, CampaignStep, Candidate, TransferRequest } from "./backend-campaign.ts";

/** What a backend can promise. `createLease` validates options and refuses operations against these. */
export interface BackendCapabilities {
  /**
   * True when `txn` is ONE store transaction whose guard (the leader node's identity and term) is checked
   * atomically with the caller's compares and ops. When false, `doIfLeader` throws `UnsupportedError` unless
   * the lease was created with `allowNonAtomicGuard: true`.
   */
  atomicGuard: boolean;
  /** Smallest TTL the store grants, in ms (etcd: 2000). */
  minTtlMs: number;
  /** Largest TTL the store grants, in ms. */
  maxTtlMs: number;
  /** TTLs are sent in whole multiples of this many ms (1000 for stores that take seconds). */
  ttlGranularityMs: number;
  /** Compare targets `txn` supports. */
  compareTargets: readonly CompareTarget[];
  /**
   * True when the backend queues candidates ({@link Backend.campaign}): the elector then campaigns by queueing
   * and leads in turn, woken by a watch; otherwise it polls with `claim()`. Absent means false.
   */
  campaign?: boolean;
  /**
   * True when the backend can hand a term to a named queued candidate ({@link CampaignBackend.transfer}); needs
   * `campaign`. Absent means false: `Elector.transfer` then throws `UnsupportedError` (ZooKeeper: its leader
   * znode has no queue of candidates to hand it to).
   */
  transfer?: boolean;
  /**
   * How long past its TTL the store may keep a lease that is not renewed, in ms (etcd: 500, its expiry check
   * interval). Default 0. Part of `LeaseState.ttlLeftMs`, an upper bound.
   */
  expirySlackMs?: number;
}

/**
 * Who holds a lease term, as the store reports it. A term is one store lease (etcd lease, ZooKeeper session)
 * and the leader key or znode attached to it; at any moment at most one invocation holds it ("busy"), or none
 * does ("parked", waiting for the next invocation of the same holder to resume it).
 */
export interface LeaderInfo {
  /**
   * The holder's label (its `holder` option). For a participant that is not leasehold (a Go
   * `clientv3/concurrency` candidate, `etcdctl elect`), its proclaimed value.
   */
  holder: string;
  /** The term's fencing token: etcd create_revision, ZooKeeper czxid. Strictly increases across terms. */
  token: bigint;
  /**
   * The TTL the holder asked for, in ms: its lease expires at most this long (plus store slack) after its last
   * renewal. Null for a participant that does not publish it (a Go candidate's key holds only its value).
   */
  ttlMs: number | null;
  /** The store's handle of the holder's lease: etcd lease ID or ZooKeeper session ID, as a decimal string (exact). */
  leaseId: string;
  /** Metadata the holder published with its claim (`value` option), if any; a Go candidate's proclaimed value. */
  value?: string;
  /**
   * True when no invocation holds the term: the last one ended its run with `park()`, and the next claim by the
   * same `holder` resumes it. False while an invocation holds it (busy), and for non-leasehold participants.
   */
  parked: boolean;
}

/** Per-call context. `signal` carries the call's deadline; pass it to every transport request. */
export interface CallContext {
  signal: AbortSignal;
  /**
   * The deadline `signal` carries, in ms from the start of the call, when known. Backends that fail over
   * between endpoints split it among their attempts.
   */
  timeoutMs?: number;
}

export interface ClaimRequest {
  name: string;
  holder: string;
  /** Already rounded to `ttlGranularityMs` and within the store's range. */
  ttlMs: number;
  value?: string;
  /**
   * A random int64 in [2^62, 2^63), kept by the handle across retries of one claim: a claim retried after a
   * lost response reuses it, so the backend can recognise the lease or node it created (etcd: the lease ID).
   */
  claimId: bigint;
}

/**
 * What a claim found.
 * - `held: true`: this call now holds the term (a new one, a parked one it resumed, or the one an earlier try of
 *   this same claim created); `grantedTtlMs` is what the store granted, in ms; `hold` marks this call's hold.
 * - `held: false`: the term is someone else's: another holder's, or this holder's own term held by another
 *   invocation (`leader.holder` is then this holder and `leader.parked` false: "busy").
 */
export type ClaimOutcome =
  | { held: true; leader: LeaderInfo; grantedTtlMs: number; hold: string }
  | { held: false; leader: LeaderInfo };

/** A term this handle holds, as passed back to the backend. */
export interface TermRef {
  name: string;
  holder: string;
  leaseId: string;
  token: bigint;
  /** The TTL this handle claims with, in ms (`Lease.ttlMs`): what a rewritten term record states. */
  ttlMs: number;
  /** The term's published metadata as the store reported it at claim time, rewritten unchanged by `park`. */
  value?: string;
  /**
   * The store's mark of this invocation's hold of the term, opaque to the core (etcd: the mod revision of the
   * term record; ZooKeeper: the hold ID in the leader znode's data). Guarded writes compare it in the store, so
   * that an invocation whose hold was parked or superseded is refused there, not only locally.
   */
  hold: string;
}

export interface TxnRequest {
  term: TermRef;
  ops: NormalizedOp[];
  compares: NormalizedCompare[];
}

/** One reading of a lease's term by a store watch (see {@link Backend.observe}). */
export interface ObservedTerm {
  /** The term as of `revision`, or null when the lease is free. */
  leader: LeaderInfo | null;
  /** The store revision of this reading (etcd: the revision of the events it follows). Increases along one watch. */
  revision: bigint;
}

export interface BackendObserveOptions {
  /** Ends the watch: the iterable then returns. */
  signal: AbortSignal;
  /** Deadline of each request the watch makes, in ms: the first read, and opening a stream up to its first message. */
  requestTimeoutMs: number;
  /**
   * How often a watch that has heard nothing checks itself against a read of the store, in ms (when the backend
   * can fall behind silently, as a stream over a dead connection or a buffering proxy does).
   */
  checkIntervalMs: number;
}

/**
 * A coordination store. Every method either returns what the store said or throws a `LeaseError`; none may
 * guess. Implementations: `etcd()` (`leasehold/etcd`), `zookeeper()` (`leasehold/zookeeper`),
 * `memoryBackend()` (`leasehold/testing`).
 */
export interface Backend {
  /** Short name for messages, e.g. "etcd". */
  readonly kind: string;
  readonly capabilities: BackendCapabilities;
  /**
   * Keys under this prefix are the backend's own (leader keys, term records, leader znodes): the core refuses
   * `doIfLeader` ops that write under it with `InvalidArgumentError`, before anything is sent, so that a guarded
   * transaction can never forge or delete a term.
   */
  readonly reservedPrefix?: Uint8Array;
  /**
   * Takes the lease if it is free; resumes this holder's parked term (atomically marking it busy, without a new
   * store lease); recognises the term an earlier try under the same `claimId` created or resumed; otherwise
   * reports the current term (another holder's, or this holder's busy one). A claim that finds the term held
   * makes no writes.
   */
  claim(req: ClaimRequest, ctx: CallContext): Promise<ClaimOutcome>;
  /**
   * Extends the term's lease by its TTL. Returns the TTL the store granted, in ms.
   * @throws {LeaseLostError} the store no longer has the lease.
   */
  renew(term: TermRef, ctx: CallContext): Promise<{ grantedTtlMs: number }>;
  /** Ends the term so another claimant can take it at once. Releasing a term that is already gone succeeds. */
  release(term: TermRef, ctx: CallContext): Promise<void>;
  /**
   * Ends this invocation's hold but keeps the term for the next invocation of the same holder: ONE guarded write
   * that marks the term parked only if `term.hold` still holds it. Resolves either way (a hold that was already
   * gone stays gone); after it the caller holds nothing.
   */
  park(term: TermRef, ctx: CallContext): Promise<void>;
  /**
   * Ends `holder`'s parked term of `name`, if there is one, guarded so that a concurrent resume either wins
   * (then nothing is ended) or loses. A busy term, or another holder's, is left alone.
   */
  releaseParked(name: string, holder: string, ctx: CallContext): Promise<void>;
  /** The current leader of `name`, or null when nobody holds it. */
  leader(name: string, ctx: CallContext): Promise<LeaderInfo | null>;
  /** Commits `ops` only if `term` still holds the lease and every compare matches; see {@link TxnOutcome}. */
  txn(req: TxnRequest, ctx: CallContext): Promise<TxnOutcome>;
  /** Releases connections or other resources the backend owns. */
  close?(): Promise<void>;
  /**
   * Optional: follows the term of `name` with a store watch. Yields the term as of the start, then after each
   * store revision that changed the lease's keys, in revision order (equal readings may repeat); reconnects by
   * itself from the last revision seen + 1; returns once `options.signal` aborts. Backends without it are
   * polled with `leader()` by `observe()`.
   * @throws {LeaseError} the watch cannot be kept without missing a change (a compacted revision, a stream held
   *   back by a proxy, an error answer, a failed reconnect); `observe()` then falls back to polling.
   */
  observe?(name: string, options: BackendObserveOptions): AsyncIterable<ObservedTerm>;
  /**
   * Optional: an upper bound on the time left of the store lease `leaseId` (a `LeaderInfo.leaseId`), in ms, from
   * the store's own figure, or null when the store no longer has the lease. One round trip (etcd:
   * `POST /v3/lease/timetolive`, whose whole seconds are rounded down, so the bound adds one second and etcd's
   * expiry slack). Backends that cannot tell leave it out.
   */
  ttlLeft?(leaseId: string, ctx: CallContext): Promise<number | null>;
  /**
   * Optional, with `capabilities.campaign`: queued campaigns ({@link CampaignBackend}). A queued candidate
   * withdraws with `release()` of its lease. Try-claims (`claim()`) and queued candidates share one election:
   * a claim takes the lease only when no candidate is queued at all.
   */
  campaign?: CampaignBackend;
}
