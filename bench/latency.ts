/**
 * Sequential latency: one worker per client, clients taking turns in blocks of `blockOps` calls (the first
 * client of each round rotates), so that machine noise lands on every client alike. Only `run()` is timed.
 */
import type { BenchClient, ClientId } from "./clients/types.ts";
import type { BenchConfig } from "./config.ts";
import type { OpFixture, OpSpec } from "./ops.ts";

async function block(fixture: OpFixture, n: number, samples: number[] | null): Promise<void> {
  for (let i = 0; i < n; i++) {
    await fixture.before?.();
    const start = performance.now();
    await fixture.run();
    const elapsed = performance.now() - start;
    samples?.push(elapsed);
    await fixture.after?.();
  }
}

/** Timed samples in ms per client, for the clients that support `spec`. */
export async function measureLatency(
  spec: OpSpec,
  clients: readonly BenchClient[],
  config: BenchConfig,
): Promise<Map<ClientId, number[]>> {
  const runners = clients.filter((c) => spec.supports(c));
  const fixtures = await Promise.all(runners.map((c) => spec.fixture(c, 0)));
  const samples = new Map<ClientId, number[]>(runners.map((c) => [c.id, []]));
  try {
    for (const fixture of fixtures) await block(fixture, config.warmupOps, null);
    const rounds = Math.ceil(config.timedOps / config.blockOps);
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < runners.length; k++) {
        const i = (round + k) % runners.length;
        const client = runners[i] as BenchClient;
        await block(fixtures[i] as OpFixture, config.blockOps, samples.get(client.id) as number[]);
      }
    }
  } finally {
    await Promise.all(fixtures.map((f) => f.dispose()));
  }
  return samples;
}
