/**
 * An in-memory Backend with etcd's semantics, driven by an injected clock, for unit tests of code that uses
 * leasehold:
 *
 * - one revision counter for the whole store, shared by terms and keys;
 * - leases with TTLs that expire once the clock reaches their deadline (no expiry slack);
 * - one term per lease name, attached to one lease: its fencing token is the revision that created it, its hold
 *   mark the revision of its record's last write (take, resume, park), so that the store itself refuses a
 *   guarded write of a parked or superseded invocation;
 * - claims as on etcd: a free lease is taken under a new lease whose ID is the claim ID; this holder's parked
 *   term is resumed (marked busy, its lease renewed); an earlier try of the same claim is recognised; a claim
 *   that finds the term held by another invocation changes nothing (no lease, no revision);
 * - one atomic guarded transaction per `doIfLeader`;
 * - queued campaigns as on etcd (`Backend.campaign`): each candidate on a lease of its own, created at a
 *   revision of its own, first-come first-led; while the first candidate has not written its term it is the
 *   leader `leader()` reports, by its proclaimed value with `ttlMs` null, as etcd reports it.
 *
 * Terms are kept per name, not in keys: every name is independent (etcd's nesting of names at "/" does not
 * apply here). The leases and terms are memory-store.ts, the keys memory-kv.ts, the campaign queues
 * memory-queue.ts, the watches memory-watch.ts.
 */
import {
  type Backend,
  type BackendCapabilities,
  type ClaimOutcome,
  type Clock,
  type HolderRecord,
  InvalidArgumentError,
  type KeyValue,
  LeaseLostError,
  systemClock,
  type TermRef,
  type TxnOutcome,
  toBytes,
} from "../../src/backend-kit.ts";
import { memoryQueue } from "./memory-queue.ts";
import { memoryStore, type Term } from "./memory-store.ts";
import { type WatchSource, waitGone, watchTerm } from "./memory-watch.ts";

export interface MemoryBackendOptions {
  /** Drives lease expiry; pass `fakeClock()` to control time. Default: the system clock. */
  clock?: Clock;
  /** The store's own key prefix: `doIfLeader` may not write under it, as on etcd. Default "leasehold/". */
  prefix?: string;
  /** Smallest TTL granted, in ms: a whole number of seconds, at least 1000. Default 2000 (etcd's minimum). */
  minTtlMs?: number;
  /** The store's revision before the first write, at least 0. Default 0; set above 2^53 to test exact tokens. */
  startRevision?: bigint;
  /** False leaves out `Backend.campaign` (and the capability), as on a store that cannot queue. Default true. */
  campaign?: boolean;
}

/** Test-only views into the store, on top of the Backend. */
export interface MemoryBackend extends Backend {
  /** A key's current state as `doIfLeader` wrote it, or null. Terms are not keys in this store. */
  get(key: string | Uint8Array): KeyValue | null;
  /** The store's current revision (after expiring the leases the clock has passed). */
  revision(): bigint;
  /** The number of live leases: one per term; a claim that did not take or resume a term leaves none. */
  leaseCount(): number;
}

/**
 * Creates an empty in-memory store with etcd's semantics, for unit tests of code that uses leasehold: one
 * revision counter (tokens are the revision that created a term, above 2^53 with `startRevision`), TTLs in ms
 * that expire when `clock` passes them (pass the same `fakeClock()` to `createLease` and advance it: no real
 * waiting), park/resume and busy as on etcd, and atomic `doIfLeader` with every compare target. Capabilities:
 * `atomicGuard: true`, `minTtlMs` (default 2000), whole seconds. Nothing is shared between two instances.
 *
 * ```ts
 * const clock = fakeClock();
 * const backend = memoryBackend({ clock });
 * const lease = createLease({ backend, clock, name: "jobs/x", holder: "a", ttlMs: 5000 });
 * ```
 * @throws {InvalidArgumentError} `minTtlMs` is not a whole number of seconds of at least 1000 ms, or
 *   `startRevision` is not a bigint of at least 0.
 */
