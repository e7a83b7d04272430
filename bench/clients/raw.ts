/**
 * The floor: the HTTP exchanges leasehold's etcd backend makes, on its election layout (an election `E`, the
 * candidate key `E/<lease ID in hex>`, the term record `E`), written by hand with undici `Pool.request` and no
 * validation beyond `JSON.parse`. Single requests share one keep-alive pool; a pipelined pair goes on one
 * connection of its own, both requests written before either answer, as leasehold's undici transport sends it:
 *
 * - claim: one read-only txn (the election's first candidate and the term record); held by another holder or
 *   busy by its own: done. Free: grant + txn (candidate key and record, only while the election is empty),
 *   pipelined; a lost race revokes the fresh lease. Its holder's parked term: the txn that marks the record
 *   busy while it is still parked, pipelined with a keepalive of the term's lease;
 * - renew: keepalive; leader: the claim's read-only txn; release: revoke;
 * - doIfLeader, park: one txn guarded by the candidate's create revision and lease and the record's mod revision.
 *
 * Anything leasehold adds on top of these numbers is its own cost.
 */
import { Pool } from "undici";
import { type BenchClient, type ClaimResult, expectOutcome, type Participant } from "./types.ts";

const HEADERS = { "content-type": "application/json" };

interface RawKv {
  key: string;
  create_revision: string;
  mod_revision: string;
  lease?: string;
  value?: string;
}

interface RawTxn {
  succeeded?: boolean;
  header: { revision: string };
  responses?: { response_range?: { kvs?: RawKv[] } }[];
}

interface RawKeepAlive {
  result: { TTL?: string };
}

interface RawTerm {
  leaseId: string;
  /** The candidate key, base64. */
  candidate: string;
  token: string;
  /** The term record's mod revision while this participant holds the term. */
  hold: string;
}

type Request = readonly [path: string, body: unknown];

const b64 = (text: string) => Buffer.from(text).toString("base64");
const text = (base64: string | undefined) => Buffer.from(base64 ?? "", "base64").toString();
const first = (txn: RawTxn, i: number) => txn.responses?.[i]?.response_range?.kvs?.[0];

/** A lease ID in [2^62, 2^63), chosen by the client as leasehold does. */
function randomLeaseId(): string {
  const [word] = crypto.getRandomValues(new BigUint64Array(1));
  return ((1n << 62n) | ((word as bigint) >> 2n)).toString();
}

