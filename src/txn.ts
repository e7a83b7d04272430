/**
 * The portable guarded-transaction model: ops and compares are plain, serialisable data, the same for every
 * store. Backends receive them normalised (bytes and bigints) by {@link normalizeTxn}.
 */
import { InvalidArgumentError } from "./errors.ts";

/** Keys and values: a string (encoded as UTF-8) or raw bytes. */
export type Bytes = string | Uint8Array;

/**
 * One op of a guarded transaction (`doIfLeader`), plain data:
 * - `put`: writes `value` at `key` (etcd: a put without a lease; ZooKeeper: a set, or a create when absent);
 * - `delete`: deletes `key` (no range; a missing key is fine, see `OpResult`);
 * - `get`: reads `key` inside the same transaction.
 * Keys must not be empty nor lie under the backend's lease prefix (refused with `InvalidArgumentError`).
 */
export type TxnOp =
  | { type: "put"; key: Bytes; value: Bytes }
  | { type: "delete"; key: Bytes }
  | { type: "get"; key: Bytes };

/** What a compare reads from a key. Revisions are the store's: etcd revisions, ZooKeeper zxids. */
export type CompareTarget = "value" | "version" | "createRevision" | "modRevision";
export type CompareOp = "=" | "!=" | "<" | ">";

/**
 * One condition of a guarded transaction, checked by the store at commit time.
 * `value` is bytes for target `"value"`, and a `bigint` from 0 to 2^63 - 1 otherwise (e.g. `0n`): revisions and
 * versions are 64-bit, so a JS number is refused rather than silently rounded.
 * A missing key has version, createRevision and modRevision 0 (etcd's convention).
 */
export interface Compare {
  key: Bytes;
  target: CompareTarget;
  op: CompareOp;
  value: Bytes | bigint;
}

/** A key as read inside a transaction. Revisions and version are exact 64-bit integers. */
export interface KeyValue {
  key: Uint8Array;
  value: Uint8Array;
  createRevision: bigint;
  modRevision: bigint;
  version: bigint;
}

/**
 * The result of one op, in the order of the ops: `put` says nothing more; `delete` gives how many keys it deleted
 * (0n or 1n); `get` gives the key as read inside the transaction, or null when absent. Keys and values are bytes:
 * `bytesToText(kv.value)` decodes UTF-8.
 */
export type OpResult =
  | { type: "put" }
  | { type: "delete"; deleted: bigint }
  | { type: "get"; kv: KeyValue | null };

/** Why a guarded transaction did not commit. */
export type NotAppliedReason = "not-leader" | "condition-failed";

/**
 * Outcome of `doIfLeader`. `applied: true` means the store committed every op atomically while this
 * participant held the lease term; `results` has one entry per op, in order.
 */
export type TxnOutcome =
  | { applied: true; results: OpResult[] }
  | { applied: false; reason: NotAppliedReason };

export type NormalizedOp =
  | { type: "put"; key: Uint8Array; value: Uint8Array }
  | { type: "delete"; key: Uint8Array }
  | { type: "get"; key: Uint8Array };

export type NormalizedCompare =
  | { key: Uint8Array; target: "value"; op: CompareOp; value: Uint8Array }
  | { key: Uint8Array; target: "version" | "createRevision" | "modRevision"; op: CompareOp; value: bigint };

/** At most this many ops, and as many compares, per transaction (etcd's default `--max-txn-ops` is 128). */
export const MAX_TXN_OPS = 64;

const TARGETS: readonly CompareTarget[] = ["value", "version", "createRevision", "modRevision"];
const OPS: readonly CompareOp[] = ["=", "!=", "<", ">"];
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of a string; bytes are returned as they are. */
export function toBytes(value: Bytes): Uint8Array {
  return typeof value === "string" ? encoder.encode(value) : value;
}

/** Decodes UTF-8 bytes (a `KeyValue`'s `key` or `value`) to a string. */
export function bytesToText(value: Uint8Array): string {
  return decoder.decode(value);
}

