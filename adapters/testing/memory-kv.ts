/**
 * The key space of the memory backend: keys with etcd's revision bookkeeping, and one store-wide revision
 * counter that the backend's term writes share, so that tokens, holds and key revisions are ordered as on etcd.
 */
import type { KeyValue, NormalizedCompare, NormalizedOp, OpResult } from "../../src/backend-kit.ts";
import { compareMatches } from "../../src/backend-kit.ts";

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

export interface MemoryKv {
  /** The store's current revision. */
  revision(): bigint;
  /** Starts a new revision (one per write: a transaction's writes, a term record write, a term's deletion). */
  bump(): bigint;
  /** The key's current state, or null when absent. */
  get(key: Uint8Array): KeyValue | null;
  /** True when every compare matches the keys' current state. */
  matches(compares: readonly NormalizedCompare[]): boolean;
  /** Applies `ops` in order, all writes at ONE new revision (none when there are only reads). */
  apply(ops: readonly NormalizedOp[]): OpResult[];
}

/** An empty key space whose revision starts at `startRevision`. */
export function memoryKv(startRevision: bigint): MemoryKv {
  let revision = startRevision;
  const kvs = new Map<string, KeyValue>();
  const get = (key: Uint8Array) => kvs.get(hex(key)) ?? null;
  return {
    revision: () => revision,
    bump: () => {
      revision += 1n;
      return revision;
    },
    get,
    matches: (compares) => compares.every((c) => compareMatches(c, get(c.key))),
    apply(ops) {
      if (ops.some((op) => op.type !== "get")) revision += 1n;
      return ops.map((op): OpResult => {
        const id = hex(op.key);
        if (op.type === "get") return { type: "get", kv: kvs.get(id) ?? null };
        if (op.type === "delete") return { type: "delete", deleted: kvs.delete(id) ? 1n : 0n };
        const old = kvs.get(id);
        // Copies: the caller's arrays stay the caller's, as if they had crossed the wire.
        kvs.set(id, {
          key: op.key.slice(),
          value: op.value.slice(),
          createRevision: old?.createRevision ?? revision,
          modRevision: revision,
          version: (old?.version ?? 0n) + 1n,
        });
        return { type: "put" };
      });
    },
  };
}
