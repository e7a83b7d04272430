/** Sizes of one benchmark run: the full run (`npm run bench`) and a quick smoke run (`--quick`). */

export interface BenchConfig {
  quick: boolean;
  /** Untimed calls per operation and client before timing starts. */
  warmupOps: number;
  /** Timed sequential calls per operation and client. */
  timedOps: number;
  /** Calls per client in one block; clients take turns block by block. */
  blockOps: number;
  /** One-way delay the network proxy adds to every chunk, in ms (a round trip gets about twice that). */
  networkDelayMs: number;
  /** Warm-up, timed and block sizes of the latency runs through the network proxy. */
  networkWarmupOps: number;
  networkTimedOps: number;
  networkBlockOps: number;
  /** Concurrency levels of the throughput cells. */
  concurrency: readonly number[];
  /** Duration of one throughput cell (one client, one operation, one concurrency), in ms. */
  cellMs: number;
  /** Slices a cell is run in, the clients' order reversed every slice. */
  cellSlices: number;
  /** Calls per operation and client over which round trips are counted. */
  roundTripOps: number;
  failoverTrials: number;
  /** Trials of each hand-over row (after release, after a crash, observe delivery). */
  handoverTrials: number;
  /** Idle `observe()` iterables whose cost to etcd is measured, and the idle window it is measured over (ms). */
  idleObservers: number;
  idleWindowMs: number;
  /** Fresh handles created to measure retained heap per idle handle. */
  idleHandles: number;
  /** Leases held and renewed by this process in the memory section. */
  renewedLeases: number;
  renewalRounds: number;
  /** Keep-alive connections per endpoint for the undici clients (raw floor and leasehold). */
  connections: number;
}

const common = { concurrency: [1, 16, 64], connections: 32, networkDelayMs: 1 } as const;

export const FULL: BenchConfig = {
  ...common,
  quick: false,
  warmupOps: 200,
  timedOps: 2000,
  blockOps: 25,
  networkWarmupOps: 30,
  networkTimedOps: 300,
  networkBlockOps: 25,
  cellMs: 1500,
  cellSlices: 4,
  roundTripOps: 5,
  failoverTrials: 12,
  handoverTrials: 12,
  idleObservers: 100,
  idleWindowMs: 5000,
  idleHandles: 10_000,
  renewedLeases: 1000,
  renewalRounds: 3,
};

export const QUICK: BenchConfig = {
  ...common,
  quick: true,
  warmupOps: 10,
  timedOps: 40,
  blockOps: 10,
  networkWarmupOps: 5,
  networkTimedOps: 20,
  networkBlockOps: 5,
  cellMs: 100,
  cellSlices: 2,
  roundTripOps: 2,
  failoverTrials: 2,
  handoverTrials: 2,
  idleObservers: 5,
  idleWindowMs: 300,
  idleHandles: 1000,
  renewedLeases: 50,
  renewalRounds: 1,
};
