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
 * apply here).
 */
import {
  type Backend,
  type BackendCapabilities,
  type ClaimOutcome,
  type ClaimRequest,
  type Clock,
  type HolderRecord,
  InvalidArgumentError,
  type KeyValue,
  type LeaderInfo,
  LeaseLostError,
  systemClock,
  type TermRef,
  type TxnOutcome,
  toBytes,
} from "../../src/backend-kit.ts";
import { memoryKv } from "./memory-kv.ts";
import { memoryQueue, type Queued } from "./memory-queue.ts";
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

interface StoredLease {
  name: string;
  ttlMs: number;
  /** Epoch ms on the injected clock. */
  expiresAt: number;
}

interface Term {
  leaseId: string;
  token: bigint;
  hold: bigint;
  record: HolderRecord;
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
  const kv = memoryKv(startRevision);
  const leases = new Map<string, StoredLease>();
  const terms = new Map<string, Term>();
  /** Candidates waiting per name, oldest first; a term's own candidate is the term itself. */
  const queues = new Map<string, Queued[]>();
  const queueOf = (name: string): Queued[] => {
    const queue = queues.get(name) ?? [];
    queues.set(name, queue);
    return queue;
  };
  /** The observers' callbacks, told the name of every term written or ended, right after the write. */
  const watchers = new Set<(name: string) => void>();
  const changed = (name: string): void => {
    for (const watcher of watchers) watcher(name);
  };

  const capabilities: BackendCapabilities = {
    atomicGuard: true,
    minTtlMs,
    maxTtlMs: 9_000_000_000_000,
    ttlGranularityMs: 1000,
    compareTargets: ["value", "version", "createRevision", "modRevision"],
    ...(options.campaign === false ? {} : { campaign: true }),
  };

  /** Every lease carries exactly one term; as on etcd, deleting the term's keys is one revision. */
  const revoke = (leaseId: string): void => {
    const lease = leases.get(leaseId);
    if (!lease) return;
    leases.delete(leaseId);
    if (terms.get(lease.name)?.leaseId === leaseId) terms.delete(lease.name);
    const queue = queueOf(lease.name);
    const at = queue.findIndex((c) => c.leaseId === leaseId);
    if (at >= 0) queue.splice(at, 1);
    kv.bump();
    changed(lease.name);
  };

  const sweep = (): void => {
    const now = clock.now();
    for (const [id, lease] of leases) if (lease.expiresAt <= now) revoke(id);
  };

  /** @throws {LeaseLostError} the lease has expired or was revoked. */
  const keepAlive = (leaseId: string, name: string): number => {
    const lease = leases.get(leaseId);
    if (!lease) throw new LeaseLostError(`lease ${name}: lease ${leaseId} has expired or was revoked`);
    lease.expiresAt = clock.now() + lease.ttlMs;
    return lease.ttlMs;
  };

  const infoOf = (term: Term): LeaderInfo => {
    const { holder, ttlMs, value, state } = term.record;
    return {
      holder,
      token: term.token,
      ttlMs,
      leaseId: term.leaseId,
      parked: state === "parked",
      ...(value === undefined ? {} : { value }),
    };
  };

  /** Who leads `name`: its term, else its first queued candidate (not yet a term: reported as etcd does). */
  const leaderOf = (name: string): LeaderInfo | null => {
    const term = terms.get(name);
    if (term) return infoOf(term);
    const first = queueOf(name)[0];
    if (!first) return null;
    const { leaseId, token, value } = first;
    return { holder: value, token, ttlMs: null, leaseId, value, parked: false };
  };

  /** The store's guard: the term's token and lease, and the hold of the invocation that holds it now. */
  const holds = (term: Term | undefined, ref: TermRef): term is Term =>
    term !== undefined &&
    term.token === ref.token &&
    term.leaseId === ref.leaseId &&
    term.hold.toString() === ref.hold;

  const write = (term: Term, record: HolderRecord): void => {
    term.record = record;
    term.hold = kv.bump();
    const name = leases.get(term.leaseId)?.name;
    if (name !== undefined) changed(name);
  };

  const heldOutcome = (name: string, term: Term): Extract<ClaimOutcome, { held: true }> => ({
    held: true,
    leader: infoOf(term),
    grantedTtlMs: keepAlive(term.leaseId, name),
    hold: term.hold.toString(),
  });