/** Lease keys go under `<keyspace>lease/`, guarded writes under `<keyspace>data/`, as with the other clients. */
export function rawClient(endpoint: string, keyspace: string, connections: number): BenchClient {
  const pool = new Pool(endpoint, { connections, keepAliveTimeout: 30_000 });
  const idlePipes: Pool[] = [];
  const pipes = new Set<Pool>();

  async function send(dispatcher: Pool, [path, body]: Request, pipelined: boolean): Promise<unknown> {
    const res = await dispatcher.request({
      path,
      method: "POST",
      headers: HEADERS,
      body: JSON.stringify(body),
      ...(pipelined ? { idempotent: true, blocking: false } : {}),
    });
    const answer = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`raw ${path}: HTTP ${res.statusCode} ${answer}`);
    return JSON.parse(answer);
  }

  const post = <T>(path: string, body: unknown) => send(pool, [path, body], false) as Promise<T>;

  /** Both requests written on one connection before either answer arrives: one round trip. */
  async function pipeline<A, B>(a: Request, b: Request): Promise<[A, B]> {
    let pipe = idlePipes.pop();
    if (!pipe) {
      pipe = new Pool(endpoint, { connections: 1, pipelining: 2, keepAliveTimeout: 30_000 });
      pipes.add(pipe);
    }
    const answers = await Promise.allSettled([send(pipe, a, true), send(pipe, b, true)]);
    idlePipes.push(pipe);
    return answers.map((s) => {
      if (s.status === "rejected") throw s.reason;
      return s.value;
    }) as [A, B];
  }

  function participant(name: string, holder: string, ttlMs: number): Participant {
    const e = `${keyspace}lease/${name}`;
    const record = b64(e);
    const from = b64(`${e}/`);
    const to = b64(`${e}0`);
    const dataKey = b64(`${keyspace}data/${name}`);
    const reads = [
      {
        request_range: { key: from, range_end: to, sort_order: "ASCEND", sort_target: "CREATE", limit: "1" },
      },
      { request_range: { key: record } },
    ];
    const recordValue = (state: "busy" | "parked", run?: string) =>
      b64(JSON.stringify({ holder, ttlMs, state, ...(run === undefined ? {} : { run }) }));
    const guards = (t: RawTerm) => [
      { key: t.candidate, target: "CREATE", result: "EQUAL", create_revision: t.token },
      { key: t.candidate, target: "LEASE", result: "EQUAL", lease: t.leaseId },
      { key: record, target: "MOD", result: "EQUAL", mod_revision: t.hold },
    ];
    let term: RawTerm | null = null;
    const held = (): RawTerm => {
      if (!term) throw new Error("raw participant holds no term");
      return term;
    };

    async function take(): Promise<ClaimResult> {
      const leaseId = randomLeaseId();
      const candidate = b64(`${e}/${BigInt(leaseId).toString(16)}`);
      const [, txn] = await pipeline<unknown, RawTxn>(
        ["/v3/lease/grant", { ID: leaseId, TTL: String(ttlMs / 1000) }],
        [
          "/v3/kv/txn",
          {
            compare: [
              { key: from, range_end: to, target: "CREATE", result: "EQUAL", create_revision: "0" },
              { key: record, target: "CREATE", result: "EQUAL", create_revision: "0" },
            ],
            success: [
              { request_put: { key: candidate, value: b64(holder), lease: leaseId } },
              { request_put: { key: record, value: recordValue("busy", leaseId), lease: leaseId } },
            ],
            failure: reads,
          },
        ],
      );
      if (!txn.succeeded) {
        await post("/v3/lease/revoke", { ID: leaseId });
        return "held";
      }
      term = { leaseId, candidate, token: txn.header.revision, hold: txn.header.revision };
      return "leader";
    }

    async function resume(leader: RawKv, rec: RawKv): Promise<ClaimResult> {
      const parked: RawTerm = {
        leaseId: leader.lease as string,
        candidate: leader.key,
        token: leader.create_revision,
        hold: rec.mod_revision,
      };
      const [txn, alive] = await pipeline<RawTxn, RawKeepAlive>(
        [
          "/v3/kv/txn",
          {
            compare: guards(parked),
            success: [
              {
                request_put: {
                  key: record,
                  value: recordValue("busy", randomLeaseId()),
                  lease: parked.leaseId,
                },
              },
            ],
            failure: reads,
          },
        ],
        ["/v3/lease/keepalive", { ID: parked.leaseId }],
      );
      if (!txn.succeeded) return "held";
      expectOutcome(alive.result.TTL !== undefined, "raw keepalive of a resumed lease");
      term = { ...parked, hold: txn.header.revision };
      return "leader";
    }

    return {
      async claim() {
        if (term) throw new Error("raw participant already holds a term");
        const read = await post<RawTxn>("/v3/kv/txn", { success: reads });
        const leader = first(read, 0);
        const rec = first(read, 1);
        if (!leader) return take();
        if (!rec || rec.lease !== leader.lease) return "held";
        const current = JSON.parse(text(rec.value)) as { holder: string; state: string };
        if (current.holder !== holder) return "held";
        return current.state === "parked" ? resume(leader, rec) : "busy";
      },
      async renew() {
        const res = await post<RawKeepAlive>("/v3/lease/keepalive", { ID: held().leaseId });
        expectOutcome(res.result.TTL !== undefined, "raw keepalive of a live lease");
      },
      async leader() {
        const read = await post<RawTxn>("/v3/kv/txn", { success: reads });
        const leader = first(read, 0);
        const rec = first(read, 1);
        if (!leader) return null;
        if (!rec || rec.lease !== leader.lease) return text(leader.value);
        return (JSON.parse(text(rec.value)) as { holder: string }).holder;
      },
      async doIfLeader(value) {
        const t = held();
        const res = await post<RawTxn>("/v3/kv/txn", {
          compare: guards(t),
          success: [{ request_put: { key: dataKey, value: b64(value) } }],
          failure: [{ request_range: { key: t.candidate } }, { request_range: { key: record } }],
        });
        return res.succeeded === true;
      },
      async park() {
        const t = held();
        term = null;
        const res = await post<RawTxn>("/v3/kv/txn", {
          compare: guards(t),
          success: [{ request_put: { key: record, value: recordValue("parked"), lease: t.leaseId } }],
        });
        expectOutcome(res.succeeded === true, "raw park of a held term");
      },
      async release() {
        await post("/v3/lease/revoke", { ID: held().leaseId });
        term = null;
      },
    };
  }

  return {
    id: "raw",
    label: "raw undici (floor)",
    handOff: true,
    participant,
    close: async () => {
      await Promise.all([pool, ...pipes].map((p) => p.close()));
    },
  };
}