function bytesField(value: unknown, field: string, allowEmpty: boolean): Uint8Array {
  if (typeof value !== "string" && !(value instanceof Uint8Array)) {
    throw new InvalidArgumentError(field, "must be a string or a Uint8Array");
  }
  const bytes = toBytes(value);
  if (!allowEmpty && bytes.length === 0) throw new InvalidArgumentError(field, "must not be empty");
  return bytes;
}

function integerField(value: unknown, field: string): bigint {
  if (typeof value === "bigint" && value >= 0n && value < 1n << 63n) return value;
  const given = typeof value === "number" ? ` (got the number ${value}: write ${value}n)` : "";
  throw new InvalidArgumentError(field, `must be a bigint from 0n to 2n ** 63n - 1n${given}`);
}

/**
 * Validates ops and compares and converts them to bytes and bigints. `targets` are the compare targets the
 * backend supports (`capabilities.compareTargets`).
 * @throws {InvalidArgumentError} naming the offending element, e.g. `ops[2].key: must not be empty`.
 */
export function normalizeTxn(
  ops: readonly TxnOp[],
  compares: readonly Compare[] = [],
  targets: readonly CompareTarget[] = TARGETS,
): { ops: NormalizedOp[]; compares: NormalizedCompare[] } {
  return {
    ops: list(ops, "ops").map((op, i): NormalizedOp => {
      const field = `ops[${i}]`;
      const key = bytesField(op?.key, `${field}.key`, false);
      if (op.type === "put") return { type: "put", key, value: bytesField(op.value, `${field}.value`, true) };
      if (op.type === "delete" || op.type === "get") return { type: op.type, key };
      throw new InvalidArgumentError(`${field}.type`, 'must be "put", "delete" or "get"');
    }),
    compares: list(compares, "compares").map((c, i): NormalizedCompare => {
      const field = `compares[${i}]`;
      const key = bytesField(c?.key, `${field}.key`, false);
      if (!targets.includes(c.target)) {
        throw new InvalidArgumentError(`${field}.target`, `must be one of ${targets.join(", ")}`);
      }
      if (!OPS.includes(c.op))
        throw new InvalidArgumentError(`${field}.op`, `must be one of ${OPS.join(" ")}`);
      const at = `${field}.value`;
      return c.target === "value"
        ? { key, target: c.target, op: c.op, value: bytesField(c.value, at, true) }
        : { key, target: c.target, op: c.op, value: integerField(c.value, at) };
    }),
  };
}

function list<T>(value: readonly T[], field: string): readonly T[] {
  if (!Array.isArray(value) || value.length > MAX_TXN_OPS) {
    throw new InvalidArgumentError(field, `must be an array of at most ${MAX_TXN_OPS} entries`);
  }
  return value;
}

/** Evaluates one compare against a key's current state (null when absent), as etcd does. */
export function compareMatches(c: NormalizedCompare, kv: KeyValue | null): boolean {
  if (c.target === "value") {
    if (kv === null) return false;
    return orderMatches(compareBytes(kv.value, c.value), c.op);
  }
  const actual = kv === null ? 0n : kv[c.target];
  return orderMatches(actual < c.value ? -1 : actual > c.value ? 1 : 0, c.op);
}

function orderMatches(order: number, op: CompareOp): boolean {
  switch (op) {
    case "=":
      return order === 0;
    case "!=":
      return order !== 0;
    case "<":
      return order < 0;
    case ">":
      return order > 0;
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * Refuses writes (put, delete) to keys that start with `prefix`: the lease keys live there, and a guarded
 * transaction must not be able to forge or delete a holder record.
 * @throws {InvalidArgumentError} naming the op.
 */
export function assertNoWritesUnder(prefix: Uint8Array, ops: readonly NormalizedOp[]): void {
  ops.forEach((op, i) => {
    if (op.type === "get" || op.key.length < prefix.length) return;
    if (prefix.every((byte, j) => op.key[j] === byte)) {
      throw new InvalidArgumentError(
        `ops[${i}].key`,
        `must not be under the lease prefix "${bytesToText(prefix)}"`,
      );
    }
  });
}
