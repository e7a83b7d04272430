/**
 * The etcd transfer (adapters/etcd/transfer.ts) against scripted gateway answers: the txn is guarded by the term
 * (candidate key, lease, hold) and by the create revisions of the target, the candidates ahead and their queue
 * markers; a foreign candidate ahead, an unknown or doubled target, and a term that is not first are refused
 * before anything is written; odd answers fail closed. The same on a real etcd: the conformance suite's transfer
 * cases and test/integration/etcd-transfer.test.ts.
 */
import { describe, expect, it } from "vitest";
import { etcdWithWatch } from "../../../adapters/etcd/watch.ts";
import {
  type Backend,
  type HttpResponse,
  InvalidArgumentError,
  LeaseLostError,
  MalformedResponseError,
  type TermRef,
  type Transport,
} from "../../../src/backend-kit.ts";
import { ok, scriptedTransport } from "./scripted-transport.ts";

const b64 = (text: string) => Buffer.from(text).toString("base64");
const P = "leasehold/";
const E = `${P}jobs/x`;
const LEADER = "4611686018427387905";
const term: TermRef = { name: "jobs/x", holder: "a", leaseId: LEADER, token: 10n, hold: "11", ttlMs: 2000 };
const header = { revision: "100" };
const ctx = () => ({ signal: AbortSignal.timeout(5000), timeoutMs: 5000 });
const hex = (id: string) => BigInt(id).toString(16);

interface Cand {
  lease: string;
  rev: string;
  holder?: string;
}
const kv = (c: Cand) => ({
  key: b64(`${E}/${hex(c.lease)}`),
  create_revision: c.rev,
  mod_revision: c.rev,
  lease: c.lease,
});
const marker = (c: Cand) => ({
  key: b64(`${P}#q/jobs/x/${hex(c.lease)}`),
  create_revision: c.rev,
  mod_revision: c.rev,
  lease: c.lease,
  value: b64(c.holder ?? ""),
});
const read = (cands: Cand[]) =>
  ok({
    header,
    succeeded: true,
    responses: [
      { response_range: { header: {}, kvs: cands.map(kv), count: String(cands.length) } },
      {
        response_range: {
          header: {},
          kvs: cands.filter((c) => c.holder).map(marker),
          count: String(cands.filter((c) => c.holder).length),
        },
      },
    ],
  });

const leader: Cand = { lease: LEADER, rev: "10" };
const b: Cand = { lease: "4611686018427387906", rev: "12", holder: "b" };
const c: Cand = { lease: "4611686018427387907", rev: "13", holder: "c" };
const go: Cand = { lease: "7587", rev: "12" };

function transferOf(transport: Transport) {
  const backend: Backend = etcdWithWatch({ endpoints: ["http://etcd.test:2379"], transport });
  expect(backend.capabilities.transfer).toBe(true);
  return (toHolder: string) =>
    (backend.campaign as Required<NonNullable<Backend["campaign"]>>).transfer(
      term,
      { toHolder, windowMs: 4000 },
      ctx(),
    );
}

/** A store that reads `cands` and answers the txn with `txn` (the grant and revoke succeed). */
const store = (cands: Cand[], txn: (body: Record<string, unknown>) => HttpResponse) =>
  scriptedTransport((path, body) => {
    if (path === "/v3/lease/grant") return ok({ ID: body.ID, TTL: "4" });
    if (path === "/v3/lease/revoke") return ok({ header });
    return "compare" in body ? txn(body) : read(cands);
  });

const committed = (ahead: number) =>
  ok({
    header,
    succeeded: true,
    responses: [
      ...Array.from({ length: 1 + 2 * ahead }, () => ({
        response_delete_range: { header: {}, deleted: "1" },
      })),
      { response_put: { header: {} } },
    ],
  });

