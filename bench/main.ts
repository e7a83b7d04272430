/**
 * `npm run bench`: starts a throwaway etcd, measures leasehold against the raw undici floor and the etcd3 gRPC
 * client (round trips, sequential latency, throughput), then failover, hand-over and observe, memory and bundle
 * sizes, and prints a markdown report. A full run writes it to bench/results/latest.md; `--quick` runs every section with smoke
 * sizes and only prints. Progress goes to stderr.
 */
import { writeFile } from "node:fs/promises";
import { undiciTransport } from "../adapters/node/index.ts";
import { waitForClusterVersion } from "../scripts/lib/etcd-counters.ts";
import { startEtcd } from "../scripts/lib/etcd-server.ts";
import { fetchTransport } from "../src/index.ts";
import { measureEdgeBundles } from "./bundles.ts";
import { etcd3Client } from "./clients/etcd3.ts";
import { leaseholdClient } from "./clients/leasehold.ts";
import { rawClient } from "./clients/raw.ts";
import type { BenchClient, ClientId } from "./clients/types.ts";
import { type BenchConfig, FULL, QUICK } from "./config.ts";
import { startDelayProxy } from "./delay-proxy.ts";
import { measureFailover } from "./failover.ts";
import { measureHandover } from "./handover.ts";
import { measureLatency } from "./latency.ts";
import { finishMachineInfo, machineInfo } from "./machine.ts";
import { measureMemory } from "./memory.ts";
import { OPS, type OpId, op } from "./ops.ts";
import { type BenchResults, type LatencyFigures, renderReport } from "./report.ts";
import { countRoundTrips } from "./round-trips.ts";
import { processCpu } from "./server-cpu.ts";
import { percentiles } from "./stats.ts";
import { measureThroughput, type ThroughputCell } from "./throughput.ts";

const LATENCY_OPS: readonly OpId[] = [
  "renew",
  "leader",
  "do-if-leader",
  "claim-free",
  "claim-held",
  "claim-busy",
  "claim-resume",
  "park",
  "release",
  "cycle",
  "election-cycle",
];
/** Operations whose round trips differ between clients, plus renew (one round trip for all) as a yardstick. */
const NETWORK_OPS: readonly OpId[] = [
  "renew",
  "claim-free",
  "claim-held",
  "claim-resume",
  "cycle",
  "election-cycle",
];
/** Operations without untimed set-up per call, which can run back to back. */
const THROUGHPUT_OPS: readonly OpId[] = ["renew", "leader", "do-if-leader", "cycle", "election-cycle"];

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

async function latencyFigures(
  ids: readonly OpId[],
  clients: readonly BenchClient[],
  config: BenchConfig,
  label: string,
): Promise<Map<OpId, Map<ClientId, LatencyFigures>>> {
  const figures = new Map<OpId, Map<ClientId, LatencyFigures>>();
  for (const id of ids) {
    log(`${label}: ${op(id).label}`);
    const samples = await measureLatency(op(id), clients, config);
    figures.set(
      id,
      new Map(
        [...samples].map(([client, s]) => [
          client,
          { ...percentiles(s.ms), clientCpuMicros: s.cpuMicros / s.ms.length },
        ]),
      ),
    );
  }
  return figures;
}

/** Latency with every round trip made longer by a delaying proxy, through fresh clients. */
async function networkLatency(endpoint: string, config: BenchConfig) {
  const proxy = await startDelayProxy(endpoint, config.networkDelayMs);
  const clients = makeClients(proxy.endpoint, config);
  try {
    const sizes = {
      ...config,
      warmupOps: config.networkWarmupOps,
      timedOps: config.networkTimedOps,
      blockOps: config.networkBlockOps,
    };
    return await latencyFigures(NETWORK_OPS, clients, sizes, "latency through the network proxy");
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
    await proxy.close();
  }
}

function makeClients(endpoint: string, config: BenchConfig): BenchClient[] {
  return [
    rawClient(endpoint, "bench/raw/", config.connections),
    leaseholdClient(
      "lh-undici",
      "leasehold (undici)",
      endpoint,
      "bench/lh-undici/",
      undiciTransport({ connections: config.connections }),
    ),
    leaseholdClient("lh-fetch", "leasehold (fetch)", endpoint, "bench/lh-fetch/", fetchTransport()),
    etcd3Client(endpoint, "bench/etcd3/"),
  ];
}

async function run(config: BenchConfig): Promise<BenchResults> {
  const started = performance.now();
  log(`starting etcd (${config.quick ? "quick" : "full"} run)`);
  const server = await startEtcd();
  // An interrupted run must not leave its etcd behind.
  const interrupted = (signal: NodeJS.Signals) => {
    server.stop().finally(() => process.kill(process.pid, signal));
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  const clients = makeClients(server.endpoint, config);
  try {
    // Until then etcd proposes its cluster version by itself, which would count against some operation.
    await waitForClusterVersion(server.endpoint);
    const machine = await machineInfo(server.endpoint);

    log("round trips");
    const roundTrips = await countRoundTrips(OPS, clients, config, server.endpoint);

    const latency = await latencyFigures(LATENCY_OPS, clients, config, "latency");
    const network = await networkLatency(server.endpoint, config);

    const serverCpu = processCpu(server.process.pid);
    const throughput = new Map<OpId, Map<ClientId, Map<number, ThroughputCell>>>();
    for (const id of THROUGHPUT_OPS) {
      log(`throughput: ${op(id).label}`);
      throughput.set(id, await measureThroughput(op(id), clients, config, serverCpu));
    }

    log("failover");
    const failover = await measureFailover(server.endpoint, "bench/failover/", config);
    log("handover and observe");
    const handover = await measureHandover(server.endpoint, "bench/handover/", server.process.pid, config);
    log("memory");
    const memory = await measureMemory(server.endpoint, "bench/memory/", config);
    log("bundle sizes");
    const bundles = await measureEdgeBundles();

    finishMachineInfo(machine);
    return {
      config,
      machine,
      clients: clients.map(({ id, label }) => ({ id, label })),
      roundTrips,
      latency,
      network,
      throughput,
      failover,
      handover,
      memory,
      bundles,
      wallMs: performance.now() - started,
    };
  } finally {
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
    await Promise.allSettled(clients.map((c) => c.close()));
    await server.stop();
  }
}

const quick = process.argv.includes("--quick");
const results = await run(quick ? QUICK : FULL);
const report = renderReport(results);
process.stdout.write(report);
if (!quick) {
  const out = new URL("results/latest.md", import.meta.url);
  await writeFile(out, report);
  log(`written to bench/results/latest.md`);
}
