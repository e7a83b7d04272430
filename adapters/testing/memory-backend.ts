/**
 * An in-memory Backend with etcd's semantics, driven by an injected clock: one global revision counter,
 * leases with TTLs that expire when the clock passes them, tokens that are the leader key's create revision,
 * and one atomic guarded transaction per `doIfLeader`. For unit tests of code that uses leasehold.
 */
import {
  assertNoWritesUnder,
  type Backend,
  type BackendCapabilities,
  type ClaimOutcome,
  type Clock,
  compareMatches,
  decodeHolderRecord,
  encodeHolderRecord,
  InvalidArgumentError,
  type KeyValue,
  type LeaderInfo,
  LeaseLostError,
  type OpResult,
  systemClock,
  type TermRef,
  type TxnOutcome,
  toBytes,
} from "../../src/index.ts";

export interface MemoryBackendOptions {
  /** Drives lease expiry; pass `fakeClock()` to control time. Default: the system clock. */
  clock?: Clock;
  /** Key prefix of lease keys. Default "leasehold/". */
  prefix?: string;
  /** Smallest TTL granted, in ms. Default 2000 (etcd's minimum). */
  minTtlMs?: number;
  /** The store's revision before the first write. Default 0; set above 2^53 to test exact tokens. */
  startRevision?: bigint;
}

interface Entry extends KeyValue {
  lease: string | null;
}

interface StoredLease {
  ttlMs: number;
  expiresAt: number;
  keys: Set<string>;
}

