/** The ZooKeeper transaction planner: pure, table-driven, no gateway. */
import { describe, expect, it } from "vitest";
import { guardHeld, refusal, resultsAt } from "../../../adapters/zookeeper/txn-answer.ts";
import {
  type MultiStep,
  type PlanInput,
  plan,
  type TxnReads,
  toRead,
} from "../../../adapters/zookeeper/txn-plan.ts";
import type { StatEntity } from "../../../adapters/zookeeper/wire.ts";
import { InvalidArgumentError } from "../../../src/index.ts";
import {
  BIG,
  bytes,
  del,
  get,
  LEADER_PATH,
  leaderStat,
  OWNER,
  put,
  stat,
  TOKEN,
  versionIs,
} from "./txn-fixtures.ts";

function reads(nodes: Record<string, StatEntity | null>, parents: Record<string, boolean> = {}): TxnReads {
  return {
    leader: leaderStat(),
    nodes: new Map(Object.entries(nodes)),
    parents: new Map(Object.entries(parents)),
  };
}

const input = (over: Partial<PlanInput>): PlanInput => ({
  ops: [],
  compares: [],
  reads: reads({}),
  guard: { path: LEADER_PATH, restSessionId: "s1" },
  ...over,
});

const leaderSet: MultiStep = {
  wire: { op: "set", path: LEADER_PATH, data: bytes("record"), version: 4 },
  at: { guard: "leader", index: 0 },
};

describe("plan: what the read decides", () => {
  const cases: [string, PlanInput, unknown][] = [
    ["no leader znode", input({ reads: { ...reads({}), leader: null } }), "not-leader"],
    [
      "the leader znode is not the term's",
      input({ guard: { path: LEADER_PATH, restSessionId: null } }),
      "not-leader",
    ],
    [
      "a compare that does not match",
      input({ compares: [versionIs("k", 1n)], ops: [put("k", "v")], reads: reads({ "/k": null }) }),
      "condition-failed",
    ],
    [
      "not-leader before condition-failed",
      input({
        compares: [versionIs("k", 1n)],
        reads: { ...reads({ "/k": null }), leader: null },
      }),
      "not-leader",
    ],
  ];
  it.each(cases)("%s", (_, planInput, reason) => {
    for (const mode of ["multi", "sequence"] as const) {
      expect(plan(planInput, mode as "multi")).toEqual({
        step: "outcome",
        outcome: { applied: false, reason },
      });
    }
  });
});

