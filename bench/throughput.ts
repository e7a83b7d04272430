/**
 * Throughput: `concurrency` workers of one client call the operation back to back for a bounded time; each
 * worker has its own lease. Every cell is split in `cellSlices` slices, run in alternating client order
 * (A B C D, D C B A, A B C D, ...), so that the machine's drift weighs on every client alike. CPU time is tallied per cell for this
 * process (the client) and for etcd, since on a small machine both compete for the same cores.
 */
import type { BenchClient, ClientId } from "./clients/types.ts";
import type { BenchConfig } from "./config.ts";
import type { OpFixture, OpSpec } from "./ops.ts";

export interface ThroughputCell {
  opsPerSecond: number;
  /** Client (this process) CPU time per call, in µs. */
  clientCpuMicros: number;
  /** etcd CPU time per call, in µs; null where it cannot be read. */
  serverCpuMicros: number | null;
}

interface Tally {
  ops: number;
  ms: number;
  clientCpu: number;
  serverCpu: number;
}

async function cell(
  fixtures: readonly OpFixture[],
  ms: number,
  tally: Tally,
  serverCpu: (() => number) | null,
): Promise<void> {
  const server = serverCpu?.() ?? 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const end = start + ms;
  let ops = 0;
  await Promise.all(
    fixtures.map(async (fixture) => {
      while (performance.now() < end) {
        await fixture.run();
        ops++;
      }
    }),
  );
  tally.ms += performance.now() - start;
  const used = process.cpuUsage(cpu);
  tally.clientCpu += used.user + used.system;
  tally.serverCpu += (serverCpu?.() ?? 0) - server;
  tally.ops += ops;
}

/** One cell per client and concurrency level. */
export async function measureThroughput(
  spec: OpSpec,
  clients: readonly BenchClient[],
  config: BenchConfig,
  serverCpu: (() => number) | null,
): Promise<Map<ClientId, Map<number, ThroughputCell>>> {
  const runners = clients.filter((c) => spec.supports(c));
  const result = new Map<ClientId, Map<number, ThroughputCell>>(runners.map((c) => [c.id, new Map()]));
  for (const concurrency of config.concurrency) {
    const fixtures = await Promise.all(
      runners.map((c) => Promise.all(Array.from({ length: concurrency }, (_, w) => spec.fixture(c, w)))),
    );
    const tallies = runners.map((): Tally => ({ ops: 0, ms: 0, clientCpu: 0, serverCpu: 0 }));
    try {
      const order = [...runners.keys()];
      for (let slice = 0; slice < config.cellSlices; slice++) {
        for (const i of slice % 2 === 0 ? order : order.toReversed()) {
          const ms = config.cellMs / config.cellSlices;
          await cell(fixtures[i] as OpFixture[], ms, tallies[i] as Tally, serverCpu);
        }
      }
    } finally {
      await Promise.all(fixtures.flat().map((f) => f.dispose()));
    }
    runners.forEach((c, i) => {
      const t = tallies[i] as Tally;
      result.get(c.id)?.set(concurrency, {
        opsPerSecond: (t.ops * 1000) / t.ms,
        clientCpuMicros: t.clientCpu / t.ops,
        serverCpuMicros: serverCpu ? t.serverCpu / t.ops : null,
      });
    });
  }
  return result;
}
