/**
 * The `etcd3` npm package (gRPC over HTTP/2), doing the same logical operations on leasehold's election layout
 * (an election `E`, the candidate key `E/<lease ID in hex>`, the term record `E`) with its own API:
 *
 * - claim: ONE read-only txn (the election's first candidate and the term record, `kv.txn`); held: done. Free:
 *   `lease(ttl).grant()` (server-chosen ID), then ONE txn creating the candidate key and the record only while
 *   the election is empty (a lost race revokes the lease). gRPC streams are concurrent, so the grant cannot be
 *   pipelined with the txn: a free claim is three calls in a row;
 * - renew: `lease.keepaliveOnce()` (opens a LeaseKeepAlive stream, one message);
 * - leader: the claim's read-only txn;
 * - doIfLeader: one txn guarded by the candidate's create revision and lease and the record's mod revision;
 * - release: `lease.revoke()`;
 * - no park/resume hand-off (etcd3 has no such recipe; a participant with its holder's name reports "held");
 * - electionCycle: its `Election`: `campaign(value)`, `wait()` until elected, `resign()`.
 */
import { Etcd3, type IKeyValue, type IRequestOp, type ITxnResponse, type Lease } from "etcd3";
import { type BenchClient, expectOutcome, type Participant } from "./types.ts";

interface Term {
  lease: Lease;
  id: string;
  candidate: Buffer;
  token: string;
  hold: string;
}

const first = (res: ITxnResponse, i: number): IKeyValue | undefined =>
  res.responses[i]?.response_range?.kvs[0];

export function etcd3Client(endpoint: string, keyspace: string): BenchClient {
  const client = new Etcd3({ hosts: endpoint });
  const ns = client.namespace(keyspace);

  function participant(name: string, holder: string, ttlMs: number): Participant {
    const e = `${keyspace}lease/${name}`;
    const record = Buffer.from(e);
    const from = Buffer.from(`${e}/`);
    const to = Buffer.from(`${e}0`);
    const dataKey = `data/${name}`;
    const reads: IRequestOp[] = [
      { request_range: { key: from, range_end: to, sort_order: "Ascend", sort_target: "Create", limit: 1 } },
      { request_range: { key: record } },
    ];
    const read = () => client.kv.txn({ success: reads });
    let term: Term | null = null;
    const held = (): Term => {
      if (!term) throw new Error("etcd3 participant holds no term");
      return term;
    };
    return {
      async claim() {
        if (term) throw new Error("etcd3 participant already holds a term");
        if (first(await read(), 0)) return "held";
        const lease = client.lease(ttlMs / 1000, { autoKeepAlive: false });
        const id = await lease.grant();
        const candidate = Buffer.from(`${e}/${BigInt(id).toString(16)}`);
        const res = await client.kv.txn({
          compare: [
            { key: from, range_end: to, target: "Create", result: "Equal", create_revision: 0 },
            { key: record, target: "Create", result: "Equal", create_revision: 0 },
          ],
          success: [
            { request_put: { key: candidate, value: Buffer.from(holder), lease: id } },
            {
              request_put: {
                key: record,
                value: Buffer.from(JSON.stringify({ holder, ttlMs, state: "busy", run: id })),
                lease: id,
              },
            },
          ],
          failure: reads,
        });
        if (!res.succeeded) {
          await lease.revoke();
          return "held";
        }
        term = { lease, id, candidate, token: res.header.revision, hold: res.header.revision };
        return "leader";
      },
      async renew() {
        const res = await held().lease.keepaliveOnce();
        expectOutcome(Number(res.TTL) > 0, "etcd3 keepalive of a live lease");
      },
      async leader() {
        const res = await read();
        const leader = first(res, 0);
        const rec = first(res, 1);
        if (!leader) return null;
        if (!rec || rec.lease !== leader.lease) return leader.value.toString();
        return (JSON.parse(rec.value.toString()) as { holder: string }).holder;
      },
      async doIfLeader(value) {
        const { id, candidate, token, hold } = held();
        const res = await client.kv.txn({
          compare: [
            { key: candidate, target: "Create", result: "Equal", create_revision: token },
            { key: candidate, target: "Lease", result: "Equal", lease: id },
            { key: record, target: "Mod", result: "Equal", mod_revision: hold },
          ],
          success: [{ request_put: { key: Buffer.from(keyspace + dataKey), value: Buffer.from(value) } }],
          failure: [{ request_range: { key: candidate } }, { request_range: { key: record } }],
        });
        return res.succeeded;
      },
      async release() {
        await held().lease.revoke();
        term = null;
      },
      park() {
        return Promise.reject(new Error("etcd3 has no park/resume hand-off"));
      },
    };
  }

  return {
    id: "etcd3",
    label: "etcd3 (gRPC)",
    handOff: false,
    participant,
    async electionCycle(name, ttlMs) {
      const campaign = ns.election(`election/${name}`, ttlMs / 1000).campaign(name);
      await campaign.wait();
      await campaign.resign();
    },
    close: async () => client.close(),
  };
}
