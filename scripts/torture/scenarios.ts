/**
 * The torture scenarios: a store, the fault proxies between the workers and it, and the faults of its kind.
 * - etcd: one member on its own data dir, restarted (SIGKILL, then the same data dir) under the workers;
 * - etcd-cluster: three members, one of them killed and restarted;
 * - zookeeper: ZooKeeper behind leasehold-zk-gateway run as its own process, each killed and restarted.
 * Each fault action heals before it returns, and says what it did.
 */

import { KeeperError, ZkSession } from "../../packages/zk-gateway/src/zk.ts";
import { type FaultProxy, startFaultProxy } from "../lib/fault-proxy.ts";
import { createGatewayProcess } from "../lib/gateway-process.ts";
import { createRestartableEtcd, startAll } from "../lib/restartable-etcd.ts";
import { createRestartableZooKeeper } from "../lib/restartable-zookeeper.ts";
import { replayEtcd, watchAll } from "./etcd-history.ts";
import type { StoreHistory } from "./store-history.ts";
import { readTxnLogs, replayZooKeeper } from "./zookeeper-history.ts";

export type Fault = () => Promise<string>;

/** A lease the workers contend for, and where their guarded writes under it go. */
export interface TortureLease {
  name: string;
  writePrefix: string;
}

/**
 * `main`: contended by invokers and electors that hand it on often; `steady`: one elector that keeps its term
 * as long as the store lets it, so that the report can say whether terms outlive store faults.
 */
export const LEASES = {
  main: { name: "torture/lease", writePrefix: "torture/w" },
  steady: { name: "torture/steady", writePrefix: "torture/s" },
} as const satisfies Record<string, TortureLease>;

export interface Scenario {
  name: string;
  store: "etcd" | "zookeeper";
  /** What workers connect to: the fault proxies. */
  endpoints: string[];
  /** Store faults by kind (worker faults are the runner's). */
  faults: Record<string, Fault>;
  /** Heals every fault still on (none should be). */
  heal(): Promise<void>;
  /** The store's history of one lease and its writes. */
  history(lease: TortureLease): Promise<StoreHistory>;
  teardown(): Promise<void>;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const between = (lo: number, hi: number) => Math.round(lo + Math.random() * (hi - lo));
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

/** Runs `read` once, on first use. */
function once<T>(read: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | null = null;
  return () => {
    result ??= read();
    return result;
  };
}

function proxyFaults(proxies: readonly FaultProxy[]): Record<string, Fault> {
  return {
    latency: async () => {
      const proxy = pick(proxies);
      const ms = between(50, 400);
      const forMs = between(1000, 2500);
      proxy.latency(ms);
      await sleep(forMs);
      proxy.latency(0);
      return `${ms} ms on ${proxy.endpoint} for ${forMs} ms`;
    },
    blackhole: async () => {
      const proxy = pick(proxies);
      const forMs = between(800, 3000);
      proxy.blackhole(true);
      await sleep(forMs);
      proxy.blackhole(false);
      return `${proxy.endpoint} for ${forMs} ms`;
    },
    reset: async () => {
      const proxy = pick(proxies);
      return `${proxy.reset()} connections of ${proxy.endpoint}`;
    },
  };
}

function healProxies(proxies: readonly FaultProxy[]): void {
  for (const p of proxies) {
    p.latency(0);
    p.blackhole(false);
  }
}

async function etcdScenario(name: string, size: number): Promise<Scenario> {
  const etcd = await createRestartableEtcd(size);
  await startAll(etcd);
  const proxies = await Promise.all(etcd.ports.map((port) => startFaultProxy({ host: "127.0.0.1", port })));
  const restart = async (i: number, lo: number, hi: number) => {
    await etcd.kill(i);
    const downMs = between(lo, hi);
    await sleep(downMs);
    await etcd.start(i);
    return downMs;
  };
  const watched = once(async () => {
    for (let i = 0; i < size; i++) if (etcd.running(i)) return watchAll(etcd.endpoints[i] as string);
    throw new Error("no etcd member runs");
  });
  const faults: Record<string, Fault> =
    size === 1
      ? { "etcd-restart": async () => `down ${await restart(0, 300, 1500)} ms, same data dir` }
      : {
          "member-kill": async () => {
            const i = Math.floor(Math.random() * size);
            return `member ${i} down ${await restart(i, 1000, 3000)} ms`;
          },
        };
  return {
    name,
    store: "etcd",
    endpoints: proxies.map((p) => p.endpoint),
    faults: { ...proxyFaults(proxies), ...faults },
    async heal() {
      healProxies(proxies);
      for (let i = 0; i < size; i++) if (!etcd.running(i)) await etcd.start(i);
    },
    async history(lease) {
      const { head, events } = await watched();
      return replayEtcd(head, events, `leasehold/${lease.name}`, lease.writePrefix);
    },
    async teardown() {
      await Promise.all(proxies.map((p) => p.close()));
      await etcd.remove();
    },
  };
}

async function zookeeperScenario(): Promise<Scenario> {
  const zk = await createRestartableZooKeeper();
  await zk.start();
  const gateway = await createGatewayProcess(zk.connectString);
  await gateway.start();
  const url = new URL(gateway.url);
  const proxy = await startFaultProxy({ host: url.hostname, port: Number(url.port) });
  const logs = once(() => readTxnLogs(`${zk.dir}/data`));
  let zkDown = false;
  let gatewayDown = false;
  let reader: ZkSession | undefined;
  return {
    name: "zookeeper",
    store: "zookeeper",
    endpoints: [proxy.endpoint],
    faults: {
      ...proxyFaults([proxy]),
      "zookeeper-restart": async () => {
        zkDown = true;
        await zk.kill();
        const downMs = between(300, 1500);
        await sleep(downMs);
        await zk.start();
        zkDown = false;
        return `down ${downMs} ms, same data dir`;
      },
      "gateway-kill9": async () => {
        gatewayDown = true;
        await gateway.kill();
        const downMs = between(200, 1000);
        await sleep(downMs);
        await gateway.start();
        gatewayDown = false;
        return `down ${downMs} ms, restarted on the same port`;
      },
    },
    async heal() {
      healProxies([proxy]);
      if (zkDown) await zk.start();
      if (gatewayDown) await gateway.start();
    },
    async history(lease) {
      const txns = await logs();
      // ZooKeeper itself is read, not the gateway: the verdict is about what the store holds, and a gateway
      // still re-attaching its ZooKeeper session after heal() would only answer 503/504 meanwhile.
      reader ??= await ZkSession.open(zk.connectString, { sessionTimeoutMs: 10_000, callTimeoutMs: 10_000 });
      const store = reader;
      const readNode = async (path: string) => {
        const node = await store.getData(path).catch((error: unknown) => {
          if (error instanceof KeeperError && error.code === "NONODE") return null;
          throw error;
        });
        if (node === null) return null;
        if (node.data === null) throw new Error(`GET ${path}: a znode without data`);
        return { value: node.data.toString("utf8"), czxid: node.stat.czxid };
      };
      const leader = `/leasehold/${lease.name.replaceAll("/", "^")}`;
      return replayZooKeeper(txns, leader, `/${lease.writePrefix}`, readNode);
    },
    async teardown() {
      await reader?.close();
      await proxy.close();
      await gateway.kill();
      await zk.remove();
    },
  };
}

export const SCENARIOS: Record<string, () => Promise<Scenario>> = {
  etcd: () => etcdScenario("etcd", 1),
  "etcd-cluster": () => etcdScenario("etcd-cluster", 3),
  zookeeper: zookeeperScenario,
};
