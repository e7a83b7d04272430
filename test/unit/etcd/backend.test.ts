/**
 * The etcd backend against scripted gateway answers: exact int64s, protojson's omitted defaults, error
 * mapping and the exact requests sent. The same behaviour on a real etcd is covered by the conformance suite.
 */
import { describe, expect, it } from "vitest";
import { etcd } from "../../../adapters/etcd/index.ts";
import {
  AuthError,
  createLease,
  encodeHolderRecord,
  type HolderRecord,
  type HttpResponse,
  HttpStatusError,
  InvalidArgumentError,
  LeaseLostError,
  MalformedResponseError,
  TransportError,
} from "../../../src/backend-kit.ts";
import { ok, type Script, scriptedTransport } from "./scripted-transport.ts";

const fail = (status: number, code: number, message: string): HttpResponse => ({
  status,
  headers: {},
  body: JSON.stringify({ error: message, message, code }),
});
const b64 = (text: string | Uint8Array) => Buffer.from(text).toString("base64");

const ABOVE_2_53 = "9007199254740993";
const MAX_INT64 = "9223372036854775807";
const E = "leasehold/jobs/x";

type Kv = Record<string, unknown>;
/** The candidate key of `lease` (decimal) in the election, as etcd returns it. */
const candidate = (lease: string, createRevision: string, value = "a"): Kv => ({
  key: b64(`${E}/${BigInt(lease).toString(16)}`),
  create_revision: createRevision,
  mod_revision: createRevision,
  value: b64(value),
  lease,
});
const termRecord = (lease: string, modRevision: string, record: HolderRecord): Kv => ({
  key: b64(E),
  create_revision: "2",
  mod_revision: modRevision,
  value: b64(encodeHolderRecord(record)),
  lease,
});
const range = (kv?: Kv) => ({
  response_range: kv ? { header: {}, kvs: [kv], count: "1" } : { header: {} },
});
const RESPONSE = {
  request_put: "response_put",
  request_range: "response_range",
  request_delete_range: "response_delete_range",
};
/** A succeeded txn's answer: one response per success op, of its kind, as etcd writes them. */
const applied = (body: Record<string, unknown>, revision: string) =>
  ok({
    header: { revision },
    succeeded: true,
    responses: ((body.success ?? []) as Kv[]).map((op) => {
      const kind = RESPONSE[Object.keys(op)[0] as keyof typeof RESPONSE];
      return { [kind]: kind === "response_delete_range" ? { header: {}, deleted: "1" } : { header: {} } };
    }),
  });
/** The answer to the read-only txn: protojson omits `kvs` when a range is empty. */
const read = (first?: Kv, record?: Kv) =>
  ok({ header: { revision: "40" }, succeeded: true, responses: [range(first), range(record)] });
const keepalive = (body: Kv) => ok({ result: { header: {}, ID: body.ID, TTL: "3" } });

type Txn = { compare?: Kv[]; success?: Kv[]; failure?: Kv[] };
const txnAt = (t: { sent: { body: unknown }[] }, i: number): Txn => (t.sent.at(i)?.body ?? {}) as Txn;
const isRead = (path: string, body: Txn) => path === "/v3/kv/txn" && body.compare === undefined;
/** A store with an empty election that grants and creates: the happy path of a free claim. */
const freeStore =
  (revision = "7"): Script =>
  (path, body) => {
    if (isRead(path, body)) return read();
    if (path === "/v3/lease/grant") return ok({ header: { revision: "1" }, ID: body.ID, TTL: "3" });
    if (path === "/v3/lease/keepalive") return keepalive(body);
    return applied(body, revision);
  };

function lease(script: Script, holder = "a") {
  const transport = scriptedTransport(script);
  const backend = etcd({ endpoints: ["http://127.0.0.1:2379"], transport });
  return { transport, backend, lease: createLease({ backend, name: "jobs/x", holder, ttlMs: 3000 }) };
}

