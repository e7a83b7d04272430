/**
 * The ZooKeeper transaction planner: a pure function from a transaction and what was read of its znodes to
 * the steps that carry it out (see txn.ts for the executor and the guarantees). Plans are plain data: no
 * callbacks, and the inputs are never changed.
 *
 * Keys map to znodes as "/" + key. A put creates missing parent znodes (persistent, no data). Puts and deletes
 * ignore versions, as etcd's do.
 */
import {
  compareMatches,
  type NormalizedCompare,
  type NormalizedOp,
  type OpResult,
  type TxnOutcome,
} from "../../src/backend-kit.ts";
import { ancestors, keyPath } from "./paths.ts";
import type { WireMultiOp } from "./rest.ts";
import { dataOf, type SetStat, type StatEntity, toKeyValue } from "./wire.ts";

/** What was read before planning, by znode path. Missing from `nodes`: not read (never: plan reads all). */
export interface TxnReads {
  /** The leader znode, or null when it does not exist. */
  readonly leader: StatEntity | null;
  /** Each key's znode (compared or op'd), null when missing. */
  readonly nodes: ReadonlyMap<string, StatEntity | null>;
  /** Whether each key's parent znode exists (keys themselves: see `nodes`). */
  readonly parents: ReadonlyMap<string, boolean>;
}

export interface PlanInput {
  readonly ops: readonly NormalizedOp[];
  readonly compares: readonly NormalizedCompare[];
  readonly reads: TxnReads;
  /** The leader znode's path, and the term's REST session ID when the leader znode as read is the term's, else null. */
  readonly guard: { readonly path: string; readonly restSessionId: string | null };
}

/** What a multi op stands for: the guard on the leader znode, a re-check of a read key, or (part of) `ops[op]`. */
export type Position = { guard: "leader"; index: 0 } | { guard: "unchanged"; path: string } | { op: number };

export interface MultiStep {
  readonly wire: WireMultiOp;
  readonly at: Position;
}

/** An op's result once the multi committed; `"commit"`: a revision this multi sets (its commit zxid). */
export type PlannedResult =
  | { type: "put" }
  | { type: "delete"; deleted: bigint }
  | { type: "get"; kv: null }
  | {
      type: "get";
      key: Uint8Array;
      value: Uint8Array;
      createRevision: bigint | "commit";
      modRevision: bigint | "commit";
      version: bigint;
    };

/** The leader znode as read, which the committed guard's stat must show one version on at a later zxid. */
export type LeaderStat = Pick<SetStat, "czxid" | "mzxid" | "version" | "ephemeralOwner">;

/** One op of the non-atomic way, sent in order. */
export type SequenceStep =
  | { do: "answer"; result: OpResult }
  | { do: "get"; path: string; key: Uint8Array }
  | { do: "delete"; path: string }
  /** Set the data; if the znode is missing, create `parents` (in order), then the znode. */
  | { do: "put"; path: string; value: Uint8Array; parents: readonly string[] };

/** The read already decides the transaction: nothing is sent. */
export type Decided = { step: "outcome"; outcome: TxnOutcome };

export interface MultiPlan {
  step: "multi";
  restSessionId: string;
  leader: LeaderStat;
  multi: readonly MultiStep[];
  results: readonly PlannedResult[];
}

export interface SequencePlan {
  step: "sequence";
  sequence: readonly SequenceStep[];
}

export type TxnPlan = Decided | MultiPlan | SequencePlan;

/**
 * The znodes a plan needs read: each key's znode, and the parents of keys that are not keys themselves.
 * @throws {InvalidArgumentError} a key that is not a valid znode path (`ops[i].key`, `compares[i].key`).
 */
export function toRead(
  ops: readonly NormalizedOp[],
  compares: readonly NormalizedCompare[],
): { keys: string[]; parents: string[] } {
  const keys = [
    ...new Set([
      ...compares.map((c, i) => keyPath(c.key, `compares[${i}].key`)),
      ...ops.map((op, i) => keyPath(op.key, `ops[${i}].key`)),
    ]),
  ];
  const parents = [...new Set(keys.flatMap(ancestors))].filter((p) => !keys.includes(p));
  return { keys, parents };
}

/** Whether a znode exists as read (keys from `nodes`, parents from `parents`). */
function existed(reads: TxnReads, path: string): boolean {
  const node = reads.nodes.get(path);
  return node === undefined ? reads.parents.get(path) === true : node !== null;
}

/**
 * Plans a guarded transaction: the outcome when the read already decides it (not-leader, condition-failed),
 * else the ONE multi (`mode: "multi"`) or the ordered requests (`mode: "sequence"`) that carry it out.
 * @throws {InvalidArgumentError} a key that is not a valid znode path.
 * @throws {MalformedResponseError} a read znode's data is not base64.
 */
export function plan(input: PlanInput, mode: "multi"): Decided | MultiPlan;
export function plan(input: PlanInput, mode: "sequence"): Decided | SequencePlan;
export function plan(input: PlanInput, mode: "multi" | "sequence"): TxnPlan {
  const { ops, compares, reads, guard } = input;
  const comparePaths = compares.map((c, i) => keyPath(c.key, `compares[${i}].key`));
  const opPaths = ops.map((op, i) => keyPath(op.key, `ops[${i}].key`));
  if (!reads.leader || guard.restSessionId === null) {
    return { step: "outcome", outcome: { applied: false, reason: "not-leader" } };
  }
  const matched = compares.every((c, i) => {
    const path = comparePaths[i] as string;
    const node = reads.nodes.get(path) ?? null;
    return compareMatches(c, node ? toKeyValue(c.key, node, `get ${path}`) : null);
  });
  if (!matched) return { step: "outcome", outcome: { applied: false, reason: "condition-failed" } };
  if (mode === "sequence") return { step: "sequence", sequence: sequence(ops, opPaths, reads) };
  const { czxid, mzxid, version, ephemeralOwner } = reads.leader;
  return {
    step: "multi",
    restSessionId: guard.restSessionId,
    leader: { czxid, mzxid, version, ephemeralOwner },
    ...multi(reads, guard.path, comparePaths, ops, opPaths),
  };
}

