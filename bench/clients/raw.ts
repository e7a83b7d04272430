/**
 * The floor: the HTTP exchanges leasehold's etcd backend makes, written by hand with `undici.request` on one
 * keep-alive pool, sent one after the other, with no validation beyond `JSON.parse`. Anything leasehold adds
 * on top of these numbers is its own cost.
 */
import { Pool, request } from "undici";
import { type BenchClient, expectOutcome, type Participant } from "./types.ts";

const JSON_HEADERS = { "content-type": "application/json" };

interface RawKv {
  value?: string;
}

const b64 = (text: string) => Buffer.from(text).toString("base64");

/** A lease ID in [2^62, 2^63), chosen by the client as leasehold does. */
function randomLeaseId(): string {
  const [word] = crypto.getRandomValues(new BigUint64Array(1));
  return ((1n << 62n) | ((word as bigint) >> 2n)).toString();
}

/** Lease keys go under `<keyspace>lease/`, guarded writes under `<keyspace>data/`, as with the other clients. */
export function rawClient(endpoint: string, keyspace: string, connections: number): BenchClient {
  const pool = new Pool(endpoint, { connections, keepAliveTimeout: 30_000 });

  async function post(path: string, body: unknown): Promise<unknown> {
    const res = await request(endpoint + path, {
      dispatcher: pool,
      method: "POST",
      headers: JSON_HEADERS,
      body: JSON.stringify(body),
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`raw ${path}: HTTP ${res.statusCode} ${text}`);
    return JSON.parse(text);
  }

  function participant(name: string, holder: string, ttlMs: number): Participant {
    const key = b64(`${keyspace}lease/${name}`);
    const dataKey = b64(`${keyspace}data/${name}`);
    const record = b64(JSON.stringify({ holder, ttlMs }));
    const ttl = String(ttlMs / 1000);
    let leaseId: string | null = null;
    let token = "0";
    return {
      async claim() {
        if (leaseId) throw new Error("raw participant already holds a term");
        const id = randomLeaseId();
        await post("/v3/lease/grant", { ID: id, TTL: ttl });
        const txn = (await post("/v3/kv/txn", {
          compare: [{ key, target: "CREATE", result: "EQUAL", create_revision: "0" }],
          success: [{ request_put: { key, value: record, lease: id } }],
          failure: [{ request_range: { key } }],
        })) as { succeeded?: boolean; header: { revision: string } };
        if (!txn.succeeded) return false;
        leaseId = id;
        token = txn.header.revision;
        return true;
      },
      async renew() {
        const res = (await post("/v3/lease/keepalive", { ID: leaseId })) as { result: { TTL?: string } };
        expectOutcome(res.result.TTL !== undefined, "raw keepalive of a live lease");
      },
      async leader() {
        const res = (await post("/v3/kv/range", { key })) as { kvs?: RawKv[] };
        const kv = res.kvs?.[0];
        if (!kv?.value) return null;
        return (JSON.parse(Buffer.from(kv.value, "base64").toString()) as { holder: string }).holder;
      },
      async doIfLeader(value) {
        const res = (await post("/v3/kv/txn", {
          compare: [
            { key, target: "CREATE", result: "EQUAL", create_revision: token },
            { key, target: "LEASE", result: "EQUAL", lease: leaseId },
          ],
          success: [{ request_put: { key: dataKey, value: b64(value) } }],
          failure: [{ request_range: { key } }],
        })) as { succeeded?: boolean };
        return res.succeeded === true;
      },
      async release() {
        await post("/v3/lease/revoke", { ID: leaseId });
        leaseId = null;
      },
    };
  }

  return {
    id: "raw",
    label: "raw undici (floor)",
    participant,
    close: () => pool.close(),
  };
}