describe("plan: the multi", () => {
  const existing = stat("/k", { czxid: BIG + 2n, mzxid: BIG + 5n, version: 2, data: "old" });
  const cases: [string, PlanInput, MultiStep[], unknown[]][] = [
    [
      "a put of an existing key: set at any version, no check",
      input({ ops: [put("k", "v")], reads: reads({ "/k": existing }) }),
      [leaderSet, { wire: { op: "set", path: "/k", data: bytes("v"), version: -1 }, at: { op: 0 } }],
      [{ type: "put" }],
    ],
    [
      "a put of a missing key creates its missing parents, once for two puts",
      input({
        ops: [put("a/b/c", "1"), put("a/b/d", "2")],
        reads: reads({ "/a/b/c": null, "/a/b/d": null }, { "/a": true, "/a/b": false }),
      }),
      [
        leaderSet,
        { wire: { op: "create", path: "/a/b", data: null, ephemeral: false }, at: { op: 0 } },
        { wire: { op: "create", path: "/a/b/c", data: bytes("1"), ephemeral: false }, at: { op: 0 } },
        { wire: { op: "create", path: "/a/b/d", data: bytes("2"), ephemeral: false }, at: { op: 1 } },
      ],
      [{ type: "put" }, { type: "put" }],
    ],
    [
      "a compare on a missing key: create-then-delete of it and its missing parents",
      input({ compares: [versionIs("x/y", 0n)], reads: reads({ "/x/y": null }, { "/x": false }) }),
      [
        leaderSet,
        {
          wire: { op: "create", path: "/x", data: null, ephemeral: false },
          at: { guard: "unchanged", path: "/x/y" },
        },
        {
          wire: { op: "create", path: "/x/y", data: null, ephemeral: false },
          at: { guard: "unchanged", path: "/x/y" },
        },
        { wire: { op: "delete", path: "/x/y", version: 0 }, at: { guard: "unchanged", path: "/x/y" } },
        { wire: { op: "delete", path: "/x", version: 0 }, at: { guard: "unchanged", path: "/x/y" } },
      ],
      [],
    ],
    [
      "a key compared and read is checked once, at its version",
      input({ compares: [versionIs("k", 3n)], ops: [get("k")], reads: reads({ "/k": existing }) }),
      [leaderSet, { wire: { op: "check", path: "/k", version: 2 }, at: { guard: "unchanged", path: "/k" } }],
      [
        {
          type: "get",
          key: bytes("k"),
          value: bytes("old"),
          createRevision: BIG + 2n,
          modRevision: BIG + 5n,
          version: 3n,
        },
      ],
    ],
    [
      "a key created as a parent earlier in the multi is set, not created again",
      input({ ops: [put("a/c", "1"), put("a", "2")], reads: reads({ "/a/c": null, "/a": null }) }),
      [
        leaderSet,
        { wire: { op: "create", path: "/a", data: null, ephemeral: false }, at: { op: 0 } },
        { wire: { op: "create", path: "/a/c", data: bytes("1"), ephemeral: false }, at: { op: 0 } },
        { wire: { op: "set", path: "/a", data: bytes("2"), version: -1 }, at: { op: 1 } },
      ],
      [{ type: "put" }, { type: "put" }],
    ],
    [
      "a parent key created earlier in the multi is not created again to re-check a child's absence",
      input({ ops: [put("a", "1"), del("a/b")], reads: reads({ "/a": null, "/a/b": null }) }),
      [
        leaderSet,
        { wire: { op: "create", path: "/a", data: bytes("1"), ephemeral: false }, at: { op: 0 } },
        {
          wire: { op: "create", path: "/a/b", data: null, ephemeral: false },
          at: { guard: "unchanged", path: "/a/b" },
        },
        { wire: { op: "delete", path: "/a/b", version: 0 }, at: { guard: "unchanged", path: "/a/b" } },
      ],
      [{ type: "put" }, { type: "delete", deleted: 0n }],
    ],
    [
      "a missing key compared and read is re-checked absent once",
      input({ compares: [versionIs("m", 0n)], ops: [get("m")], reads: reads({ "/m": null }) }),
      [
        leaderSet,
        {
          wire: { op: "create", path: "/m", data: null, ephemeral: false },
          at: { guard: "unchanged", path: "/m" },
        },
        { wire: { op: "delete", path: "/m", version: 0 }, at: { guard: "unchanged", path: "/m" } },
      ],
      [{ type: "get", kv: null }],
    ],
    [
      "a get after a put sees the put, at the commit zxid, without a check",
      input({ ops: [put("k", "new"), get("k")], reads: reads({ "/k": existing }) }),
      [leaderSet, { wire: { op: "set", path: "/k", data: bytes("new"), version: -1 }, at: { op: 0 } }],
      [
        { type: "put" },
        {
          type: "get",
          key: bytes("k"),
          value: bytes("new"),
          createRevision: BIG + 2n,
          modRevision: "commit",
          version: 4n,
        },
      ],
    ],
    [
      "a created key read back has both revisions at the commit",
      input({ ops: [put("n", "1"), get("n")], reads: reads({ "/n": null }) }),
      [leaderSet, { wire: { op: "create", path: "/n", data: bytes("1"), ephemeral: false }, at: { op: 0 } }],
      [
        { type: "put" },
        {
          type: "get",
          key: bytes("n"),
          value: bytes("1"),
          createRevision: "commit",
          modRevision: "commit",
          version: 1n,
        },
      ],
    ],
    [
      "delete: of an existing key at any version; of a missing key, an absence re-check; a get after, null",
      input({ ops: [del("k"), del("m"), get("k")], reads: reads({ "/k": existing, "/m": null }) }),
      [
        leaderSet,
        { wire: { op: "delete", path: "/k", version: -1 }, at: { op: 0 } },
        {
          wire: { op: "create", path: "/m", data: null, ephemeral: false },
          at: { guard: "unchanged", path: "/m" },
        },
        { wire: { op: "delete", path: "/m", version: 0 }, at: { guard: "unchanged", path: "/m" } },
      ],
      [
        { type: "delete", deleted: 1n },
        { type: "delete", deleted: 0n },
        { type: "get", kv: null },
      ],
    ],
  ];
  it.each(cases)("%s", (_, planInput, multi, results) => {
    expect(plan(planInput, "multi")).toEqual({
      step: "multi",
      restSessionId: "s1",
      leader: { czxid: TOKEN, mzxid: TOKEN + 3n, version: 4, ephemeralOwner: OWNER },
      multi,
      results,
    });
  });

  it("leaves its inputs as they were", () => {
    const planInput = input({
      ops: [put("a/b", "1"), get("a/b"), del("c")],
      compares: [versionIs("c", 1n)],
      reads: reads({ "/a/b": null, "/c": stat("/c", { data: "x" }) }, { "/a": false }),
    });
    const before = structuredClone(planInput);
    plan(planInput, "multi");
    plan(planInput, "sequence");
    expect(planInput).toEqual(before);
  });

  it("names the key that is not a znode path", () => {
    expect(() => plan(input({ ops: [put("/abs", "1")] }), "multi")).toThrow(InvalidArgumentError);
    expect(() => toRead([], [versionIs("a//b", 0n)])).toThrow(/compares\[0\]\.key/);
  });
});