interface Slot {
  node: { value: Uint8Array; zkVersion: number; czxid: bigint | "commit"; mzxid: bigint | "commit" } | null;
  touched: boolean;
}

function multi(
  reads: TxnReads,
  guardPath: string,
  comparePaths: readonly string[],
  ops: readonly NormalizedOp[],
  opPaths: readonly string[],
): { multi: MultiStep[]; results: PlannedResult[] } {
  const leader = reads.leader as StatEntity;
  const steps: MultiStep[] = [
    {
      wire: { op: "set", path: guardPath, data: dataOf(leader, `get ${guardPath}`), version: leader.version },
      at: { guard: "leader", index: 0 },
    },
  ];
  const slots = new Map<string, Slot>();
  const created = new Set<string>();
  const slotOf = (path: string): Slot => {
    let slot = slots.get(path);
    if (!slot) {
      const node = reads.nodes.get(path) ?? null;
      slot = {
        touched: false,
        node: node
          ? {
              value: dataOf(node, `get ${path}`),
              zkVersion: node.version,
              czxid: node.czxid,
              mzxid: node.mzxid,
            }
          : null,
      };
      slots.set(path, slot);
    }
    return slot;
  };
  // As this multi leaves them so far: a key's slot when it has one, else the read and the parents created.
  const missingParents = (path: string) =>
    ancestors(path).filter((p) => {
      const slot = slots.get(p);
      return slot ? slot.node === null : !existed(reads, p) && !created.has(p);
    });
  const checked = new Set<string>();
  const unchanged = (path: string): void => {
    const slot = slotOf(path);
    if (slot.touched || checked.has(path)) return;
    checked.add(path);
    const at: Position = { guard: "unchanged", path };
    if (slot.node) {
      steps.push({ wire: { op: "check", path, version: slot.node.zkVersion }, at });
      return;
    }
    // A create-then-delete re-checks absence: it fails (NODEEXISTS) if the znode appeared since the read.
    const chain = [...missingParents(path), path];
    for (const p of chain) steps.push({ wire: { op: "create", path: p, data: null, ephemeral: false }, at });
    for (const p of chain.reverse()) steps.push({ wire: { op: "delete", path: p, version: 0 }, at });
  };
  for (const path of new Set(comparePaths)) unchanged(path);
  const results = ops.map((op, i): PlannedResult => {
    const path = opPaths[i] as string;
    const slot = slotOf(path);
    const at: Position = { op: i };
    if (op.type === "put") {
      if (slot.node) {
        steps.push({ wire: { op: "set", path, data: op.value, version: -1 }, at });
        slot.node = { ...slot.node, value: op.value, zkVersion: slot.node.zkVersion + 1, mzxid: "commit" };
      } else {
        for (const p of missingParents(path)) {
          steps.push({ wire: { op: "create", path: p, data: null, ephemeral: false }, at });
          created.add(p);
          // A parent that is also a key: later ops on it see the empty znode this multi creates.
          slots.set(p, {
            touched: true,
            node: { value: new Uint8Array(0), zkVersion: 0, czxid: "commit", mzxid: "commit" },
          });
        }
        steps.push({ wire: { op: "create", path, data: op.value, ephemeral: false }, at });
        slot.node = { value: op.value, zkVersion: 0, czxid: "commit", mzxid: "commit" };
      }
      slot.touched = true;
      return { type: "put" };
    }
    if (op.type === "delete") {
      if (!slot.node) {
        unchanged(path);
        return { type: "delete", deleted: 0n };
      }
      steps.push({ wire: { op: "delete", path, version: -1 }, at });
      slot.node = null;
      slot.touched = true;
      return { type: "delete", deleted: 1n };
    }
    unchanged(path);
    const node = slot.node;
    if (!node) return { type: "get", kv: null };
    return {
      type: "get",
      key: op.key,
      value: node.value,
      createRevision: node.czxid,
      modRevision: node.mzxid,
      version: BigInt(node.zkVersion) + 1n,
    };
  });
  return { multi: steps, results };
}

function sequence(ops: readonly NormalizedOp[], opPaths: readonly string[], reads: TxnReads): SequenceStep[] {
  const touched = new Set<string>();
  const created = new Set<string>();
  const deleted = new Set<string>();
  return ops.map((op, i): SequenceStep => {
    const path = opPaths[i] as string;
    if (op.type === "get") {
      if (touched.has(path)) return { do: "get", path, key: op.key };
      const node = reads.nodes.get(path) ?? null;
      return {
        do: "answer",
        result: { type: "get", kv: node ? toKeyValue(op.key, node, `get ${path}`) : null },
      };
    }
    touched.add(path);
    if (op.type === "delete") {
      created.delete(path);
      deleted.add(path);
      return { do: "delete", path };
    }
    deleted.delete(path);
    created.add(path);
    const parents = ancestors(path).filter((p) => (deleted.has(p) || !existed(reads, p)) && !created.has(p));
    for (const p of parents) {
      created.add(p);
      deleted.delete(p);
    }
    return { do: "put", path, value: op.value, parents };
  });
}
