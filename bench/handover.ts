/**
 * Hand-over and observation on etcd with `etcdWithWatch` (undici transport):
 *
 * - after release: a leader elector and a queued follower; from the moment the leader's `stop({ release: true })`
 *   is called to the follower's `onElected`;
 * - after a crash: a holder claims and never renews nor releases; a queued follower; from the holder's claim
 *   (send time, its last renewal) to the follower's `onElected`, minus the TTL;
 * - observe delivery: from the moment a release is sent to the `observe()` event that reports the lease free;
 * - N idle observers: etcd's watcher and watch-stream gauges from its /metrics, its CPU over an idle window
 *   and its RSS, without and with N `observe()` iterables open.
 *
 * Trials of one kind run concurrently on separate lease names (crash trials staggered, so that their expiries
 * fall at different points of etcd's expiry check).
 */
import { readFileSync } from "node:fs";
import { etcdWithWatch } from "../adapters/etcd/watch.ts";
import { undiciTransport } from "../adapters/node/index.ts";
import { type Backend, createLease, observe, startElector } from "../src/index.ts";
import type { BenchConfig } from "./config.ts";
import { processCpu } from "./server-cpu.ts";

export const HANDOVER_TTL_MS = 2000;
const STAGGER_MS = 170;

export interface HandoverFigures {
  /** Per trial: release called → successor's onElected, in ms. */
  afterReleaseMs: number[];
  /** Per trial: crashed holder's last renewal (claim send time) → successor's onElected, minus the TTL, in ms. */
  afterCrashOverTtlMs: number[];
  /** Per trial: release sent → the observe() event reporting the lease free, in ms. */
  observeDeliveryMs: number[];
  idle: IdleObserverCost;
}

