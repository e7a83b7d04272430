/**
 * The ZooKeeper backend against hostile or broken gateway answers, one class per test, each made from a real
 * exchange with leasehold-zk-gateway (test/fixtures) changed in one place: 64-bit stat fields out of range or
 * out of format, stats of another znode, data that is not base64, a multi whose guard result is not the leader
 * znode's, TTLs beyond what was asked, redirects, and the basic-auth header echoed back.
 */
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import {
  type ClaimOutcome,
  HttpStatusError,
  type LeaderInfo,
  MalformedResponseError,
} from "../../../src/backend-kit.ts";
import { editText, exchanges, loadFixture, replayEdited } from "../../fuzz/edit.ts";
import { secretsOf } from "../../fuzz/invariants.ts";

const fixture = loadFixture("zookeeper");
const LEADER = "/znodes/v1/fuzz/leases/job";
const leaderGet = (s: Parameters<typeof exchanges>[0]) =>
  exchanges(s, LEADER).find((e) => e.method === "GET");
const multi = (s: Parameters<typeof exchanges>[0]) => exchanges(s, "/leasehold/v1/multi")[0];

describe("ZooKeeper: 64-bit stat fields", () => {
  it("reads the recorded leader exactly", async () => {
    const leader = (await replayEdited(fixture, "leader-held", () => {})) as LeaderInfo;
    expect(leader).toMatchObject({ token: 6n, leaseId: "72057765282250753" });
  });

  const czxids = ["9999999999999999999", "1".repeat(30), "0", "-0", "-1", "1.5", "1e3"];
  it.each(czxids)("refuses czxid %s as a fencing token", async (bad) => {
    for (const id of ["leader-held", "claim-held-by-other"]) {
      const result = replayEdited(fixture, id, (s) =>
        editText(leaderGet(s), /"czxid":\d+/, `"czxid":${bad}`),
      );
      await expect(result, id).rejects.toBeInstanceOf(MalformedResponseError);
    }
  });

  it.each(["18446744073709551616", "9223372036854775808", "-0"])(
    "refuses ephemeralOwner %s as a lease ID",
    async (bad) => {
      const leader = replayEdited(fixture, "leader-held", (s) =>
        editText(leaderGet(s), /"ephemeralOwner":\d+/, `"ephemeralOwner":${bad}`),
      );
      await expect(leader).rejects.toBeInstanceOf(MalformedResponseError);
    },
  );

  it("refuses a version beyond a Java int, and a negative data length", async () => {
    for (const [from, to] of [
      [/"version":\d+/, '"version":4294967296'],
      [/"dataLength":\d+/, '"dataLength":-1'],
    ] as const) {
      const leader = replayEdited(fixture, "leader-held", (s) => editText(leaderGet(s), from, to));
      await expect(leader, to).rejects.toBeInstanceOf(MalformedResponseError);
    }
  });
});

describe("ZooKeeper: answers about another znode, or not base64", () => {
  it("refuses the stat of another path", async () => {
    const leader = replayEdited(fixture, "leader-held", (s) =>
      editText(leaderGet(s), '"path":"/fuzz/leases/job"', '"path":"/fuzz/leases/other"'),
    );
    await expect(leader).rejects.toBeInstanceOf(MalformedResponseError);
  });

  it("refuses data64 that is not canonical base64, even where atob would decode it", async () => {
    const variants = [
      (d: string) => `${d.slice(0, 8)} ${d.slice(8)}`,
      (d: string) => `\t${d}`,
      (d: string) => `${d}\n`,
    ];
    for (const variant of variants) {
      const leader = replayEdited(fixture, "leader-held", (s) => {
        const ex = leaderGet(s);
        const data = /"data64":"([^"]*)"/.exec(ex?.body ?? "")?.[1] ?? "";
        editText(ex, data, JSON.stringify(variant(data)).slice(1, -1));
      });
      await expect(leader).rejects.toBeInstanceOf(MalformedResponseError);
    }
  });
});

