/**
 * Throughput: `concurrency` workers of one client call the operation back to back for a bounded time; each
 * worker has its own lease. Every cell is split in two halves run in opposite client order (A B C D, then
 * D C B A), so slow drift of the machine weighs on every client alike.
 */
import type { BenchClient, ClientId } from "./clients/types.ts";
import type { BenchConfig } from "./config.ts";
import type { OpFixture, OpSpec } from "./ops.ts";

interface Tally {
  ops: number;
  ms: number;
}

async function cell(fixtures: readonly OpFixture[], ms: number, tally: Tally): Promise<void> {
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
  tally.ops += ops;
  tally.ms += performance.now() - start;
}

/** Operations per second per client and concurrency level. */
export async function measureThroughput(
  spec: OpSpec,
  clients: readonly BenchClient[],
  config: BenchConfig,
): Promise<Map<ClientId, Map<number, number>>> {
  const runners = clients.filter((c) => spec.supports(c));
  const result = new Map<ClientId, Map<number, number>>(runners.map((c) => [c.id, new Map()]));
  for (const concurrency of config.concurrency) {
    const fixtures = await Promise.all(
      runners.map((c) => Promise.all(Array.from({ length: concurrency }, (_, w) => spec.fixture(c, w)))),
    );
    const tallies = runners.map((): Tally => ({ ops: 0, ms: 0 }));
    try {
      for (const order of [runners.keys(), [...runners.keys()].reverse()]) {
        for (const i of order) await cell(fixtures[i] as OpFixture[], config.cellMs / 2, tallies[i] as Tally);
      }
    } finally {
      await Promise.all(fixtures.flat().map((f) => f.dispose()));
    }
    runners.forEach((c, i) => {
      const { ops, ms } = tallies[i] as Tally;
      result.get(c.id)?.set(concurrency, (ops * 1000) / ms);
    });
  }
  return result;
}
