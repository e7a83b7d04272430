/** The ZooKeeper transaction executor on a scripted REST client: what it sends, and what answers mean. */
import { describe, expect, it } from "vitest";
import type { MultiOutcome, WireMultiOp } from "../../../adapters/zookeeper/rest.ts";
import { atomicTxn, type Guard, nonAtomicTxn, type TxnRest } from "../../../adapters/zookeeper/txn.ts";
import type { StatEntity } from "../../../adapters/zookeeper/wire.ts";
import {
  HttpStatusError,
  InvalidArgumentError,
  isLeaseError,
  MalformedResponseError,
  TransportError,
  UnsupportedError,
} from "../../../src/index.ts";
import { BIG, bytes, del, get, LEADER_PATH, leaderStat, OWNER, put, stat, TOKEN } from "./txn-fixtures.ts";

const ctx = { signal: new AbortController().signal };
const guard: Guard = { path: LEADER_PATH, restSessionOf: (node) => (node.czxid === TOKEN ? "s1" : null) };
const COMMIT = TOKEN + 50n;
const committed: MultiOutcome = {
  committed: true,
  commitZxid: COMMIT,
  guard: { czxid: TOKEN, mzxid: COMMIT, version: 5, ephemeralOwner: OWNER },
};

/** A REST client that answers reads from `nodes` and multis from `multis`, in turn, and records every call. */
function scripted(nodes: Record<string, StatEntity | null>, multis: (MultiOutcome | null)[] = []) {
  const calls: string[] = [];
  const sent: { ops: readonly WireMultiOp[]; restSessionId: string }[] = [];
  const rest: TxnRest & { calls: string[]; sent: typeof sent; failOn?: string } = {
    calls,
    sent,
    async getNode(path) {
      calls.push(`get ${path}`);
      return path === LEADER_PATH ? (nodes[path] ?? leaderStat()) : (nodes[path] ?? null);
    },
    async exists(path) {
      calls.push(`exists ${path}`);
      return nodes[path] !== undefined && nodes[path] !== null;
    },
    async multi(ops, restSessionId) {
      sent.push({ ops, restSessionId });
      const next = multis.shift();
      if (next === undefined) throw new Error("no more scripted multis");
      return next;
    },
    async setData(path) {
      calls.push(`set ${path}`);
      if (rest.failOn === `set ${path}`) throw new TransportError("connection reset");
      return nodes[path] !== undefined && nodes[path] !== null;
    },
    async create(path) {
      calls.push(`create ${path}`);
      return rest.failOn === `create ${path}` ? "no-parent" : "created";
    },
    async delete(path) {
      calls.push(`delete ${path}`);
      return nodes[path] !== undefined && nodes[path] !== null;
    },
  };
  return rest;
}

const existing = stat("/k", { czxid: BIG + 2n, mzxid: BIG + 5n, version: 2, data: "old" });

