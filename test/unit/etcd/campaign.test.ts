/**
 * The etcd queued campaign (adapters/etcd/campaign.ts) against scripted gateway answers: the requests a step
 * sends, exact int64 tokens, and failing closed (a garbled or inconsistent answer is a typed error, never a
 * lead). The same behaviour on a real etcd: the conformance suite's campaign cases.
 */
import { describe, expect, it } from "vitest";
import { etcdWithWatch } from "../../../adapters/etcd/watch.ts";
import {
  type Backend,
  LeaseLostError,
  MalformedResponseError,
  type Transport,
} from "../../../src/backend-kit.ts";
import { ok, scriptedTransport } from "./scripted-transport.ts";

const b64 = (text: string) => Buffer.from(text).toString("base64");
const E = "leasehold/jobs/x";
const LEASE = "4611686018427387905";
const TOKEN = 9007199254740993n;
const header = { revision: "9007199254741000" };
const ctx = () => ({ signal: AbortSignal.timeout(5000), timeoutMs: 5000 });
const req = { name: "jobs/x", holder: "a", ttlMs: 2000, claimId: BigInt(LEASE) };
const candidate = { leaseId: LEASE, token: TOKEN };
const keptAlive = ok({ result: { ID: LEASE, TTL: "2" } });

function queueOf(transport: Transport) {
  const backend: Backend = etcdWithWatch({ endpoints: ["http://etcd.test:2379"], transport });
  return backend.campaign as NonNullable<Backend["campaign"]>;
}

describe("etcd campaign step", () => {
  it("leads with the candidate's create revision as token, guarded by the candidate key and the whole queue", async () => {
    const transport = scriptedTransport((path) =>
      path === "/v3/lease/keepalive"
        ? keptAlive
        : ok({ header, succeeded: true, responses: [{ response_put: { header: {} } }] }),
    );
    const step = await queueOf(transport).step(req, candidate, ctx());
    expect(step).toEqual({
      held: true,
      leader: { holder: "a", token: TOKEN, ttlMs: 2000, leaseId: LEASE, parked: false },
      grantedTtlMs: 2000,
      hold: header.revision,
    });
    const txn = transport.sent.find((s) => s.path === "/v3/kv/txn")?.body as {
      compare: Record<string, string>[];
    };
    const key = b64(`${E}/${BigInt(LEASE).toString(16)}`);
    expect(txn.compare).toEqual([
      { key, target: "CREATE", result: "EQUAL", create_revision: TOKEN.toString() },
      { key, target: "LEASE", result: "EQUAL", lease: LEASE },
      {
        key: b64(`${E}/`),
        range_end: b64(`${E}0`),
        target: "CREATE",
        result: "GREATER",
        create_revision: (TOKEN - 1n).toString(),
      },
      { key: b64(E), target: "CREATE", result: "EQUAL", create_revision: "0" },
    ]);
  });

  it("fails closed on a garbled answer and on a success without its put", async () => {
    const garbled = scriptedTransport((path) =>
      path === "/v3/lease/keepalive" ? keptAlive : ok({ header: { revision: "x" } }),
    );
    await expect(queueOf(garbled).step(req, candidate, ctx())).rejects.toBeInstanceOf(MalformedResponseError);
    const hollow = scriptedTransport((path) =>
      path === "/v3/lease/keepalive" ? keptAlive : ok({ header, succeeded: true }),
    );
    await expect(queueOf(hollow).step(req, candidate, ctx())).rejects.toBeInstanceOf(MalformedResponseError);
  });

  it("reports a candidate whose key is gone as LeaseLostError, to enqueue again", async () => {
    const empty = { response_range: { header: {} } };
    const transport = scriptedTransport((path) =>
      path === "/v3/lease/keepalive"
        ? keptAlive
        : ok({ header, succeeded: false, responses: [empty, empty, empty, empty] }),
    );
    await expect(queueOf(transport).step(req, candidate, ctx())).rejects.toBeInstanceOf(LeaseLostError);
  });
});
