/**
 * The etcd backend against scripted gateway answers: exact int64s, protojson's omitted defaults, error
 * mapping and the exact requests sent. The same behaviour on a real etcd is covered by the conformance suite.
 */
import { describe, expect, it } from "vitest";
import { etcd } from "../../adapters/etcd/index.ts";
import {
  AuthError,
  createLease,
  encodeHolderRecord,
  type HttpRequest,
  type HttpResponse,
  HttpStatusError,
  InvalidArgumentError,
  LeaseLostError,
  MalformedResponseError,
  type Transport,
  TransportError,
} from "../../src/index.ts";

type Script = (path: string, body: Record<string, unknown>) => HttpResponse | Error;

function scriptedTransport(
  script: Script,
): Transport & { sent: { path: string; body: Record<string, unknown> }[] } {
  const sent: { path: string; body: Record<string, unknown> }[] = [];
  return {
    sent,
    async request(req: HttpRequest) {
      const path = new URL(req.url).pathname;
      const body = JSON.parse(String(req.body)) as Record<string, unknown>;
      sent.push({ path, body });
      const answer = script(path, body);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
}

const ok = (json: unknown): HttpResponse => ({ status: 200, headers: {}, body: JSON.stringify(json) });
const fail = (status: number, code: number, message: string): HttpResponse => ({
  status,
  headers: {},
  body: JSON.stringify({ error: message, message, code }),
});
const b64 = (text: string | Uint8Array) => Buffer.from(text).toString("base64");
const record = (holder: string) => b64(encodeHolderRecord({ holder, ttlMs: 3000 }));

const ABOVE_2_53 = "9007199254740993";
const MAX_INT64 = "9223372036854775807";

function lease(script: Script, holder = "a") {
  const transport = scriptedTransport(script);
  const backend = etcd({ endpoints: ["http://127.0.0.1:2379"], transport });
  return { transport, lease: createLease({ backend, name: "jobs/x", holder, ttlMs: 3000 }) };
}

const grantEcho: Script = (path, body) =>
  path === "/v3/lease/grant"
    ? ok({ header: { revision: "1" }, ID: body.ID, TTL: "3" })
    : new Error("unexpected");

describe("etcd backend wire handling", () => {
  it("reads revisions above 2^53 exactly", async () => {
    const { lease: a } = lease((path, body) =>
      path === "/v3/kv/txn"
        ? ok({ header: { revision: ABOVE_2_53 }, succeeded: true, responses: [{ response_put: {} }] })
        : grantEcho(path, body),
    );
    const s = await a.claim();
    expect(s.token).toBe(9007199254740993n);
  });

  it("reads another holder's lease ID and create_revision exactly", async () => {
    const { lease: a } = lease((path, body) =>
      path === "/v3/kv/txn"
        ? ok({
            header: { revision: "5" },
            responses: [
              {
                response_range: {
                  kvs: [
                    {
                      key: b64("leasehold/jobs/x"),
                      create_revision: "18014398509481985",
                      value: record("z"),
                      lease: MAX_INT64,
                    },
                  ],
                },
              },
            ],
          })
        : grantEcho(path, body),
    );
    const s = await a.claim();
    expect(s).toMatchObject({ isLeader: false, holder: "z", token: 18014398509481985n, leaseId: MAX_INT64 });
  });

  it("sends a grant with the claim ID and TTL in seconds, and a create-if-absent txn on that lease", async () => {
    const { lease: a, transport } = lease((path, body) =>
      path === "/v3/kv/txn" ? ok({ header: { revision: "7" }, succeeded: true }) : grantEcho(path, body),
    );
    await a.claim();
    const [grant, txn] = transport.sent;
    expect(grant?.path).toBe("/v3/lease/grant");
    expect(grant?.body).toEqual({ ID: expect.stringMatching(/^\d+$/), TTL: "3" });
    expect(BigInt(grant?.body.ID as string)).toBeGreaterThan(2n ** 53n);
    expect(txn?.body).toEqual({
      compare: [{ key: b64("leasehold/jobs/x"), target: "CREATE", result: "EQUAL", create_revision: "0" }],
      success: [{ request_put: { key: b64("leasehold/jobs/x"), value: record("a"), lease: grant?.body.ID } }],
      failure: [{ request_range: { key: b64("leasehold/jobs/x") } }],
    });
  });

  it("retries a claim with the same lease ID and accepts 'lease already exists' as its own grant", async () => {
    let txns = 0;
    let grants = 0;
    const { lease: a, transport } = lease((path, body) => {
      if (path === "/v3/lease/grant")
        return grants++ === 0 ? grantEcho(path, body) : fail(412, 9, "etcdserver: lease already exists");
      if (path === "/v3/lease/keepalive") return ok({ result: { header: {}, ID: body.ID, TTL: "3" } });
      if (txns++ === 0) return new TransportError("connection reset");
      return ok({ header: { revision: "9" }, succeeded: true });
    });
    await expect(a.claim()).rejects.toBeInstanceOf(TransportError);
    const s = await a.claim();
    expect(s).toMatchObject({ isLeader: true, token: 9n });
    const grantsSent = transport.sent.filter((r) => r.path === "/v3/lease/grant").map((r) => r.body.ID);
    expect(grantsSent).toHaveLength(2);
    expect(grantsSent[1]).toBe(grantsSent[0]);
    expect(s.leaseId).toBe(grantsSent[0]);
  });

  it("reads an omitted TTL in a keepalive answer as 0: the lease is gone", async () => {
    const { lease: a } = lease((path, body) => {
      if (path === "/v3/lease/keepalive") return ok({ result: { header: { revision: "3" }, ID: body.ID } });
      if (path === "/v3/kv/txn") return ok({ header: { revision: "2" }, succeeded: true });
      return grantEcho(path, body);
    });
    await a.claim();
    await expect(a.renew()).rejects.toBeInstanceOf(LeaseLostError);
    expect(a.state().isLeader).toBe(false);
  });

  it("refuses a keepalive answer for another lease", async () => {
    const { lease: a } = lease((path, body) => {
      if (path === "/v3/lease/keepalive") return ok({ result: { ID: "12", TTL: "3" } });
      if (path === "/v3/kv/txn") return ok({ header: { revision: "2" }, succeeded: true });
      return grantEcho(path, body);
    });
    await a.claim();
    await expect(a.renew()).rejects.toBeInstanceOf(MalformedResponseError);
  });

  it("guards doIfLeader with the token and lease ID, and maps the caller's compares", async () => {
    const { lease: a, transport } = lease((path, body) =>
      path === "/v3/kv/txn"
        ? ok({ header: { revision: ABOVE_2_53 }, succeeded: true, responses: [{ response_put: {} }] })
        : grantEcho(path, body),
    );
    const s = await a.claim();
    const r = await a.doIfLeader(
      [{ type: "put", key: "jobs/last", value: "x" }],
      [{ key: "jobs/last", target: "modRevision", op: ">", value: 2n ** 62n }],
    );
    expect(r).toEqual({ applied: true, results: [{ type: "put" }] });
    const guarded = transport.sent.at(-1)?.body;
    expect(guarded?.compare).toEqual([
      { key: b64("leasehold/jobs/x"), target: "CREATE", result: "EQUAL", create_revision: ABOVE_2_53 },
      { key: b64("leasehold/jobs/x"), target: "LEASE", result: "EQUAL", lease: s.leaseId },
      { key: b64("jobs/last"), target: "MOD", result: "GREATER", mod_revision: (2n ** 62n).toString() },
    ]);
  });

  it("tells condition-failed from not-leader by the returned leader key", async () => {
    let leaseId = "";
    let keyLease = "";
    const { lease: a } = lease((path, body) => {
      if (path === "/v3/lease/grant") {
        leaseId = body.ID as string;
        keyLease = leaseId;
        return grantEcho(path, body);
      }
      if ((body.compare as unknown[]).length === 1) return ok({ header: { revision: "4" }, succeeded: true });
      const kv = { key: b64("leasehold/jobs/x"), create_revision: "4", value: record("a"), lease: keyLease };
      return ok({ header: { revision: "5" }, responses: [{ response_range: { kvs: [kv] } }] });
    });
    await a.claim();
    const cas = [{ key: "k", target: "value" as const, op: "=" as const, value: "v" }];
    expect(await a.doIfLeader([{ type: "put", key: "k", value: "w" }], cas)).toEqual({
      applied: false,
      reason: "condition-failed",
    });
    keyLease = "77";
    expect(await a.doIfLeader([{ type: "put", key: "k", value: "w" }], cas)).toEqual({
      applied: false,
      reason: "not-leader",
    });
  });

  it("maps gateway errors to typed errors", async () => {
    const cases: [HttpResponse, unknown][] = [
      [fail(401, 16, "etcdserver: invalid auth token"), AuthError],
      [fail(403, 7, "etcdserver: permission denied"), AuthError],
      [fail(400, 3, "etcdserver: key is not provided"), HttpStatusError],
      [{ status: 502, headers: {}, body: "<html>bad gateway</html>" }, HttpStatusError],
    ];
    for (const [answer, errorClass] of cases) {
      const { lease: a } = lease(() => answer);
      const error = await a.leader().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(errorClass);
      if (answer.status === 502) expect(error).toMatchObject({ retryable: true, status: 502 });
    }
  });

  it("refuses keys that are not holder records, lease-less keys and bad base64", async () => {
    const kvs = [
      { key: b64("leasehold/jobs/x"), create_revision: "2", value: b64("not json"), lease: "5" },
      { key: b64("leasehold/jobs/x"), create_revision: "2", value: record("a") },
      { key: b64("leasehold/jobs/x"), create_revision: "2", value: "%%%", lease: "5" },
      { key: b64("leasehold/jobs/x"), create_revision: "2.5", value: record("a"), lease: "5" },
      { key: b64("leasehold/jobs/x"), create_revision: 2, value: record("a"), lease: "5" },
    ];
    for (const kv of kvs) {
      const { lease: a } = lease(() => ok({ header: {}, kvs: [kv] }));
      await expect(a.leader()).rejects.toBeInstanceOf(MalformedResponseError);
    }
  });

  it("reads an absent key as no leader, and a revoke of a missing lease as released", async () => {
    const { lease: a } = lease((path) =>
      path === "/v3/kv/range"
        ? ok({ header: { revision: "3" } })
        : fail(404, 5, "etcdserver: requested lease not found"),
    );
    expect(await a.leader()).toBeNull();
    await expect(a.release()).resolves.toBeUndefined();
  });
});

describe("etcd options", () => {
  it("validate endpoints and prefix, naming the field", () => {
    const bad: [unknown, string][] = [
      [[], "endpoints"],
      ["http://x:2379", "endpoints"],
      [["ftp://x"], "endpoints[0]"],
      [["http://127.0.0.1:2379", "nope"], "endpoints[1]"],
      [["http://user:pw@x:2379"], "endpoints[0]"],
      [["http://x:2379/v3"], "endpoints[0]"],
    ];
    for (const [endpoints, field] of bad) {
      expect(() => etcd({ endpoints } as never)).toThrow(expect.objectContaining({ field }));
    }
    expect(() => etcd({ endpoints: ["http://x:2379"], prefix: "" })).toThrow(InvalidArgumentError);
    expect(() => etcd({ endpoints: ["http://x:2379"], prefix: "a\0" })).toThrow(/^prefix: /);
  });

  it("never echoes credentials from a rejected endpoint", () => {
    const error = (() => {
      try {
        etcd({ endpoints: ["http://admin:s3cret@x:2379"] });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).not.toContain("s3cret");
  });
});

describe("holder records", () => {
  it("refuse an empty holder, a TTL that is not a positive integer, and non-UTF-8 bytes", async () => {
    const bad = [
      b64(JSON.stringify({ holder: "", ttlMs: 3000 })),
      b64(JSON.stringify({ holder: "a", ttlMs: 0 })),
      b64(JSON.stringify({ holder: "a", ttlMs: 2.5 })),
      b64(JSON.stringify({ holder: "a", ttlMs: "3000" })),
      b64(new Uint8Array([0xff, 0xfe])),
    ];
    for (const value of bad) {
      const kv = { key: b64("leasehold/jobs/x"), create_revision: "2", value, lease: "5" };
      const { lease: a } = lease(() => ok({ header: {}, kvs: [kv] }));
      await expect(a.leader()).rejects.toBeInstanceOf(MalformedResponseError);
    }
  });
});
