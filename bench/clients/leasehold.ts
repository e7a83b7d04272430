/**
 * leasehold itself: `createLease` over the etcd backend, with the undici or the fetch transport. Lease keys go
 * under `<keyspace>lease/` (the backend's prefix), guarded writes under `<keyspace>data/`.
 */
import { etcd } from "../../adapters/etcd/index.ts";
import { createLease, type Transport } from "../../src/index.ts";
import { type BenchClient, type ClientId, expectOutcome, type Participant } from "./types.ts";

export function leaseholdClient(
  id: Extract<ClientId, "lh-undici" | "lh-fetch">,
  label: string,
  endpoint: string,
  keyspace: string,
  transport: Transport,
): BenchClient {
  const backend = etcd({ endpoints: [endpoint], prefix: `${keyspace}lease/`, transport });

  function participant(name: string, holder: string, ttlMs: number): Participant {
    const lease = createLease({ backend, name, holder, ttlMs });
    const dataKey = `${keyspace}data/${name}`;
    return {
      async claim() {
        const state = await lease.claim();
        return state.isLeader ? "leader" : state.busy ? "busy" : "held";
      },
      async renew() {
        expectOutcome((await lease.renew()).isLeader, "leasehold renew keeps the lease");
      },
      async leader() {
        return (await lease.leader())?.holder ?? null;
      },
      async doIfLeader(value) {
        return (await lease.doIfLeader([{ type: "put", key: dataKey, value }])).applied;
      },
      release: () => lease.release(),
      park: () => lease.park(),
    };
  }

  return { id, label, handOff: true, participant, close: () => backend.close?.() ?? Promise.resolve() };
}
