/**
 * The leases and terms of the memory backend, as etcd keeps them: leases with deadlines on the injected clock
 * (expired by `sweep`), one term per lease name on one lease, the campaign queues, and change notices. Every
 * write or end of a term takes a new revision of the store-wide counter (memory-kv.ts) and tells the watchers.
 */
import {
  type ClaimOutcome,
  type ClaimRequest,
  type Clock,
  type HolderRecord,
  type LeaderInfo,
  LeaseLostError,
  type TermRef,
} from "../../src/backend-kit.ts";
import { type MemoryKv, memoryKv } from "./memory-kv.ts";
import type { Queued } from "./memory-queue.ts";

export interface Term {
  leaseId: string;
  token: bigint;
  hold: bigint;
  record: HolderRecord;
}

type Held = Extract<ClaimOutcome, { held: true }>;

interface StoredLease {
  name: string;
  ttlMs: number;
  /** Epoch ms on the injected clock. */
  expiresAt: number;
}

/** A transfer's record: on a lease of its own (the window), naming the target candidate's lease. */
export interface Transfer {
  leaseId: string;
  target: string;
}

export interface MemoryStore {
  readonly kv: MemoryKv;
  /** The term of `name`, if it has one. */
  term(name: string): Term | undefined;
  /** Candidates waiting for `name`, oldest first; a term's own candidate is the term itself. */
  queueOf(name: string): Queued[];
  /** The transfer record of `name` while its window lasts. */
  transferOf(name: string): Transfer | undefined;
  /** Puts `name`'s transfer record on a new lease of `windowMs`. */
  putTransfer(name: string, target: string, windowMs: number): void;
  /** True while lease `leaseId` holds `name`'s term, a queued candidate of it or its transfer record. */
  live(name: string, leaseId: string): boolean;
  /** When lease `leaseId` expires (epoch ms on the clock), or undefined when the store no longer has it. */
  expiresAt(leaseId: string): number | undefined;
  /** The number of live leases. */
  leaseCount(): number;
  /** Calls `notice` with the name of every term or candidate written or ended; returns its unsubscribe. */
  subscribe(notice: (name: string) => void): () => void;
  changed(name: string): void;
  grant(leaseId: string, name: string, ttlMs: number): void;
  /** Ends the lease with its term or candidate; as on etcd, deleting the term's keys is one revision. */
  revoke(leaseId: string): void;
  /** Revokes the leases whose deadline the clock has reached. */
  sweep(): void;
  /** @throws {LeaseLostError} the lease has expired or was revoked. */
  keepAlive(leaseId: string, name: string): number;
  /** The term as `leader()` reports it. */
  infoOf(term: Term): LeaderInfo;
  /** Who leads `name`: its term, else its first queued candidate (not yet a term: reported as etcd does). */
  leaderOf(name: string): LeaderInfo | null;
  /** The store's guard: the term's token and lease, and the hold of the invocation that holds it now. */
  holds(term: Term | undefined, ref: TermRef): term is Term;
  /** Writes the term's record: a new hold mark. */
  write(term: Term, record: HolderRecord): void;
  /** Makes a new busy term of `req.name` for this claim, on `leaseId`. */
  begin(req: ClaimRequest, leaseId: string, token: bigint, hold: bigint): Held;
  /** The held outcome of `name`'s term, its lease renewed. */
  held(name: string, term: Term): Held;
}

export function memoryStore(clock: Clock, startRevision: bigint): MemoryStore {
  const kv = memoryKv(startRevision);
  const leases = new Map<string, StoredLease>();
  const terms = new Map<string, Term>();
  const queues = new Map<string, Queued[]>();
  const queueOf = (name: string): Queued[] => {
    const queue = queues.get(name) ?? [];
    queues.set(name, queue);
    return queue;
  };
  const transfers = new Map<string, Transfer>();
  const watchers = new Set<(name: string) => void>();
  const changed = (name: string): void => {
    for (const watcher of watchers) watcher(name);
  };

  const revoke = (leaseId: string): void => {
    const lease = leases.get(leaseId);
    if (!lease) return;
    leases.delete(leaseId);
    if (terms.get(lease.name)?.leaseId === leaseId) terms.delete(lease.name);
    if (transfers.get(lease.name)?.leaseId === leaseId) transfers.delete(lease.name);
    const queue = queueOf(lease.name);
    const at = queue.findIndex((c) => c.leaseId === leaseId);
    if (at >= 0) queue.splice(at, 1);
    kv.bump();
    changed(lease.name);
  };

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

  const held = (name: string, term: Term): Held => ({
    held: true,
    leader: infoOf(term),
    grantedTtlMs: keepAlive(term.leaseId, name),
    hold: term.hold.toString(),
  });

  return {
    kv,
    term: (name) => terms.get(name),
    queueOf,
    transferOf: (name) => transfers.get(name),
    putTransfer: (name, target, windowMs) => {
      // Window lease IDs lie below the claim IDs' [2^62, 2^63): never one of a claim or candidate.
      const leaseId = ((1n << 61n) + kv.bump()).toString();
      leases.set(leaseId, { name, ttlMs: windowMs, expiresAt: clock.now() + windowMs });
      transfers.set(name, { leaseId, target });
      changed(name);
    },
    live: (name, leaseId) =>
      leases.has(leaseId) &&
      (terms.get(name)?.leaseId === leaseId ||
        transfers.get(name)?.leaseId === leaseId ||
        queueOf(name).some((c) => c.leaseId === leaseId)),
    expiresAt: (leaseId) => leases.get(leaseId)?.expiresAt,
    leaseCount: () => leases.size,
    subscribe: (notice) => {
      watchers.add(notice);
      return () => watchers.delete(notice);
    },
    changed,
    grant: (leaseId, name, ttlMs) => leases.set(leaseId, { name, ttlMs, expiresAt: clock.now() + ttlMs }),
    revoke,
    sweep: () => {
      const now = clock.now();
      for (const [id, lease] of leases) if (lease.expiresAt <= now) revoke(id);
    },
    keepAlive,
    infoOf,
    leaderOf: (name) => {
      const term = terms.get(name);
      if (term) return infoOf(term);
      const first = queueOf(name)[0];
      if (!first) return null;
      const { leaseId, token, value } = first;
      return { holder: value, token, ttlMs: null, leaseId, value, parked: false };
    },
    holds: (term, ref): term is Term =>
      term !== undefined &&
      term.token === ref.token &&
      term.leaseId === ref.leaseId &&
      term.hold.toString() === ref.hold,
    write: (term, record) => {
      term.record = record;
      term.hold = kv.bump();
      const name = leases.get(term.leaseId)?.name;
      if (name !== undefined) changed(name);
    },
    begin: (req, leaseId, token, hold) => {
      const run = req.claimId.toString();
      const record: HolderRecord = { holder: req.holder, ttlMs: req.ttlMs, state: "busy", run };
      if (req.value !== undefined) record.value = req.value;
      const term: Term = { leaseId, token, hold, record };
      terms.set(req.name, term);
      changed(req.name);
      return held(req.name, term);
    },
    held,
  };
}