export interface IdleObserverCost {
  observers: number;
  windowMs: number;
  /** etcd_debugging_mvcc_watcher_total and _watch_stream_total, without → with the observers. */
  watchers: [number, number];
  watchStreams: [number, number];
  /** etcd's CPU over one idle window, in ms, without → with (null where /proc is missing). */
  cpuMs: [number | null, number | null];
  /** etcd's RSS in bytes, without → with (null where /proc is missing). */
  rssBytes: [number | null, number | null];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `at` resolves with the time (performance.now) `call` is first called, or rejects after `ms`. */
function firstCall(ms: number, what: string): { at: Promise<number>; call: () => void } {
  let resolve!: (at: number) => void;
  const at = new Promise<number>((res, reject) => {
    resolve = res;
    setTimeout(() => reject(new Error(`handover bench: no ${what} within ${ms} ms`)), ms).unref();
  });
  return { at, call: () => resolve(performance.now()) };
}

function watching(endpoint: string, prefix: string): Backend {
  return etcdWithWatch({ endpoints: [endpoint], prefix, transport: undiciTransport() });
}

async function afterRelease(endpoint: string, keyspace: string, i: number): Promise<number> {
  const backend = watching(endpoint, `${keyspace}release/`);
  const lease = (holder: string) =>
    createLease({ backend, name: `handover/${i}`, holder, ttlMs: HANDOVER_TTL_MS });
  try {
    const first = firstCall(5000, "first leader");
    const leader = startElector({ lease: lease("a"), onElected: first.call });
    await first.at;
    const next = firstCall(5000, "successor");
    const follower = startElector({ lease: lease("b"), onElected: next.call });
    // Queued: its candidate is in, its watch of the leader's candidate open.
    await sleep(200);
    const releasedAt = performance.now();
    await leader.stop({ release: true });
    const ms = (await next.at) - releasedAt;
    await follower.stop({ release: true });
    return ms;
  } finally {
    await backend.close?.();
  }
}

async function afterCrash(endpoint: string, keyspace: string, i: number): Promise<number> {
  const backend = watching(endpoint, `${keyspace}crash/`);
  const lease = (holder: string) =>
    createLease({ backend, name: `handover/${i}`, holder, ttlMs: HANDOVER_TTL_MS });
  try {
    await sleep(i * STAGGER_MS);
    const sentAt = performance.now();
    if (!(await lease("crashed").claim()).isLeader) throw new Error(`crash trial ${i}: no claim`);
    const next = firstCall(4 * HANDOVER_TTL_MS, "successor after a crash");
    const follower = startElector({ lease: lease("b"), onElected: next.call });
    const ms = (await next.at) - sentAt - HANDOVER_TTL_MS;
    await follower.stop({ release: true });
    return ms;
  } finally {
    await backend.close?.();
  }
}

async function observeDelivery(endpoint: string, keyspace: string, i: number): Promise<number> {
  const backend = watching(endpoint, `${keyspace}observe/`);
  const name = `observe/${i}`;
  const stop = new AbortController();
  try {
    const lease = createLease({ backend, name, holder: "writer", ttlMs: HANDOVER_TTL_MS });
    const held = firstCall(5000, "observed claim");
    const free = firstCall(5000, "observed release");
    let claimed = false;
    const following = (async () => {
      for await (const event of observe(backend, name, { signal: stop.signal })) {
        if (event.type !== "change") continue;
        if (event.leader) {
          claimed = true;
          held.call();
        } else if (claimed) free.call();
      }
    })();
    await sleep(100);
    await lease.claim();
    await held.at;
    const sentAt = performance.now();
    await lease.release();
    const ms = (await free.at) - sentAt;
    stop.abort();
    await following;
    return ms;
  } finally {
    stop.abort();
    await backend.close?.();
  }
}

/** etcd's gauges by name from /metrics. */
async function gauges(endpoint: string, names: readonly string[]): Promise<number[]> {
  const text = await (await fetch(`${endpoint}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  return names.map((name) => {
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    return line ? Number(line.slice(name.length + 1)) : Number.NaN;
  });
}

function rss(pid: number | undefined): number | null {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? null : Number(kb) * 1024;
  } catch {
    return null;
  }
}

async function idleCost(
  endpoint: string,
  keyspace: string,
  pid: number | undefined,
  config: BenchConfig,
): Promise<IdleObserverCost> {
  const names = ["etcd_debugging_mvcc_watcher_total", "etcd_debugging_mvcc_watch_stream_total"];
  const cpu = processCpu(pid);
  const window = async (): Promise<number | null> => {
    const before = cpu?.();
    await sleep(config.idleWindowMs);
    const after = cpu?.();
    return before === undefined || after === undefined ? null : (after - before) / 1000;
  };
  const [watchersBefore, streamsBefore] = (await gauges(endpoint, names)) as [number, number];
  const cpuBefore = await window();
  const rssBefore = rss(pid);
  const backend = watching(endpoint, `${keyspace}idle/`);
  const stop = new AbortController();
  let opened = 0;
  const observers = Array.from({ length: config.idleObservers }, async (_, i) => {
    for await (const event of observe(backend, `idle/${i}`, { signal: stop.signal })) {
      if (event.type === "mode" && event.mode === "watch") opened++;
    }
  });
  try {
    for (let waited = 0; opened < config.idleObservers; waited += 20) {
      if (waited > 20_000) throw new Error(`idle observers: ${opened} of ${config.idleObservers} watching`);
      await sleep(20);
    }
    const [watchersWith, streamsWith] = (await gauges(endpoint, names)) as [number, number];
    const cpuWith = await window();
    return {
      observers: config.idleObservers,
      windowMs: config.idleWindowMs,
      watchers: [watchersBefore, watchersWith],
      watchStreams: [streamsBefore, streamsWith],
      cpuMs: [cpuBefore, cpuWith],
      rssBytes: [rssBefore, rss(pid)],
    };
  } finally {
    stop.abort();
    await Promise.allSettled(observers);
    await backend.close?.();
  }
}

export async function measureHandover(
  endpoint: string,
  keyspace: string,
  etcdPid: number | undefined,
  config: BenchConfig,
): Promise<HandoverFigures> {
  const trials = (fn: (e: string, k: string, i: number) => Promise<number>) =>
    Promise.all(Array.from({ length: config.handoverTrials }, (_, i) => fn(endpoint, keyspace, i)));
  const afterReleaseMs: number[] = [];
  // One at a time: concurrent hand-overs would measure each other's load.
  for (let i = 0; i < config.handoverTrials; i++)
    afterReleaseMs.push(await afterRelease(endpoint, keyspace, i));
  const observeDeliveryMs: number[] = [];
  for (let i = 0; i < config.handoverTrials; i++) {
    observeDeliveryMs.push(await observeDelivery(endpoint, keyspace, i));
  }
  const afterCrashOverTtlMs = await trials(afterCrash);
  const idle = await idleCost(endpoint, keyspace, etcdPid, config);
  return { afterReleaseMs, afterCrashOverTtlMs, observeDeliveryMs, idle };
}