describe("etcd backend: claims on the election layout", () => {
  it("reads revisions above 2^53 exactly", async () => {
    const { lease: a } = lease(freeStore(ABOVE_2_53));
    const s = await a.claim();
    expect(s.token).toBe(9007199254740993n);
  });

  it("reads the first candidate and the term record in one read-only txn, sorted by create revision", async () => {
    const { lease: a, transport } = lease(freeStore());
    await a.leader();
    expect(transport.sent).toEqual([
      {
        path: "/v3/kv/txn",
        body: {
          success: [
            {
              request_range: {
                key: b64(`${E}/`),
                range_end: b64(`${E}0`),
                sort_order: "ASCEND",
                sort_target: "CREATE",
                limit: "1",
              },
            },
            { request_range: { key: b64(E) } },
          ],
        },
      },
    ]);
  });

  it("reports another holder's term exactly, after one request and no write", async () => {
    const { lease: a, transport } = lease(() =>
      read(
        candidate(MAX_INT64, "18014398509481985"),
        termRecord(MAX_INT64, "18014398509481986", { holder: "z", ttlMs: 5000, state: "busy" }),
      ),
    );
    const s = await a.claim();
    expect(s).toMatchObject({
      isLeader: false,
      busy: false,
      holder: "z",
      token: 18014398509481985n,
      leaseId: MAX_INT64,
      ttlMs: 5000,
    });
    expect(transport.sent).toHaveLength(1);
  });

  it("reports its own holder's busy term as busy, after one request and no write", async () => {
    const { lease: a, transport } = lease(() =>
      read(
        candidate("77", "5"),
        termRecord("77", "6", { holder: "a", ttlMs: 3000, state: "busy", run: "1" }),
      ),
    );
    const s = await a.claim();
    expect(s).toMatchObject({ isLeader: false, busy: true, holder: "a", token: 5n, validUntil: null });
    expect(transport.sent).toHaveLength(1);
  });

  it("reports a Go election candidate (no term record) by its proclaimed value", async () => {
    const { lease: a } = lease(() => read(candidate("4096", "12", "go-service-1")));
    expect(await a.leader()).toEqual({
      holder: "go-service-1",
      value: "go-service-1",
      token: 12n,
      leaseId: "4096",
      ttlMs: null,
      parked: false,
    });
  });

  it("takes a free lease: grant with the claim ID, then a txn that creates both keys only in an empty election", async () => {
    const { lease: a, transport } = lease(freeStore());
    const s = await a.claim();
    const [, grant, txn] = transport.sent;
    expect(grant?.path).toBe("/v3/lease/grant");
    expect(grant?.body).toEqual({ ID: expect.stringMatching(/^\d+$/), TTL: "3" });
    const id = grant?.body.ID as string;
    expect(BigInt(id)).toBeGreaterThan(2n ** 53n);
    expect(s).toMatchObject({ isLeader: true, token: 7n, leaseId: id });
    const record: HolderRecord = { holder: "a", ttlMs: 3000, state: "busy", run: id };
    expect(txn?.body).toEqual({
      compare: [
        {
          key: b64(`${E}/`),
          range_end: b64(`${E}0`),
          target: "CREATE",
          result: "EQUAL",
          create_revision: "0",
        },
        { key: b64(E), target: "CREATE", result: "EQUAL", create_revision: "0" },
      ],
      success: [
        { request_put: { key: b64(`${E}/${BigInt(id).toString(16)}`), value: b64("a"), lease: id } },
        { request_put: { key: b64(E), value: b64(encodeHolderRecord(record)), lease: id } },
      ],
      failure: txnAt(transport, 0).success,
    });
  });

  it("a claim that lost the create race revokes its fresh lease and reports the winner", async () => {
    const winner = [candidate("99", "8"), termRecord("99", "8", { holder: "b", ttlMs: 3000, state: "busy" })];
    const { lease: a, transport } = lease((path, body) => {
      if (isRead(path, body)) return read();
      if (path === "/v3/lease/grant") return ok({ ID: body.ID, TTL: "3" });
      if (path === "/v3/lease/revoke") return ok({ header: {} });
      return ok({ header: { revision: "8" }, responses: [range(winner[0]), range(winner[1])] });
    });
    const s = await a.claim();
    expect(s).toMatchObject({ isLeader: false, holder: "b", token: 8n });
    const granted = transport.sent[1]?.body.ID;
    expect(transport.sent.at(-1)).toEqual({ path: "/v3/lease/revoke", body: { ID: granted } });
  });

  it("resumes its holder's parked term: one guarded txn and one keepalive, no grant", async () => {
    const parked = { holder: "a", ttlMs: 3000, state: "parked" } as const;
    const { lease: a, transport } = lease((path, body) => {
      if (isRead(path, body)) return read(candidate(ABOVE_2_53, "30"), termRecord(ABOVE_2_53, "31", parked));
      if (path === "/v3/lease/keepalive") return keepalive(body);
      return applied(body, "45");
    });
    const s = await a.claim();
    expect(s).toMatchObject({ isLeader: true, busy: false, token: 30n, leaseId: ABOVE_2_53 });
    expect(transport.sent.map((r) => r.path)).toEqual(["/v3/kv/txn", "/v3/kv/txn", "/v3/lease/keepalive"]);
    const key = b64(`${E}/${BigInt(ABOVE_2_53).toString(16)}`);
    const resume = transport.sent[1]?.body as Txn;
    expect(resume.compare).toEqual([
      { key, target: "CREATE", result: "EQUAL", create_revision: "30" },
      { key, target: "LEASE", result: "EQUAL", lease: ABOVE_2_53 },
      { key: b64(E), target: "MOD", result: "EQUAL", mod_revision: "31" },
    ]);
    const [put] = (resume.success ?? []) as { request_put: { value: string } }[];
    expect(JSON.parse(Buffer.from(put?.request_put.value ?? "", "base64").toString())).toMatchObject({
      state: "busy",
    });
    // The hold is the revision of the resume: doIfLeader pins it.
    await a.doIfLeader([{ type: "put", key: "jobs/last", value: "x" }]);
    expect(txnAt(transport, -1).compare?.[2]).toEqual({
      key: b64(E),
      target: "MOD",
      result: "EQUAL",
      mod_revision: "45",
    });
  });

  it("a retry after a lost answer recognises the term its first try created, without a second grant", async () => {
    let created: Kv[] | null = null;
    let txns = 0;
    const { lease: a, transport } = lease((path, body) => {
      if (isRead(path, body)) return created ? read(...created) : read();
      if (path === "/v3/lease/grant") return ok({ ID: body.ID, TTL: "3" });
      if (path === "/v3/lease/keepalive") return keepalive(body);
      const id = (body as { success: { request_put: { lease: string } }[] }).success[0]?.request_put
        .lease as string;
      created = [
        candidate(id, "9"),
        termRecord(id, "9", { holder: "a", ttlMs: 3000, state: "busy", run: id }),
      ];
      if (txns++ === 0) return new TransportError("connection reset");
      return applied(body, "9");
    });
    await expect(a.claim()).rejects.toBeInstanceOf(TransportError);
    const s = await a.claim();
    expect(s).toMatchObject({ isLeader: true, token: 9n });
    expect(transport.sent.filter((r) => r.path === "/v3/lease/grant")).toHaveLength(1);
  });
});