describe("plan: the non-atomic sequence", () => {
  it("answers gets from the read until the key is written, and creates each missing parent once", () => {
    const node = stat("/a/b", { data: "old", version: 1 });
    const planned = plan(
      input({
        ops: [get("a/b"), put("a/b", "1"), get("a/b"), put("a/c", "2"), del("a/b")],
        reads: reads({ "/a/b": node, "/a/c": null }, { "/a": false }),
      }),
      "sequence",
    );
    expect(planned).toEqual({
      step: "sequence",
      sequence: [
        {
          do: "answer",
          result: {
            type: "get",
            kv: {
              key: bytes("a/b"),
              value: bytes("old"),
              createRevision: node.czxid,
              modRevision: node.mzxid,
              version: 2n,
            },
          },
        },
        { do: "put", path: "/a/b", value: bytes("1"), parents: ["/a"] },
        { do: "get", path: "/a/b", key: bytes("a/b") },
        { do: "put", path: "/a/c", value: bytes("2"), parents: [] },
        { do: "delete", path: "/a/b" },
      ],
    });
  });

  it("creates again a parent deleted earlier in the transaction, and never a key it put", () => {
    const planned = plan(
      input({
        ops: [del("a"), put("a/b", "1"), put("c", "2"), put("c/d", "3")],
        reads: reads({ "/a": stat("/a"), "/a/b": null, "/c": null, "/c/d": null }),
      }),
      "sequence",
    );
    expect(
      planned.step === "sequence" && planned.sequence.map((s) => (s.do === "put" ? s.parents : s.do)),
    ).toEqual(["delete", ["/a"], [], []]);
  });
});

describe("toRead", () => {
  it("reads each key once, compares first, and the parents that are not keys", () => {
    expect(toRead([put("a/b/c", "1"), get("a")], [versionIs("a/b/c", 0n)])).toEqual({
      keys: ["/a/b/c", "/a"],
      parents: ["/a/b"],
    });
  });
});

describe("resultsAt", () => {
  it("puts the commit zxid where the multi set a revision, exactly above 2^53", () => {
    const commit = BIG * 3n + 1n;
    expect(
      resultsAt(
        [
          { type: "put" },
          { type: "get", kv: null },
          {
            type: "get",
            key: bytes("k"),
            value: bytes("v"),
            createRevision: BIG,
            modRevision: "commit",
            version: 2n,
          },
          {
            type: "get",
            key: bytes("n"),
            value: bytes("w"),
            createRevision: "commit",
            modRevision: "commit",
            version: 1n,
          },
        ],
        commit,
      ),
    ).toEqual([
      { type: "put" },
      { type: "get", kv: null },
      {
        type: "get",
        kv: { key: bytes("k"), value: bytes("v"), createRevision: BIG, modRevision: commit, version: 2n },
      },
      {
        type: "get",
        kv: { key: bytes("n"), value: bytes("w"), createRevision: commit, modRevision: commit, version: 1n },
      },
    ]);
  });
});

describe("guardHeld", () => {
  const leader = { czxid: TOKEN, mzxid: TOKEN + 3n, version: 4, ephemeralOwner: OWNER };
  const held = { czxid: TOKEN, mzxid: TOKEN + 9n, version: 5, ephemeralOwner: OWNER };
  const cases: [string, typeof held, bigint, boolean][] = [
    ["the leader znode one version on, later", held, TOKEN + 9n, true],
    ["another czxid (re-created znode)", { ...held, czxid: TOKEN + 1n }, TOKEN + 9n, false],
    ["another owner", { ...held, ephemeralOwner: OWNER + 1n }, TOKEN + 9n, false],
    ["the same version", { ...held, version: 4 }, TOKEN + 9n, false],
    ["two versions on", { ...held, version: 6 }, TOKEN + 9n, false],
    ["a commit zxid not after the read", held, TOKEN + 3n, false],
  ];
  it.each(cases)("%s", (_, guard, commit, ok) => {
    expect(guardHeld(leader, guard, commit)).toBe(ok);
  });
});

describe("refusal", () => {
  const steps: MultiStep[] = [
    {
      wire: { op: "set", path: LEADER_PATH, data: bytes(""), version: 4 },
      at: { guard: "leader", index: 0 },
    },
    { wire: { op: "check", path: "/k", version: 1 }, at: { guard: "unchanged", path: "/k" } },
    { wire: { op: "create", path: "/n", data: null, ephemeral: false }, at: { op: 0 } },
    { wire: { op: "delete", path: "/d", version: -1 }, at: { op: 1 } },
  ];
  const cases: [number, string, string][] = [
    [0, "BADVERSION", "not-leader"],
    [0, "NONODE", "not-leader"],
    [0, "SYSTEMERROR", "not-leader"],
    [1, "BADVERSION", "replan"],
    [1, "NONODE", "replan"],
    [2, "NODEEXISTS", "replan"],
    [3, "NOTEMPTY", "fail"],
    [2, "BADARGUMENTS", "fail"],
    [1, "SYSTEMERROR", "fail"],
  ];
  it.each(cases)("op %i refused with %s → %s", (index, code, next) => {
    const verdict = refusal(steps, index, code);
    expect(verdict.next).toBe(next);
    if (verdict.next === "fail") expect(verdict.step).toBe(steps[index]);
  });
});
