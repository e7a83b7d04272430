/**
 * Memory: retained heap per idle lease handle (fresh `createLease` handles kept alive, measured after full
 * GCs), and the cost of 1000 leases held and renewed by one Node process (heap retained, RSS, CPU per
 * renewal). It runs in a child process of its own (`node --expose-gc bench/memory.ts <endpoint> <keyspace>
 * <config JSON>`, JSON on stdout), so that neither the other clients nor the earlier sections weigh on it.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { etcd } from "../adapters/etcd/index.ts";
import { undiciTransport } from "../adapters/node/index.ts";
import { createLease, type Lease } from "../src/index.ts";
import type { BenchConfig } from "./config.ts";

export interface MemoryFigures {
  idleHandles: number;
  /** Retained heap per fresh handle, in bytes. */
  bytesPerIdleHandle: number;
  renewedLeases: number;
  /** Retained heap per lease held (after its claim, before renewals), in bytes. */
  bytesPerHeldLease: number;
  /** Heap retained by all the held leases after the renewal rounds, in bytes. */
  heapAfterRenewals: number;
  /** RSS of the child process before the first handle, and after the renewal rounds, in bytes. */
  rssBefore: number;
  rssAfterRenewals: number;
  renewalRounds: number;
  /** Wall time of one round renewing every lease (64 at a time), in ms. */
  msPerRound: number;
  /** Process CPU time (user + system) per renewal, in ms. */
  cpuMsPerRenewal: number;
}

const RENEW_CONCURRENCY = 64;

async function settledHeap(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("the memory figures need node --expose-gc (npm run bench passes it)");
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

type MemoryConfig = Pick<BenchConfig, "idleHandles" | "renewedLeases" | "renewalRounds">;

async function measureHere(endpoint: string, keyspace: string, config: MemoryConfig): Promise<MemoryFigures> {
  const backend = etcd({ endpoints: [endpoint], prefix: `${keyspace}lease/`, transport: undiciTransport() });
  try {
    const rssBefore = process.memoryUsage().rss;
    const idleBefore = await settledHeap();
    let idle: Lease[] = Array.from({ length: config.idleHandles }, (_, i) =>
      createLease({ backend, name: `memory/idle/${i}`, holder: "idle", ttlMs: 10_000 }),
    );
    const bytesPerIdleHandle = ((await settledHeap()) - idleBefore) / idle.length;
    idle = [];

    const heldBefore = await settledHeap();
    const leases = Array.from({ length: config.renewedLeases }, (_, i) =>
      createLease({ backend, name: `memory/held/${i}`, holder: "renewer", ttlMs: 30_000 }),
    );
    await eachLimited(leases, RENEW_CONCURRENCY, async (lease) => {
      if (!(await lease.claim()).isLeader) throw new Error(`memory: could not claim ${lease.name}`);
    });
    const bytesPerHeldLease = ((await settledHeap()) - heldBefore) / leases.length;

    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    for (let round = 0; round < config.renewalRounds; round++) {
      await eachLimited(leases, RENEW_CONCURRENCY, async (lease) => {
        await lease.renew();
      });
    }
    const elapsed = performance.now() - start;
    const cpu = process.cpuUsage(cpuBefore);
    const heapAfterRenewals = (await settledHeap()) - heldBefore;
    const rssAfterRenewals = process.memoryUsage().rss;
    await eachLimited(leases, RENEW_CONCURRENCY, (lease) => lease.release());
    return {
      idleHandles: config.idleHandles,
      bytesPerIdleHandle,
      renewedLeases: leases.length,
      bytesPerHeldLease,
      heapAfterRenewals,
      rssBefore,
      rssAfterRenewals,
      renewalRounds: config.renewalRounds,
      msPerRound: elapsed / config.renewalRounds,
      cpuMsPerRenewal: (cpu.user + cpu.system) / 1000 / (leases.length * config.renewalRounds),
    };
  } finally {
    await backend.close?.();
  }
}

/** Runs the memory section in a fresh `node --expose-gc` child process. */
export async function measureMemory(
  endpoint: string,
  keyspace: string,
  config: BenchConfig,
): Promise<MemoryFigures> {
  const { idleHandles, renewedLeases, renewalRounds } = config;
  const { stdout } = await promisify(execFile)(process.execPath, [
    "--expose-gc",
    fileURLToPath(import.meta.url),
    endpoint,
    keyspace,
    JSON.stringify({ idleHandles, renewedLeases, renewalRounds }),
  ]);
  return JSON.parse(stdout) as MemoryFigures;
}

if (import.meta.main) {
  const [endpoint, keyspace, json] = process.argv.slice(2);
  if (!endpoint || !keyspace || !json)
    throw new Error("usage: bench/memory.ts <endpoint> <keyspace> <config JSON>");
  const figures = await measureHere(endpoint, keyspace, JSON.parse(json) as MemoryConfig);
  process.stdout.write(JSON.stringify(figures));
}