describe("etcd backend: renew, park, release, doIfLeader", () => {
  it("reads an omitted TTL in a keepalive answer as 0: the lease is gone", async () => {
    const { lease: a } = lease((path, body) =>
      path === "/v3/lease/keepalive"
        ? ok({ result: { header: { revision: "3" }, ID: body.ID } })
        : freeStore()(path, body, []),
    );
    await a.claim();
    await expect(a.renew()).rejects.toBeInstanceOf(LeaseLostError);
    expect(a.state().isLeader).toBe(false);
  });

  it("refuses a keepalive answer for another lease", async () => {
    const { lease: a } = lease((path, body) =>
      path === "/v3/lease/keepalive" ? ok({ result: { ID: "12", TTL: "3" } }) : freeStore()(path, body, []),
    );
    await a.claim();
    await expect(a.renew()).rejects.toBeInstanceOf(MalformedResponseError);
  });

  it("guards doIfLeader with the token, the lease ID and the hold, and maps the caller's compares", async () => {
    const { lease: a, transport } = lease(freeStore(ABOVE_2_53));
    const s = await a.claim();
    const r = await a.doIfLeader(
      [{ type: "put", key: "jobs/last", value: "x" }],
      [{ key: "jobs/last", target: "modRevision", op: ">", value: 2n ** 62n }],
    );
    expect(r).toEqual({ applied: true, results: [{ type: "put" }] });
    const key = b64(`${E}/${BigInt(s.leaseId as string).toString(16)}`);
    expect(txnAt(transport, -1).compare).toEqual([
      { key, target: "CREATE", result: "EQUAL", create_revision: ABOVE_2_53 },
      { key, target: "LEASE", result: "EQUAL", lease: s.leaseId },
      { key: b64(E), target: "MOD", result: "EQUAL", mod_revision: ABOVE_2_53 },
      { key: b64("jobs/last"), target: "MOD", result: "GREATER", mod_revision: (2n ** 62n).toString() },
    ]);
  });

  it("tells condition-failed from not-leader by the returned candidate key and term record", async () => {
    let id = "";
    let recordRevision = "7";
    const { lease: a } = lease((path, body) => {
      if (path === "/v3/lease/grant") id = body.ID as string;
      if (path !== "/v3/kv/txn" || isRead(path, body) || (body as Txn).compare?.length === 2) {
        return freeStore()(path, body, []);
      }
      const record = termRecord(id, recordRevision, { holder: "a", ttlMs: 3000 });
      return ok({ header: { revision: "8" }, responses: [range(candidate(id, "7")), range(record)] });
    });
    await a.claim();
    const cas = [{ key: "k", target: "value" as const, op: "=" as const, value: "v" }];
    expect(await a.doIfLeader([{ type: "put", key: "k", value: "w" }], cas)).toEqual({
      applied: false,
      reason: "condition-failed",
    });
    recordRevision = "12";
    expect(await a.doIfLeader([{ type: "put", key: "k", value: "w" }], cas)).toEqual({
      applied: false,
      reason: "not-leader",
    });
    expect(a.state().isLeader).toBe(false);
  });

  it("parks with one guarded txn that marks the term record parked, and stops leading", async () => {
    const { lease: a, transport } = lease(freeStore());
    const s = await a.claim();
    await a.park();
    expect(a.state().isLeader).toBe(false);
    const park = transport.sent.at(-1)?.body as Txn;
    expect(park.compare?.[2]).toEqual({ key: b64(E), target: "MOD", result: "EQUAL", mod_revision: "7" });
    expect(park.success).toEqual([
      {
        request_put: {
          key: b64(E),
          value: b64(encodeHolderRecord({ holder: "a", ttlMs: 3000, state: "parked" })),
          lease: s.leaseId,
        },
      },
    ]);
    expect(await a.doIfLeader([{ type: "put", key: "k", value: "late" }])).toEqual({
      applied: false,
      reason: "not-leader",
    });
  });

  it("release without a term ends only its holder's parked term (guarded delete, then revoke)", async () => {
    const busy = { holder: "a", ttlMs: 3000, state: "busy" } as const;
    let state: HolderRecord = busy;
    const { lease: a, transport } = lease((path, body) => {
      if (isRead(path, body)) return read(candidate("77", "5"), termRecord("77", "6", state));
      if (path === "/v3/lease/revoke") return ok({ header: {} });
      return applied(body, "50");
    });
    await a.release();
    expect(transport.sent).toHaveLength(1);
    state = { ...busy, state: "parked" };
    await a.release();
    const revoke = transport.sent[3];
    expect(txnAt(transport, 2).success).toEqual([
      { request_delete_range: { key: b64(`${E}/4d`) } },
      { request_delete_range: { key: b64(E) } },
    ]);
    expect(revoke).toEqual({ path: "/v3/lease/revoke", body: { ID: "77" } });
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

  it("refuses term records that are not holder records, lease-less keys, bad base64 and bad revisions", async () => {
    const good = { holder: "a", ttlMs: 3000 };
    const answers = [
      read(candidate("5", "2"), { ...termRecord("5", "3", good), value: b64("not json") }),
      read({ ...candidate("5", "2"), lease: undefined }),
      read(candidate("5", "2"), { ...termRecord("5", "3", good), value: "%%%" }),
      read(candidate("5", "2.5"), termRecord("5", "3", good)),
      read(candidate("5", "0"), termRecord("5", "3", good)),
      read(candidate("5", "-1"), termRecord("5", "3", good)),
      read({ ...candidate("5", "2"), create_revision: 2 }, termRecord("5", "3", good)),
      ok({ header: { revision: "3" }, succeeded: true, responses: "nope" }),
    ];
    for (const answer of answers) {
      const { lease: a } = lease(() => answer);
      await expect(a.leader()).rejects.toBeInstanceOf(MalformedResponseError);
    }
  });

  it("reads an empty election as no leader, and a revoke of a missing lease as released", async () => {
    const { lease: a } = lease((path, body) =>
      isRead(path, body) ? read() : fail(404, 5, "etcdserver: requested lease not found"),
    );
    expect(await a.leader()).toBeNull();
    const { lease: b } = lease((path, body) =>
      path === "/v3/lease/revoke"
        ? fail(404, 5, "etcdserver: requested lease not found")
        : freeStore()(path, body, []),
    );
    await b.claim();
    await expect(b.release()).resolves.toBeUndefined();
  });
});

describe("etcd options", () => {
  it("validate endpoints and prefix, naming the field", () => {
    const bad: [unknown, string][] = [
      [[], "endpoints"],
      ["http://x:2379", "endpoints"],
      [["ftp://x"], "endpoints[0]"],
      [["http://127.0.0.1:2379", "http://no pe"], "endpoints[1]"],
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
      const record = { ...termRecord("5", "3", { holder: "a", ttlMs: 3000 }), value };
      const { lease: a } = lease(() => read(candidate("5", "2"), record));
      await expect(a.leader()).rejects.toBeInstanceOf(MalformedResponseError);
    }
  });
});
