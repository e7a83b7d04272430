/**
 * The `etcd3` npm package (gRPC over HTTP/2), doing the same logical operations with its own API:
 *
 * - claim: `lease(ttl).grant()` (server-chosen ID), then ONE txn
 *   `if(key, "Create", "==", 0).then(put(key).lease(id)).else(get(key))`; a losing claim drops its lease
 *   locally (`release()`, no RPC) and leaves it to expire, as leasehold does;
 * - renew: `lease.keepaliveOnce()` (opens a LeaseKeepAlive stream, one message);
 * - leader: `get(key).exec()`;
 * - doIfLeader: `if(key, "Create", "==", token).and(key, "Lease", "==", id).then(put(dataKey))`;
 * - release: `lease.revoke()`;
 * - electionCycle: its `Election`: `campaign(value)`, `wait()` until elected, `resign()`.
 */
import { Etcd3, type Lease } from "etcd3";
import { type BenchClient, expectOutcome, type Participant } from "./types.ts";

interface Term {
  lease: Lease;
  id: string;
  token: string;
}

export function etcd3Client(endpoint: string, keyspace: string): BenchClient {
  const client = new Etcd3({ hosts: endpoint });
  const ns = client.namespace(keyspace);

  function participant(name: string, holder: string, ttlMs: number): Participant {
    const key = `lease/${name}`;
    const dataKey = `data/${name}`;
    const record = JSON.stringify({ holder, ttlMs });
    let term: Term | null = null;
    const held = (): Term => {
      if (!term) throw new Error("etcd3 participant holds no term");
      return term;
    };
    return {
      async claim() {
        if (term) throw new Error("etcd3 participant already holds a term");
        const lease = ns.lease(ttlMs / 1000, { autoKeepAlive: false });
        const id = await lease.grant();
        const res = await ns
          .if(key, "Create", "==", 0)
          .then(ns.put(key).value(record).lease(id))
          .else(ns.get(key))
          .commit();
        if (!res.succeeded) {
          lease.release();
          return false;
        }
        term = { lease, id, token: res.header.revision };
        return true;
      },
      async renew() {
        const res = await held().lease.keepaliveOnce();
        expectOutcome(Number(res.TTL) > 0, "etcd3 keepalive of a live lease");
      },
      async leader() {
        const res = await ns.get(key).exec();
        const kv = res.kvs[0];
        return kv ? (JSON.parse(kv.value.toString()) as { holder: string }).holder : null;
      },
      async doIfLeader(value) {
        const { id, token } = held();
        const res = await ns
          .if(key, "Create", "==", token)
          .and(key, "Lease", "==", id)
          .then(ns.put(dataKey).value(value))
          .else(ns.get(key))
          .commit();
        return res.succeeded;
      },
      async release() {
        await held().lease.revoke();
        term = null;
      },
    };
  }

  return {
    id: "etcd3",
    label: "etcd3 (gRPC)",
    participant,
    async electionCycle(name, ttlMs) {
      const campaign = ns.election(`election/${name}`, ttlMs / 1000).campaign(name);
      await campaign.wait();
      await campaign.resign();
    },
    close: async () => client.close(),
  };
}