export function memoryBackend(options: MemoryBackendOptions = {}): MemoryBackend {
  const clock = options.clock ?? systemClock;
  const prefixBytes = toBytes(options.prefix ?? "leasehold/");
  const minTtlMs = options.minTtlMs ?? 2000;
  if (!Number.isInteger(minTtlMs) || minTtlMs < 1000 || minTtlMs % 1000 !== 0) {
    throw new InvalidArgumentError("minTtlMs", "must be a whole number of seconds in ms, at least 1000");
  }
  const startRevision = options.startRevision ?? 0n;
  if (typeof startRevision !== "bigint" || startRevision < 0n) {
    throw new InvalidArgumentError("startRevision", "must be a bigint, at least 0");
  }
  const store = memoryStore(clock, startRevision);
  const { kv, sweep, leaderOf } = store;

  const capabilities: BackendCapabilities = {
    atomicGuard: true,
    minTtlMs,
    maxTtlMs: 9_000_000_000_000,
    ttlGranularityMs: 1000,
    compareTargets: ["value", "version", "createRevision", "modRevision"],
    ...(options.campaign === false ? {} : { campaign: true, transfer: true }),
  };

  const source: WatchSource = {
    clock,
    sweep,
    subscribe: store.subscribe,
    expiresAt: store.expiresAt,
    live: store.live,
    reading: (name) => ({ leader: leaderOf(name), revision: kv.revision() }),
  };

  const queueing = () =>
    memoryQueue({
      sweep,
      queueOf: store.queueOf,
      termOf: store.term,
      transferOf: store.transferOf,
      putTransfer: store.putTransfer,
      holds: (ref) => store.holds(store.term(ref.name), ref),
      revoke: store.revoke,
      bump: () => kv.bump(),
      grant: store.grant,
      keepAlive: store.keepAlive,
      held: (name) => store.held(name, store.term(name) as Term),
      lead: (req, candidate) => store.begin(req, candidate.leaseId, candidate.token, kv.bump()),
      leaderOf,
      changed: store.changed,
      waitGone: (name, leaseId, signal) => waitGone(source, name, leaseId, signal),
    });

  return {
    kind: "memory",
    capabilities,
    reservedPrefix: prefixBytes,

    async claim(req): Promise<ClaimOutcome> {
      sweep();
      const run = req.claimId.toString();
      const term = store.term(req.name);
      if (!term) {
        const first = leaderOf(req.name);
        if (first) return { held: false, leader: first };
        // As on etcd, where the record of a transfer stands at the term record's key while its window lasts.
        if (store.transferOf(req.name)) {
          throw new LeaseLostError(`lease ${req.name}: a transfer's window is open; claim again`, {
            retryable: true,
          });
        }
        store.grant(run, req.name, req.ttlMs);
        const token = kv.bump();
        return store.begin(req, run, token, token);
      }
      const parked = term.record.state === "parked";
      // An earlier try of this very claim took or resumed the term, and its answer was lost.
      if (term.record.run === run && !parked) return store.held(req.name, term);
      if (term.record.holder !== req.holder || !parked) return { held: false, leader: store.infoOf(term) };
      store.write(term, { ...term.record, state: "busy", run });
      return store.held(req.name, term);
    },

    async renew(term: TermRef) {
      sweep();
      return { grantedTtlMs: store.keepAlive(term.leaseId, term.name) };
    },

    /** Revokes the term's lease by its ID, as etcd does: the hold mark is not compared. */
    async release(term: TermRef) {
      sweep();
      store.revoke(term.leaseId);
    },

    async park(ref: TermRef) {
      sweep();
      const term = store.term(ref.name);
      if (!store.holds(term, ref)) return;
      const record: HolderRecord = { holder: ref.holder, ttlMs: ref.ttlMs, state: "parked" };
      if (ref.value !== undefined) record.value = ref.value;
      store.write(term, record);
    },

    async releaseParked(name, holder) {
      sweep();
      const term = store.term(name);
      if (term?.record.state === "parked" && term.record.holder === holder) store.revoke(term.leaseId);
    },

    /** Exactly the time the lease has left on the clock (the memory store has no expiry slack). */
    async ttlLeft(leaseId) {
      sweep();
      const expiresAt = store.expiresAt(leaseId);
      return expiresAt === undefined ? null : expiresAt - clock.now();
    },

    async leader(name) {
      sweep();
      return leaderOf(name);
    },

    async txn(req): Promise<TxnOutcome> {
      sweep();
      if (!store.holds(store.term(req.term.name), req.term)) return { applied: false, reason: "not-leader" };
      if (!kv.matches(req.compares)) return { applied: false, reason: "condition-failed" };
      return { applied: true, results: kv.apply(req.ops) };
    },

    ...(options.campaign === false ? {} : { campaign: queueing() }),

    get: (key) => kv.get(toBytes(key)),
    revision: () => {
      sweep();
      return kv.revision();
    },
    leaseCount: () => {
      sweep();
      return store.leaseCount();
    },

    /**
     * A watch as on etcd: the term at the start, then the term after every write or end of it (expiry included:
     * the watch wakes when the clock reaches the term's lease deadline), each at its revision, none missed.
     */
    observe: (name, { signal }) => watchTerm(source, name, signal),
  };
}