  const take = (req: ClaimRequest, run: string): ClaimOutcome => {
    leases.set(run, { name: req.name, ttlMs: req.ttlMs, expiresAt: clock.now() + req.ttlMs });
    const token = kv.bump();
    const record: HolderRecord = { holder: req.holder, ttlMs: req.ttlMs, state: "busy", run };
    if (req.value !== undefined) record.value = req.value;
    const term: Term = { leaseId: run, token, hold: token, record };
    terms.set(req.name, term);
    changed(req.name);
    return heldOutcome(req.name, term);
  };

  const source: WatchSource = {
    clock,
    sweep,
    subscribe: (notice) => {
      watchers.add(notice);
      return () => watchers.delete(notice);
    },
    expiresAt: (leaseId) => leases.get(leaseId)?.expiresAt,
    reading: (name) => ({ leader: leaderOf(name), revision: kv.revision() }),
  };

  const queueing = () =>
    memoryQueue({
      sweep,
      queueOf,
      termOf: (name) => terms.get(name),
      bump: () => kv.bump(),
      grant: (leaseId, name, ttlMs) => leases.set(leaseId, { name, ttlMs, expiresAt: clock.now() + ttlMs }),
      keepAlive,
      held: (name) => heldOutcome(name, terms.get(name) as Term),
      lead: (req, candidate) => {
        const run = req.claimId.toString();
        const record: HolderRecord = { holder: req.holder, ttlMs: req.ttlMs, state: "busy", run };
        if (req.value !== undefined) record.value = req.value;
        const term: Term = { leaseId: candidate.leaseId, token: candidate.token, hold: kv.bump(), record };
        terms.set(req.name, term);
        changed(req.name);
        return heldOutcome(req.name, term);
      },
      leaderOf,
      changed,
      waitGone: (name, leaseId, signal) => waitGone(source, name, leaseId, signal),
    });

  return {
    kind: "memory",
    capabilities,
    reservedPrefix: prefixBytes,

    async claim(req): Promise<ClaimOutcome> {
      sweep();
      const run = req.claimId.toString();
      const term = terms.get(req.name);
      if (!term) {
        const first = leaderOf(req.name);
        return first ? { held: false, leader: first } : take(req, run);
      }
      const parked = term.record.state === "parked";
      // An earlier try of this very claim took or resumed the term, and its answer was lost.
      if (term.record.run === run && !parked) return heldOutcome(req.name, term);
      if (term.record.holder !== req.holder || !parked) return { held: false, leader: infoOf(term) };
      write(term, { ...term.record, state: "busy", run });
      return heldOutcome(req.name, term);
    },

    async renew(term: TermRef) {
      sweep();
      return { grantedTtlMs: keepAlive(term.leaseId, term.name) };
    },

    /** Revokes the term's lease by its ID, as etcd does: the hold mark is not compared. */
    async release(term: TermRef) {
      sweep();
      revoke(term.leaseId);
    },

    async park(ref: TermRef) {
      sweep();
      const term = terms.get(ref.name);
      if (!holds(term, ref)) return;
      const record: HolderRecord = { holder: ref.holder, ttlMs: ref.ttlMs, state: "parked" };
      if (ref.value !== undefined) record.value = ref.value;
      write(term, record);
    },

    async releaseParked(name, holder) {
      sweep();
      const term = terms.get(name);
      if (term?.record.state === "parked" && term.record.holder === holder) revoke(term.leaseId);
    },

    /** Exactly the time the lease has left on the clock (the memory store has no expiry slack). */
    async ttlLeft(leaseId) {
      sweep();
      const lease = leases.get(leaseId);
      return lease ? lease.expiresAt - clock.now() : null;
    },

    async leader(name) {
      sweep();
      return leaderOf(name);
    },

    async txn(req): Promise<TxnOutcome> {
      sweep();
      if (!holds(terms.get(req.term.name), req.term)) return { applied: false, reason: "not-leader" };
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
      return leases.size;
    },

    /**
     * A watch as on etcd: the term at the start, then the term after every write or end of it (expiry included:
     * the watch wakes when the clock reaches the term's lease deadline), each at its revision, none missed.
     */
    observe: (name, { signal }) => watchTerm(source, name, signal),
  };
}
