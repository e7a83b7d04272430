/**
 * The planner's multi, run on a small in-memory model of ZooKeeper's multi semantics, does what the ops do
 * one by one: it applies (every check, create and delete is valid at the read state), leaves the same
 * znodes with the same data, and its get results are the sequential ones. Deletes target leaves only
 * (ZooKeeper refuses a znode with children, which the planner does not predict).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { WireMultiOp } from "../../../adapters/zookeeper/rest.ts";
import { type PlanInput, plan, toRead } from "../../../adapters/zookeeper/txn-plan.ts";
import type { NormalizedOp } from "../../../src/backend-kit.ts";
import { bytes, del, get, LEADER_PATH, leaderStat, put, stat, versionIs } from "./txn-fixtures.ts";

type Tree = Map<string, { data: string; version: number }>;
const text = new TextDecoder();
const KEYS = ["a", "a/b", "a/c", "d"];
const LEAVES = ["a/b", "a/c", "d"];

const parentOf = (path: string) => path.slice(0, path.lastIndexOf("/")) || "/";

/** ZooKeeper's multi on `tree`: all ops or none; false when one would be refused. */
function runMulti(tree: Tree, ops: readonly WireMultiOp[]): boolean {
  for (const op of ops) {
    const node = tree.get(op.path);
    if (op.op === "check") {
      if (!node || node.version !== op.version) return false;
    } else if (op.op === "create") {
      const parent = parentOf(op.path);
      if (node || (parent !== "/" && !tree.has(parent))) return false;
      tree.set(op.path, { data: op.data ? text.decode(op.data) : "", version: 0 });
    } else if (op.op === "set") {
      if (!node || (op.version !== -1 && op.version !== node.version)) return false;
      tree.set(op.path, { data: text.decode(op.data), version: node.version + 1 });
    } else {
      const children = [...tree.keys()].some((p) => p.startsWith(`${op.path}/`));
      if (!node || children || (op.version !== -1 && op.version !== node.version)) return false;
      tree.delete(op.path);
    }
  }
  return true;
}

const opArb: fc.Arbitrary<NormalizedOp> = fc.oneof(
  fc.tuple(fc.constantFrom(...KEYS), fc.string({ maxLength: 3 })).map(([k, v]) => put(k, v)),
  fc.constantFrom(...LEAVES).map(del),
  fc.constantFrom(...KEYS).map(get),
);

describe("plan (property)", () => {
  it("a multi that applies, with the effect and results of the ops one by one", () => {
    fc.assert(
      fc.property(
        fc.subarray(KEYS),
        fc.array(opArb, { maxLength: 6 }),
        fc.subarray(KEYS),
        (present, ops, compared) => {
          const initial: Tree = new Map();
          for (const k of present) {
            // Ancestors of a present key exist too.
            if (k.includes("/") && !present.includes(k.split("/")[0] as string))
              initial.set(`/${k.split("/")[0]}`, { data: "p", version: 2 });
            initial.set(`/${k}`, { data: `v${k}`, version: 2 });
          }
          const snapshot = (p: string) => {
            const n = initial.get(p);
            return n ? stat(p, { data: n.data, version: n.version }) : null;
          };
          const compares = compared.map((k) => versionIs(k, initial.has(`/${k}`) ? 3n : 0n));
          const { keys, parents } = toRead(ops, compares);
          const input: PlanInput = {
            ops,
            compares,
            reads: {
              leader: leaderStat(),
              nodes: new Map(keys.map((p) => [p, snapshot(p)])),
              parents: new Map(parents.map((p) => [p, initial.has(p)])),
            },
            guard: { path: LEADER_PATH, restSessionId: "s1" },
          };
          const planned = plan(input, "multi");
          if (planned.step !== "multi") throw new Error(`expected a multi, got ${JSON.stringify(planned)}`);
          expect(planned.multi[0]?.at).toEqual({ guard: "leader", index: 0 });

          const tree: Tree = new Map(initial);
          tree.set(LEADER_PATH, { data: "record", version: 4 });
          const viaMulti = runMulti(
            tree,
            planned.multi.map((s) => s.wire),
          );

          const model: Tree = new Map(initial);
          const results = ops.map((op) => {
            const path = `/${text.decode(op.key)}`;
            const node = model.get(path);
            if (op.type === "get")
              return node ? { value: node.data, version: BigInt(node.version) + 1n } : null;
            if (op.type === "delete") {
              model.delete(path);
              return null;
            }
            if (path.split("/").length > 2 && !model.has(parentOf(path)))
              model.set(parentOf(path), { data: "", version: 0 });
            model.set(path, { data: text.decode(op.value), version: node ? node.version + 1 : 0 });
            return null;
          });
          const childless = ops.every(
            (op, i) =>
              op.type !== "delete" ||
              ![...modelBefore(initial, ops.slice(0, i)).keys()].some((p) =>
                p.startsWith(`/${text.decode(op.key)}/`),
              ),
          );
          if (!childless) return;
          expect(viaMulti).toBe(true);
          tree.delete(LEADER_PATH);
          expect(tree).toEqual(model);
          planned.results.forEach((r, i) => {
            if (ops[i]?.type !== "get") return;
            const want = results[i];
            if (!want) expect(r).toEqual({ type: "get", kv: null });
            else expect(r).toMatchObject({ type: "get", value: bytes(want.value), version: want.version });
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** The model tree after `ops`, as the sequential reference applies them. */
function modelBefore(initial: Tree, ops: readonly NormalizedOp[]): Tree {
  const tree: Tree = new Map(initial);
  for (const op of ops) {
    const path = `/${text.decode(op.key)}`;
    if (op.type === "delete") tree.delete(path);
    else if (op.type === "put") {
      if (path.split("/").length > 2)
        tree.set(parentOf(path), tree.get(parentOf(path)) ?? { data: "", version: 0 });
      tree.set(path, { data: "", version: 0 });
    }
  }
  return tree;
}
