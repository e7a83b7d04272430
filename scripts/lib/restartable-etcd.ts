/**
 * etcd members (one, or a cluster) that keep their ports and data dirs across kills, for the torture test:
 * a member can be killed with SIGKILL and started again on the same data dir, so that etcd's MVCC history
 * (the checker's evidence) survives every restart. The binary is etcdBinary() from etcd-server.ts.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { etcdBinary } from "./etcd-server.ts";
import { freePort } from "./free-port.ts";

export interface RestartableEtcd {
  /** Client URLs, in member order, the same across restarts. */
  endpoints: string[];
  /** Client ports, in member order. */
  ports: number[];
  /** Starts member `i` on its data dir and waits until it is healthy (has a leader). */
  start(i: number): Promise<void>;
  /** Kills member `i` with SIGKILL and waits for it to exit. */
  kill(i: number): Promise<void>;
  /** Whether member `i` runs. */
  running(i: number): boolean;
  /** Kills every member and deletes the data dirs. */
  remove(): Promise<void>;
}

interface Member {
  name: string;
  client: number;
  peer: number;
  dataDir: string;
  child: ChildProcess | null;
  output: string;
}

async function healthy(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
    return ((await res.json()) as { health?: string }).health === "true";
  } catch {
    return false;
  }
}

/** Creates `size` members (not started); start them all together with {@link startAll}. */
export async function createRestartableEtcd(size = 1): Promise<RestartableEtcd> {
  const root = await mkdtemp(join(tmpdir(), "leasehold-torture-etcd-"));
  const members: Member[] = [];
  for (let i = 0; i < size; i++) {
    members.push({
      name: `m${i}`,
      client: await freePort(),
      peer: await freePort(),
      dataDir: join(root, `m${i}`),
      child: null,
      output: "",
    });
  }
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(",");
  const endpoints = members.map((m) => `http://127.0.0.1:${m.client}`);
  const member = (i: number) => {
    const m = members[i];
    if (!m) throw new RangeError(`no etcd member ${i}`);
    return m;
  };
  const kill = async (i: number) => {
    const m = member(i);
    const child = m.child;
    m.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await gone;
  };
  return {
    endpoints,
    ports: members.map((m) => m.client),
    async start(i) {
      const m = member(i);
      const client = `http://127.0.0.1:${m.client}`;
      const peer = `http://127.0.0.1:${m.peer}`;
      const child = spawn(
        etcdBinary(),
        [
          `--name=${m.name}`,
          `--data-dir=${m.dataDir}`,
          `--listen-client-urls=${client}`,
          `--advertise-client-urls=${client}`,
          `--listen-peer-urls=${peer}`,
          `--initial-advertise-peer-urls=${peer}`,
          `--initial-cluster=${initialCluster}`,
          "--log-level=error",
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      m.child = child;
      child.stderr?.on("data", (chunk: Buffer) => {
        m.output = (m.output + chunk.toString()).slice(-4000);
      });
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        if (child.exitCode !== null)
          throw new Error(`etcd ${m.name} exited (${child.exitCode}):\n${m.output}`);
        if (await healthy(client)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`etcd ${m.name} at ${client} was not healthy within 30 s:\n${m.output}`);
    },
    kill,
    running: (i) => member(i).child !== null,
    async remove() {
      await Promise.all(members.map((_, i) => kill(i)));
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Starts every member at once (none is healthy before a quorum is up). */
export async function startAll(etcd: RestartableEtcd): Promise<void> {
  await Promise.all(etcd.endpoints.map((_, i) => etcd.start(i)));
}