describe("etcd transfer", () => {
  it("guards the txn by the term, the target and every candidate ahead with its marker; then revokes the term's lease", async () => {
    const transport = store([leader, b, c], () => committed(1));
    await transferOf(transport)("c");
    const txn = transport.sent.find((s) => s.path === "/v3/kv/txn" && "compare" in s.body)?.body as {
      compare: Record<string, string>[];
      success: Record<string, Record<string, string>>[];
    };
    const grant = transport.sent.find((s) => s.path === "/v3/lease/grant")?.body as {
      ID: string;
      TTL: string;
    };
    expect(grant.TTL).toBe("4");
    const key = (x: Cand) => kv(x).key;
    expect(txn.compare).toEqual([
      { key: key(leader), target: "CREATE", result: "EQUAL", create_revision: "10" },
      { key: key(leader), target: "LEASE", result: "EQUAL", lease: LEADER },
      { key: b64(E), target: "MOD", result: "EQUAL", mod_revision: "11" },
      { key: key(c), target: "CREATE", result: "EQUAL", create_revision: "13" },
      { key: marker(c).key, target: "CREATE", result: "EQUAL", create_revision: "13" },
      { key: key(b), target: "CREATE", result: "EQUAL", create_revision: "12" },
      { key: marker(b).key, target: "CREATE", result: "EQUAL", create_revision: "12" },
    ]);
    expect(txn.success).toEqual([
      { request_delete_range: { key: key(leader) } },
      { request_delete_range: { key: key(b) } },
      { request_delete_range: { key: marker(b).key } },
      {
        request_put: {
          key: b64(E),
          value: b64(JSON.stringify({ transfer: "c", lease: c.lease })),
          lease: grant.ID,
        },
      },
    ]);
    expect(transport.sent.at(-1)).toEqual({ path: "/v3/lease/revoke", body: { ID: LEADER } });
  });

  it("refuses before any write: a foreign candidate ahead, an unknown or doubled target, a term not first", async () => {
    const cases: [Cand[], string, new (...a: never[]) => Error][] = [
      [[leader, go, b], "b", InvalidArgumentError],
      [[leader, b], "z", InvalidArgumentError],
      [[leader, b, { ...c, holder: "b" }], "b", InvalidArgumentError],
      [[b, leader], "b", LeaseLostError],
      [[], "b", LeaseLostError],
    ];
    for (const [cands, to, type] of cases) {
      const transport = store(cands, () => committed(0));
      const error = await transferOf(transport)(to).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(type);
      if (error instanceof InvalidArgumentError) expect(error.field).toBe("toHolder");
      expect(transport.sent.map((s) => s.path)).toEqual(["/v3/kv/txn"]);
    }
  });

  it("a marker of another create revision or lease makes the candidate foreign", async () => {
    const stale = { ...b, holder: "b" };
    const transport = scriptedTransport((path) =>
      path === "/v3/kv/txn"
        ? ok({
            header,
            succeeded: true,
            responses: [
              { response_range: { header: {}, kvs: [kv(leader), kv(go), kv(c)], count: "3" } },
              // b's old marker (lease b, revision 12) beside go's key of revision 12: not go's.
              { response_range: { header: {}, kvs: [marker(stale), marker(c)], count: "2" } },
            ],
          })
        : ok({}),
    );
    await expect(transferOf(transport)("c")).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("fails closed: a failed txn whose record is not its own says the term is lost; garbled answers are typed errors", async () => {
    const lost = store([leader, b], () =>
      ok({
        header,
        succeeded: false,
        responses: [
          {
            response_range: {
              header: {},
              kvs: [{ key: b64(E), mod_revision: "50", lease: "1" }],
              count: "1",
            },
          },
        ],
      }),
    );
    await expect(transferOf(lost)("b")).rejects.toBeInstanceOf(LeaseLostError);
    const garbled = store([leader, b], () => ok({ header, succeeded: true, responses: [] }));
    await expect(transferOf(garbled)("b")).rejects.toBeInstanceOf(MalformedResponseError);
    const http = store([leader, b], () => ({ status: 500, headers: {}, body: "{}" }));
    await expect(transferOf(http)("b")).rejects.toThrow();
    const badRead = scriptedTransport(() =>
      ok({ header, succeeded: true, responses: [{ response_range: { header: {} } }] }),
    );
    await expect(transferOf(badRead)("b")).rejects.toBeInstanceOf(MalformedResponseError);
  });

  it("recognises its own earlier commit when the retried txn fails on the record it put", async () => {
    let windowId = "";
    const transport = scriptedTransport((path, body) => {
      if (path === "/v3/lease/grant") {
        windowId = String(body.ID);
        return ok({ ID: body.ID, TTL: "4" });
      }
      if (path === "/v3/lease/revoke") return ok({ header });
      if (!("compare" in body)) return read([leader, b]);
      return ok({
        header,
        succeeded: false,
        responses: [
          {
            response_range: {
              header: {},
              kvs: [{ key: b64(E), mod_revision: "60", lease: windowId }],
              count: "1",
            },
          },
        ],
      });
    });
    await transferOf(transport)("b");
    expect(transport.sent.at(-1)).toEqual({ path: "/v3/lease/revoke", body: { ID: LEADER } });
  });
});