/** Test-only views into the store. */
export interface MemoryBackend extends Backend {
  /** The key's current state, or null. */
  get(key: string | Uint8Array): KeyValue | null;
  /** The store's current revision. */
  revision(): bigint;
  /** The number of live leases. */
  leaseCount(): number;
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** Creates an empty in-memory store. */
export function memoryBackend(options: MemoryBackendOptions = {}): MemoryBackend {
  const clock = options.clock ?? systemClock;
  const prefix = options.prefix ?? "leasehold/";
  const prefixBytes = toBytes(prefix);
  const minTtlMs = options.minTtlMs ?? 2000;
  if (!Number.isInteger(minTtlMs) || minTtlMs < 1000 || minTtlMs % 1000 !== 0) {
    throw new InvalidArgumentError("minTtlMs", "must be a whole number of seconds in ms, at least 1000");
  }
  let revision = options.startRevision ?? 0n;
  const kvs = new Map<string, Entry>();
  const leases = new Map<string, StoredLease>();

  const capabilities: BackendCapabilities = {
    atomicGuard: true,
    minTtlMs,
    maxTtlMs: 9_000_000_000_000,
    ttlGranularityMs: 1000,
    compareTargets: ["value", "version", "createRevision", "modRevision"],
  };

  const deleteKey = (id: string): boolean => {
    const entry = kvs.get(id);
    if (!entry) return false;
    if (entry.lease !== null) leases.get(entry.lease)?.keys.delete(id);
    kvs.delete(id);
    return true;
  };

  const revoke = (leaseId: string): void => {
    const lease = leases.get(leaseId);
    if (!lease) return;
    leases.delete(leaseId);
    if (lease.keys.size === 0) return;
    revision += 1n;
    for (const id of lease.keys) deleteKey(id);
  };

  const sweep = (): void => {
    const now = clock.now();
    for (const [id, lease] of leases) if (lease.expiresAt <= now) revoke(id);
  };

  const put = (key: Uint8Array, value: Uint8Array, lease: string | null, rev: bigint): void => {
    const id = hex(key);
    const old = kvs.get(id);
    if (old?.lease) leases.get(old.lease)?.keys.delete(id);
    kvs.set(id, {
      key,
      value,
      createRevision: old?.createRevision ?? rev,
      modRevision: rev,
      version: (old?.version ?? 0n) + 1n,
      lease,
    });
    if (lease !== null) leases.get(lease)?.keys.add(id);
  };

  const leaseKey = (name: string) => toBytes(prefix + name);

  const leaderOf = (name: string): { info: LeaderInfo; entry: Entry } | null => {
    const entry = kvs.get(hex(leaseKey(name)));
    if (!entry || entry.lease === null) return null;
    const record = decodeHolderRecord(entry.value, `memory key ${prefix}${name}`);
    return {
      entry,
      info: {
        holder: record.holder,
        token: entry.createRevision,
        ttlMs: record.ttlMs,
        leaseId: entry.lease,
        ...(record.value === undefined ? {} : { value: record.value }),
      },
    };
  };

  const keepAlive = (leaseId: string): number | null => {
    const lease = leases.get(leaseId);
    if (!lease) return null;
    lease.expiresAt = clock.now() + lease.ttlMs;
    return lease.ttlMs;
  };

  const publicView = (entry: Entry): KeyValue => {
    const { lease: _lease, ...kv } = entry;
    return kv;
  };

  return {
    kind: "memory",
    capabilities,

    async claim(req): Promise<ClaimOutcome> {
      sweep();
      const current = leaderOf(req.name);
      if (current) {
        const mine = current.info.leaseId === String(req.claimId) || current.info.holder === req.holder;
        if (!mine) return { held: false, leader: current.info };
        const grantedTtlMs = keepAlive(current.info.leaseId);
        if (grantedTtlMs === null) throw new LeaseLostError(`lease ${current.info.leaseId} vanished`);
        return { held: true, leader: current.info, grantedTtlMs };
      }
      const leaseId = String(req.claimId);
      leases.set(leaseId, { ttlMs: req.ttlMs, expiresAt: clock.now() + req.ttlMs, keys: new Set() });
      revision += 1n;
      const record = {
        holder: req.holder,
        ttlMs: req.ttlMs,
        ...(req.value === undefined ? {} : { value: req.value }),
      };
      put(leaseKey(req.name), encodeHolderRecord(record), leaseId, revision);
      const claimed = leaderOf(req.name);
      if (!claimed) throw new Error("memory backend: lease key missing after put");
      return { held: true, leader: claimed.info, grantedTtlMs: req.ttlMs };
    },

    async renew(term: TermRef) {
      sweep();
      const grantedTtlMs = keepAlive(term.leaseId);
      if (grantedTtlMs === null)
        throw new LeaseLostError(`lease ${term.name}: lease ${term.leaseId} has expired or was revoked`);
      return { grantedTtlMs };
    },

    async release(term: TermRef) {
      sweep();
      revoke(term.leaseId);
    },

    async leader(name) {
      sweep();
      return leaderOf(name)?.info ?? null;
    },

    async txn(req): Promise<TxnOutcome> {
      assertNoWritesUnder(prefixBytes, req.ops);
      sweep();
      const current = leaderOf(req.term.name);
      if (!current || current.info.token !== req.term.token || current.info.leaseId !== req.term.leaseId) {
        return { applied: false, reason: "not-leader" };
      }
      const read = (key: Uint8Array) => kvs.get(hex(key)) ?? null;
      if (!req.compares.every((c) => compareMatches(c, read(c.key)))) {
        return { applied: false, reason: "condition-failed" };
      }
      const writes = req.ops.some((op) => op.type !== "get");
      if (writes) revision += 1n;
      const results = req.ops.map((op): OpResult => {
        if (op.type === "put") {
          put(op.key, op.value, null, revision);
          return { type: "put" };
        }
        if (op.type === "delete") return { type: "delete", deleted: deleteKey(hex(op.key)) ? 1n : 0n };
        const entry = read(op.key);
        return { type: "get", kv: entry ? publicView(entry) : null };
      });
      return { applied: true, results };
    },

    get(key) {
      sweep();
      const entry = kvs.get(hex(toBytes(key)));
      return entry ? publicView(entry) : null;
    },
    revision: () => revision,
    leaseCount: () => {
      sweep();
      return leases.size;
    },
  };
}
