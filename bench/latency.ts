/**
 * Sequential latency: one worker per client, clients taking turns in blocks of `blockOps` calls (the first
 * client of each round rotates), so that machine noise lands on every client alike. Only `run()` is timed;
 * the client's CPU time (this process, user + system) is summed over the same calls.
 */
import type { BenchClient, ClientId } from "./clients/types.ts";
import type { BenchConfig } from "./config.ts";
import type { OpFixture, OpSpec } from "./ops.ts";

export interface LatencySamples {
  /** Wall time of each timed call, in ms. */
  ms: number[];
  /** Process CPU time over all timed calls, in µs. */
  cpuMicros: number;
}

async function block(fixture: OpFixture, n: number, into: LatencySamples | null): Promise<void> {
  for (let i = 0; i < n; i++) {
    await fixture.before?.();
    const cpu = process.cpuUsage();
    const start = performance.now();
    await fixture.run();
    const elapsed = performance.now() - start;
    const used = process.cpuUsage(cpu);
    if (into) {
      into.ms.push(elapsed);
      into.cpuMicros += used.user + used.system;
    }
    await fixture.after?.();
  }
}

/** Timed samples per client, for the clients that support `spec`. */
export async function measureLatency(
  spec: OpSpec,
  clients: readonly BenchClient[],
  config: BenchConfig,
): Promise<Map<ClientId, LatencySamples>> {
  const runners = clients.filter((c) => spec.supports(c));
  const fixtures = await Promise.all(runners.map((c) => spec.fixture(c, 0)));
  const samples = new Map<ClientId, LatencySamples>(runners.map((c) => [c.id, { ms: [], cpuMicros: 0 }]));
  try {
    for (const fixture of fixtures) await block(fixture, config.warmupOps, null);
    const rounds = Math.ceil(config.timedOps / config.blockOps);
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < runners.length; k++) {
        const i = (round + k) % runners.length;
        const client = runners[i] as BenchClient;
        await block(fixtures[i] as OpFixture, config.blockOps, samples.get(client.id) ?? null);
      }
    }
  } finally {
    await Promise.all(fixtures.map((f) => f.dispose()));
  }
  return samples;
}
