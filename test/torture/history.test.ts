/**
 * The torture test's store-history replays on hand-made histories: etcd events (election layout) and ZooKeeper
 * txns. Writes committed inside their term pass; a write committed while the term was parked, under another
 * hold, or after the term ended is flagged; the terms come out in order with their holders and lease IDs.
 */
import { describe, expect, test } from "vitest";
import { type EtcdEvent, replayEtcd } from "../../scripts/torture/etcd-history.ts";
import { replayZooKeeper, type ZkTxn } from "../../scripts/torture/zookeeper-history.ts";

const E = "leasehold/torture/lease";
const LEASE_1 = "7000000000000000001";
const LEASE_2 = "7000000000000000002";
const hex = (id: string) => BigInt(id).toString(16);

function put(rev: number, key: string, value: string, lease = "0", create = rev): EtcdEvent {
  return {
    type: "PUT",
    key,
    kv: { createRevision: BigInt(create), modRevision: BigInt(rev), version: 1n, lease, value },
  };
}
const del = (rev: number, key: string): EtcdEvent => ({
  type: "DELETE",
  key,
  kv: { createRevision: 0n, modRevision: BigInt(rev), version: 0n, lease: "0", value: "" },
});
const record = (holder: string, state: string, run?: string) =>
  JSON.stringify({ holder, ttlMs: 3000, state, ...(run ? { run } : {}) });
const named = (token: string, hold: string) => JSON.stringify({ w: "x", h: "x#1", token, hold });

describe("etcd history replay", () => {
  const events: EtcdEvent[] = [
    put(2, `${E}/${hex(LEASE_1)}`, "a", LEASE_1),
    put(2, E, record("a", "busy", LEASE_1), LEASE_1),
    put(3, "torture/w/ok", named("2", "2")),
    put(4, "torture/w/stale-hold", named("2", "1")),
    put(5, E, record("a", "parked"), LEASE_1, 2),
    put(6, "torture/w/parked", named("2", "2")),
    del(7, `${E}/${hex(LEASE_1)}`),
    del(7, E),
    put(8, `${E}/${hex(LEASE_2)}`, "b", LEASE_2),
    put(8, E, record("b", "busy", LEASE_2), LEASE_2),
    put(9, "torture/w/late", named("2", "5")),
    put(10, "torture/w/ok2", named("8", "8")),
    put(11, "torture/w/ok2", named("8", "8")),
    put(12, "unrelated/key", "x"),
  ];
  const h = replayEtcd(12n, events, E, "torture/w");

  test("the terms, in order, with holder and lease ID", () => {
    expect(h.terms).toEqual([
      { token: 2n, holder: "a", leaseId: LEASE_1, from: 2n },
      { token: 8n, holder: "b", leaseId: LEASE_2, from: 8n },
    ]);
  });

  test("each write judged at its revision, and counted per commit", () => {
    expect(h.writes.map((w) => [w.key, w.at, w.commits, w.problem])).toEqual([
      ["torture/w/ok", 3n, 1, null],
      ["torture/w/stale-hold", 4n, 1, "the term was held under hold 2, not 1"],
      ["torture/w/parked", 6n, 1, "the term was parked"],
      ["torture/w/late", 9n, 1, "term 8 led, not 2"],
      ["torture/w/ok2", 10n, 2, null],
    ]);
  });
});

describe("ZooKeeper history replay", () => {
  const leader = "/leasehold/torture^lease";
  const S1 = "72057762805907460";
  const S2 = "72057762805907461";
  const data = (holder: string, state: string, run?: string) =>
    JSON.stringify({ holder, ttlMs: 3000, session: "s", state, ...(run ? { run } : {}) });
  const acl = "[31,s{'world,'anyone}\n]";
  const txn = (zxid: number, session: string, type: string, body: string): ZkTxn => ({
    zxid: BigInt(zxid),
    session,
    type,
    body,
  });
  const multi = (path: string) =>
    `setData:   ${leader}   \u0000\u0000\u0000w{}   ;create:   ${path}\u0000\u0000\u0000E{}         world   anyone    `;
  const txns = [
    txn(5, S1, "create", `${leader},${data("a", "busy", "11")},${acl},true,1`),
    txn(6, S1, "multi", multi("/torture/w/ok")),
    txn(7, S1, "setData", `${leader},${data("a", "parked")},1`),
    txn(8, S1, "multi", multi("/torture/w/parked")),
    txn(9, S1, "multi", `error: -101 ;${multi("/torture/w/failed")}`),
    txn(10, S1, "closeSession", `v{'${leader}}`),
    // As TxnLogToolkit prints some txns: followed by an empty line.
    txn(11, S2, "create", `${leader},${data("b", "busy", "22")},${acl},true,138\n`),
    txn(12, S2, "multi", multi("/torture/w/late")),
    txn(13, S1, "multi", multi("/torture/w/other-session")),
    txn(14, S2, "create", `/torture/w/plain,${named("11", "22")},${acl},false,1`),
    txn(15, S2, "multi", multi("/torture/w/moved")),
  ];
  const values: Record<string, string> = {
    "/torture/w/ok": named("5", "11"),
    "/torture/w/parked": named("5", "11"),
    "/torture/w/late": named("5", "11"),
    "/torture/w/other-session": named("11", "22"),
    "/torture/w/plain": named("11", "22"),
    "/torture/w/moved": named("11", "22"),
  };

  test("terms from the leader znode's creates; writes judged at their zxid; failed multis are no writes; unguarded creates are flagged", async () => {
    const czxids: Record<string, bigint> = {
      "/torture/w/ok": 6n,
      "/torture/w/parked": 8n,
      "/torture/w/late": 12n,
      "/torture/w/other-session": 13n,
      "/torture/w/plain": 14n,
      "/torture/w/moved": 99n,
    };
    const h = await replayZooKeeper(txns, leader, "/torture/w", async (p) => {
      const value = values[p];
      const czxid = czxids[p];
      return value === undefined || czxid === undefined ? null : { value, czxid };
    });
    expect(h.terms).toEqual([
      { token: 5n, holder: "a", leaseId: S1, from: 5n },
      { token: 11n, holder: "b", leaseId: S2, from: 11n },
    ]);
    expect(h.writes.map((w) => [w.key, w.at, w.problem])).toEqual([
      ["torture/w/ok", 6n, null],
      ["torture/w/parked", 8n, "the term was parked"],
      ["torture/w/late", 12n, "term 11 led, not 5"],
      ["torture/w/other-session", 13n, `the multi ran on session ${S1}, not the term's`],
      ["torture/w/plain", 14n, "a plain create, not a guarded multi"],
      ["torture/w/moved", 15n, "its czxid is 99, not its create's zxid"],
    ]);
    expect(h.head).toBe(15n);
  });
});