describe("atomicTxn", () => {
  it("sends one multi on the term's session and fills in the commit zxid", async () => {
    const rest = scripted({ "/k": existing }, [committed]);
    const outcome = await atomicTxn(rest, guard, [put("k", "new"), get("k")], [], ctx);
    expect(rest.sent).toHaveLength(1);
    expect(rest.sent[0]?.restSessionId).toBe("s1");
    expect(rest.sent[0]?.ops.map((op) => `${op.op} ${op.path}`)).toEqual([`set ${LEADER_PATH}`, "set /k"]);
    expect(outcome).toEqual({
      applied: true,
      results: [
        { type: "put" },
        {
          type: "get",
          kv: {
            key: bytes("k"),
            value: bytes("new"),
            createRevision: BIG + 2n,
            modRevision: COMMIT,
            version: 4n,
          },
        },
      ],
    });
  });

  it("sends nothing when the leader znode is another term's", async () => {
    const rest = scripted({ [LEADER_PATH]: stat(LEADER_PATH, { czxid: TOKEN + 1n, owner: OWNER }) });
    expect(await atomicTxn(rest, guard, [put("k", "v")], [], ctx)).toEqual({
      applied: false,
      reason: "not-leader",
    });
    expect(rest.sent).toEqual([]);
  });

  const guardStats: [string, Partial<typeof committed & { committed: true }>["guard"]][] = [
    ["another czxid", { czxid: TOKEN + 1n, mzxid: COMMIT, version: 5, ephemeralOwner: OWNER }],
    ["another owner", { czxid: TOKEN, mzxid: COMMIT, version: 5, ephemeralOwner: OWNER + 1n }],
    ["the version not + 1", { czxid: TOKEN, mzxid: COMMIT, version: 4, ephemeralOwner: OWNER }],
  ];
  it.each(guardStats)("a committed guard with %s is malformed, never applied", async (_, stat) => {
    const rest = scripted({}, [{ ...committed, guard: stat } as MultiOutcome]);
    await expect(atomicTxn(rest, guard, [put("k", "v")], [], ctx)).rejects.toBeInstanceOf(
      MalformedResponseError,
    );
  });

  it("a commit zxid not after the leader znode's mzxid is malformed", async () => {
    const late = {
      committed: true,
      commitZxid: TOKEN + 3n,
      guard: { czxid: TOKEN, mzxid: TOKEN + 3n, version: 5, ephemeralOwner: OWNER },
    } as const;
    await expect(atomicTxn(scripted({}, [late]), guard, [put("k", "v")], [], ctx)).rejects.toBeInstanceOf(
      MalformedResponseError,
    );
  });

  const notLeader: [string, MultiOutcome][] = [
    ["the guard refused", { committed: false, refused: { index: 0, code: "BADVERSION", status: 412 } }],
    ["the guard's znode gone", { committed: false, refused: { index: 0, code: "NONODE", status: 404 } }],
    ["the REST session unknown", { committed: false, refused: "no-session" }],
  ];
  it.each(notLeader)("%s → not-leader, not retried", async (_, answer) => {
    const rest = scripted({}, [answer]);
    expect(await atomicTxn(rest, guard, [put("k", "v")], [], ctx)).toEqual({
      applied: false,
      reason: "not-leader",
    });
    expect(rest.sent).toHaveLength(1);
  });

  it("a key that changed in between is read and planned again", async () => {
    const rest = scripted({ "/k": existing }, [
      { committed: false, refused: { index: 1, code: "BADVERSION", status: 412 } },
      committed,
    ]);
    const outcome = await atomicTxn(rest, guard, [get("k")], [], ctx);
    expect(outcome?.applied).toBe(true);
    expect(rest.sent).toHaveLength(2);
    expect(rest.calls.filter((c) => c === "get /k")).toHaveLength(2);
  });

  it("gives up after 3 contended tries: retryable, with the gateway's status and ZooKeeper's code", async () => {
    const contended: MultiOutcome = {
      committed: false,
      refused: { index: 1, code: "BADVERSION", status: 412 },
    };
    const rest = scripted({ "/k": existing }, [contended, contended, contended]);
    const error = await atomicTxn(rest, guard, [get("k")], [], ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({ status: 412, retryable: true });
    expect(String(error)).toMatch(/BADVERSION/);
    expect(rest.sent).toHaveLength(3);
  });

  const failures: [string, number, string, number, new (...args: never[]) => Error][] = [
    ["a delete of a znode with children", 1, "NOTEMPTY", 409, UnsupportedError],
    ["bad arguments", 1, "BADARGUMENTS", 400, InvalidArgumentError],
    ["another ZooKeeper error", 1, "SYSTEMERROR", 502, HttpStatusError],
  ];
  it.each(failures)("%s (%s) is thrown, not retried", async (_, index, code, status, type) => {
    const rest = scripted({ "/k": existing }, [{ committed: false, refused: { index, code, status } }]);
    const error = await atomicTxn(rest, guard, [del("k")], [], ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(type);
    expect(String(error)).toContain(`delete /k (${code})`);
    if (error instanceof HttpStatusError) expect(error.status).toBe(status);
    expect(rest.sent).toHaveLength(1);
  });

  it("null when the gateway has no multi endpoint", async () => {
    expect(await atomicTxn(scripted({}, [null]), guard, [put("k", "v")], [], ctx)).toBeNull();
  });
});

describe("nonAtomicTxn", () => {
  it("checks on the read, then one request per op, creating missing parents", async () => {
    const rest = scripted({ "/k": existing });
    const outcome = await nonAtomicTxn(rest, guard, [get("k"), put("a/b", "1"), del("k")], [], ctx);
    expect(outcome).toMatchObject({
      applied: true,
      results: [{ type: "get" }, { type: "put" }, { type: "delete", deleted: 1n }],
    });
    expect(rest.calls.slice(4)).toEqual(["set /a/b", "create /a", "create /a/b", "delete /k"]);
  });

  it("stops at a failed op with an error of its kind, saying which ops were applied", async () => {
    const rest = scripted({ "/k": existing });
    rest.failOn = "set /x";
    const error = await nonAtomicTxn(rest, guard, [put("k", "1"), put("x", "2")], [], ctx).catch(
      (e: unknown) => e,
    );
    expect(isLeaseError(error) && error.code).toBe("TRANSPORT");
    expect(error).toMatchObject({ retryable: false });
    expect(String(error)).toMatch(/ops\[1\].*ops\[0\.\.0\] were applied/);
  });

  it("a parent deleted meanwhile: the gateway's 404 with ZooKeeper's NONODE", async () => {
    const rest = scripted({});
    rest.failOn = "create /n";
    const error = await nonAtomicTxn(rest, guard, [put("n", "1")], [], ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({ status: 404 });
    expect(String(error)).toMatch(/no op was applied/);
  });
});
