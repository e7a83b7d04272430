import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  assertNoWritesUnder,
  type CompareOp,
  compareMatches,
  type KeyValue,
  normalizeTxn,
  toBytes,
} from "../../../src/backend-kit.ts";

const kv = (value: Uint8Array, rev: bigint): KeyValue => ({
  key: toBytes("k"),
  value,
  createRevision: rev,
  modRevision: rev,
  version: 1n,
});
const ops: CompareOp[] = ["=", "!=", "<", ">"];
const expected = (order: number, op: CompareOp) =>
  op === "=" ? order === 0 : op === "!=" ? order !== 0 : op === "<" ? order < 0 : order > 0;

describe("normalizeTxn", () => {
  it("names the offending element and rule", () => {
    expect(() =>
      normalizeTxn([
        { type: "put", key: "a", value: "1" },
        { type: "get", key: "" },
      ]),
    ).toThrow("ops[1].key: must not be empty");
    expect(() => normalizeTxn([{ type: "put", key: "a" } as never])).toThrow(
      "ops[0].value: must be a string",
    );
    expect(() => normalizeTxn([{ type: "merge", key: "a" } as never])).toThrow("ops[0].type:");
    expect(() => normalizeTxn([], [{ key: "a", target: "lease" as never, op: "=", value: 1n }])).toThrow(
      "compares[0].target:",
    );
    expect(() => normalizeTxn([], [{ key: "a", target: "version", op: "<=" as never, value: 1n }])).toThrow(
      "compares[0].op:",
    );
    expect(() => normalizeTxn([], [{ key: "a", target: "version", op: "=", value: -1n }])).toThrow(
      "compares[0].value:",
    );
    expect(() => normalizeTxn([], [{ key: "a", target: "version", op: "=", value: 2n ** 63n }])).toThrow(
      "compares[0].value:",
    );
    expect(() => normalizeTxn([], [{ key: "a", target: "version", op: "=", value: 3 as never }])).toThrow(
      "compares[0].value: must be a bigint from 0n to 2n ** 63n - 1n (got the number 3: write 3n)",
    );
    expect(() =>
      normalizeTxn(Array.from({ length: 65 }, () => ({ type: "get" as const, key: "k" }))),
    ).toThrow("ops: must be an array of at most 64 entries");
  });

  it("encodes strings as UTF-8 and keeps bytes and bigints as they are", () => {
    const raw = new Uint8Array([0, 255]);
    const out = normalizeTxn(
      [{ type: "put", key: "é", value: raw }],
      [{ key: "k", target: "modRevision", op: ">", value: 2n ** 63n - 1n }],
    );
    expect(Array.from(out.ops[0]?.key ?? [])).toEqual([0xc3, 0xa9]);
    expect(out.ops[0]?.type === "put" && out.ops[0].value).toBe(raw);
    expect(out.compares[0]?.value).toBe(2n ** 63n - 1n);
  });
});

describe("compareMatches (etcd semantics)", () => {
  it("orders revisions as exact 64-bit integers", () => {
    fc.assert(
      fc.property(
        fc.bigInt(0n, 2n ** 63n - 1n),
        fc.bigInt(0n, 2n ** 63n - 1n),
        fc.constantFrom(...ops),
        (a, b, op) => {
          const c = { key: toBytes("k"), target: "modRevision" as const, op, value: b };
          return compareMatches(c, kv(new Uint8Array(), a)) === expected(a < b ? -1 : a > b ? 1 : 0, op);
        },
      ),
    );
  });

  it("orders values as unsigned bytes, shorter prefix first", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 6 }),
        fc.uint8Array({ maxLength: 6 }),
        fc.constantFrom(...ops),
        (a, b, op) => {
          const c = { key: toBytes("k"), target: "value" as const, op, value: b };
          return (
            compareMatches(c, kv(a, 1n)) === expected(Buffer.compare(Buffer.from(a), Buffer.from(b)), op)
          );
        },
      ),
    );
  });

  it("treats a missing key as revision 0 and never matches its value", () => {
    const rev = { key: toBytes("k"), target: "createRevision" as const, op: "=" as const, value: 0n };
    expect(compareMatches(rev, null)).toBe(true);
    const val = { key: toBytes("k"), target: "value" as const, op: "!=" as const, value: toBytes("x") };
    expect(compareMatches(val, null)).toBe(false);
  });
});

describe("assertNoWritesUnder", () => {
  it("refuses puts and deletes under the lease prefix but allows reads", () => {
    const prefix = toBytes("leasehold/");
    const { ops } = normalizeTxn([
      { type: "get", key: "leasehold/jobs" },
      { type: "put", key: "leasehold-other", value: "" },
    ]);
    expect(() => assertNoWritesUnder(prefix, ops)).not.toThrow();
    const bad = normalizeTxn([{ type: "delete", key: "leasehold/jobs" }]).ops;
    expect(() => assertNoWritesUnder(prefix, bad)).toThrow(
      'ops[0].key: must not be under the lease prefix "leasehold/"',
    );
  });
});
