/**
 * The contract every store implements. Backends are stateless request translators: the lease handle
 * (`createLease`) keeps what one invocation knows and passes it in explicitly, so any backend call can be made
 * from a fresh process that knows only its configuration.
 */
import type { CompareTarget, NormalizedCompare, NormalizedOp, TxnOutcome } from "./txn.ts";

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
}

/** Who holds a lease term, as the store reports it. */
export interface LeaderInfo {
  /** The holder's identity (its `holder` option). */
  holder: string;
  /** The term's fencing token: etcd create_revision, ZooKeeper czxid. Strictly increases across terms. */
  token: bigint;
  /** The TTL the holder asked for, in ms: its lease expires at most this long (plus store slack) after its last renewal. */
  ttlMs: number;
  /** The store's handle of the holder's lease: etcd lease ID or ZooKeeper session ID, as a string (exact). */
  leaseId: string;
  /** Metadata the holder published with its claim (`value` option), if any. */
  value?: string;
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

export type ClaimOutcome =
  | { held: true; leader: LeaderInfo; grantedTtlMs: number }
  | { held: false; leader: LeaderInfo };

/** A term this handle holds, as passed back to the backend. */
export interface TermRef {
  name: string;
  holder: string;
  leaseId: string;
  token: bigint;
}

export interface TxnRequest {
  term: TermRef;
  ops: NormalizedOp[];
  compares: NormalizedCompare[];
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
   * Takes the lease if it is free; recognises a term this holder already holds (same identity, or the lease
   * created under `claimId`) and renews it; otherwise reports the current leader.
   */
  claim(req: ClaimRequest, ctx: CallContext): Promise<ClaimOutcome>;
  /**
   * Extends the term's lease by its TTL. Returns the TTL the store granted, in ms.
   * @throws {LeaseLostError} the store no longer has the lease.
   */
  renew(term: TermRef, ctx: CallContext): Promise<{ grantedTtlMs: number }>;
  /** Ends the term so another claimant can take it at once. Releasing a term that is already gone succeeds. */
  release(term: TermRef, ctx: CallContext): Promise<void>;
  /** The current leader of `name`, or null when nobody holds it. */
  leader(name: string, ctx: CallContext): Promise<LeaderInfo | null>;
  /** Commits `ops` only if `term` still holds the lease and every compare matches; see {@link TxnOutcome}. */
  txn(req: TxnRequest, ctx: CallContext): Promise<TxnOutcome>;
  /** Releases connections or other resources the backend owns. */
  close?(): Promise<void>;
}
