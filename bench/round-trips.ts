/**
 * Round trips per operation, counted two ways for each client: on the client's wire (undici diagnostics
 * channels: requests, round trips, new connections; HTTP clients only) and at the server (etcd's per-method
 * call counters, all clients). With them, what each call costs the store: the raft proposals etcd committed
 * and the leases it holds, after the call minus before. Operations run one at a time after a short warm-up,
 * so pools are warm; nothing else writes to this etcd meanwhile.
 */
import { leaseIds, proposalsCommitted } from "../scripts/lib/etcd-counters.ts";
import type { BenchClient, ClientId } from "./clients/types.ts";
import type { BenchConfig } from "./config.ts";
import { callsBetween, grpcCalls } from "./etcd-metrics.ts";
import type { OpId, OpSpec } from "./ops.ts";
import { countWire } from "./wire-trace.ts";

export interface RoundTripRow {
  /** Per call, averaged over `roundTripOps` calls. */
  requests: number;
  roundTrips: number;
  connections: number;
  serverCalls: number;
  /** Raft proposals etcd committed. */
  proposals: number;
  /** Leases etcd holds after the call minus before: a won claim's own term counts, and whatever a call leaves. */
  leases: number;
  /** etcd methods called per operation, e.g. "LeaseGrant + Txn". */
  methods: string;
}

export type RoundTrips = Map<OpId, Map<ClientId, RoundTripRow>>;

const WARMUP = 3;

export async function countRoundTrips(
  ops: readonly OpSpec[],
  clients: readonly BenchClient[],
  config: BenchConfig,
  endpoint: string,
): Promise<RoundTrips> {
  const result: RoundTrips = new Map();
  for (const spec of ops) {
    const rows = new Map<ClientId, RoundTripRow>();
    for (const client of clients.filter((c) => spec.supports(c))) {
      const fixture = await spec.fixture(client, 0);
      const n = config.roundTripOps;
      const sum = { requests: 0, roundTrips: 0, connections: 0, serverCalls: 0, proposals: 0, leases: 0 };
      const methods = new Map<string, number>();
      try {
        for (let i = 0; i < WARMUP + n; i++) {
          await fixture.before?.();
          // Lease counts are taken outside the call counts: listing leases is itself an etcd call.
          const leasesBefore = (await leaseIds(endpoint)).length;
          const proposalsBefore = await proposalsCommitted(endpoint);
          const before = await grpcCalls(endpoint);
          const wire = await countWire(() => fixture.run());
          const calls = callsBetween(before, await grpcCalls(endpoint));
          const proposals = (await proposalsCommitted(endpoint)) - proposalsBefore;
          const leases = (await leaseIds(endpoint)).length - leasesBefore;
          await fixture.after?.();
          if (i < WARMUP) continue;
          sum.proposals += proposals;
          sum.leases += leases;
          sum.requests += wire.requests;
          sum.roundTrips += wire.roundTrips;
          sum.connections += wire.connections;
          for (const [method, k] of calls) {
            sum.serverCalls += k;
            methods.set(method, (methods.get(method) ?? 0) + k);
          }
        }
      } finally {
        await fixture.dispose();
      }
      rows.set(client.id, {
        requests: sum.requests / n,
        roundTrips: sum.roundTrips / n,
        connections: sum.connections / n,
        serverCalls: sum.serverCalls / n,
        proposals: sum.proposals / n,
        leases: sum.leases / n,
        methods: [...methods].map(([method, k]) => (k === n ? method : `${method}×${k / n}`)).join(" + "),
      });
    }
    result.set(spec.id, rows);
  }
  return result;
}