describe("ZooKeeper: the multi's guard result", () => {
  it("applies the recorded multi", async () => {
    await expect(replayEdited(fixture, "txn-applied", () => {})).resolves.toMatchObject({ applied: true });
  });

  const guards: [string, RegExp, string][] = [
    ["mzxid -1", /"mzxid":\d+/, '"mzxid":-1'],
    ["mzxid 0", /"mzxid":\d+/, '"mzxid":0'],
    ["mzxid of the read", /"mzxid":\d+/, '"mzxid":6'],
    ["another czxid", /"czxid":\d+/, '"czxid":5'],
    ["another owner", /"ephemeralOwner":\d+/, '"ephemeralOwner":1'],
    ["another version", /"version":\d+/, '"version":7'],
    ["no stat", /,"stat":\{[^}]*\}/, ""],
    ["another op", /"op":"set"/, '"op":"check"'],
  ];
  it.each(guards)("refuses a committed multi whose guard stat has %s", async (_name, from, to) => {
    const applied = replayEdited(fixture, "txn-applied", (s) => editText(multi(s), from, to));
    await expect(applied).rejects.toBeInstanceOf(MalformedResponseError);
  });

  it("refuses a committed multi with a result missing", async () => {
    const applied = replayEdited(fixture, "txn-applied", (s) =>
      editText(multi(s), /,\{"op":"delete"[^}]*\}\]/, "]"),
    );
    await expect(applied).rejects.toBeInstanceOf(MalformedResponseError);
  });
});

describe("ZooKeeper: TTLs, redirects and secrets", () => {
  it("never grants more than the TTL asked, whatever the leader record says", async () => {
    const record = (ttlMs: number) =>
      Buffer.from(
        JSON.stringify({
          holder: "a",
          ttlMs,
          session: "ARDyd-4G0VDtIIX_vX-KM-TYla6oVBP3pWA4s6j-f6a_pvT33KmXKex63CeAPYwd9On7IPPyG6xt",
          state: "parked",
        }),
      ).toString("base64");
    const resumed = (await replayEdited(fixture, "claim-resume", (s) =>
      editText(leaderGet(s), /"data64":"[^"]*"/, `"data64":"${record(3_600_000)}"`),
    )) as ClaimOutcome;
    expect(resumed).toMatchObject({ held: true, grantedTtlMs: 5000 });
  });

  it("a redirect is an HttpStatusError", async () => {
    for (const status of [301, 307, 308]) {
      const leader = replayEdited(fixture, "leader-held", (s) => {
        const ex = leaderGet(s);
        if (ex) ex.status = status;
      });
      await expect(leader).rejects.toBeInstanceOf(HttpStatusError);
      await expect(leader).rejects.toMatchObject({ status });
    }
  });

  it("redacts the password and the basic-auth header from every error, whatever the gateway echoes", async () => {
    const secrets = secretsOf(fixture);
    const basic = `Basic ${Buffer.from(`${fixture.username}:${fixture.password}`).toString("base64")}`;
    for (const [id, path, status] of [
      ["leader-held", LEADER, 500],
      ["leader-held", LEADER, 401],
      ["claim-free", "/sessions/v1/", 400],
      ["renew", "/sessions/v1/A", 500],
    ] as const) {
      const error = await replayEdited(fixture, id, (s) => {
        const ex = exchanges(s, path)[0];
        if (ex)
          Object.assign(ex, { status, body: JSON.stringify({ message: `${basic} ${fixture.password}` }) });
      }).catch((e: unknown) => e);
      expect(error, `${id} ${status}`).toBeInstanceOf(Error);
      const text = `${String(error)} ${inspect(error, { depth: 20, showHidden: true })}`;
      for (const secret of secrets) expect(text, `${id} ${status}`).not.toContain(secret);
    }
  });
});
