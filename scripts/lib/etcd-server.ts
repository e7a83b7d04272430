/**
 * Starts a throwaway single-member etcd on free loopback ports with a temp data dir, and stops it. Used by the
 * test setup, the demo and the benchmarks. The binary is `LEASEHOLD_ETCD_BIN`, else `etcd` on PATH
 * (scripts/setup.sh installs Debian's etcd-server when it is missing).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";

export interface EtcdServer {
  /** Client URL, e.g. `http://127.0.0.1:41234`. */
  endpoint: string;
  /** The etcd process; tests may kill it. */
  process: ChildProcess;
  dataDir: string;
  /** Stops etcd (SIGTERM, then SIGKILL after 5 s) and deletes its data dir. */
  stop(): Promise<void>;
}

export interface StartEtcdOptions {
  /** The etcd binary. Default: `LEASEHOLD_ETCD_BIN` or `etcd` on PATH. */
  binary?: string;
  /** Extra command-line flags. */
  args?: readonly string[];
  /** How long to wait for `/health`, in ms. Default 20 000. */
  startTimeoutMs?: number;
}

export function etcdBinary(): string {
  return process.env.LEASEHOLD_ETCD_BIN || "etcd";
}

async function waitForHealth(endpoint: string, child: ChildProcess, timeoutMs: number, log: () => string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`etcd exited with code ${child.exitCode}:\n${log()}`);
    try {
      const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as { health?: string };
      if (body.health === "true") return;
    } catch {
      // Not up yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`etcd at ${endpoint} was not healthy within ${timeoutMs} ms:\n${log()}`);
}

export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "leasehold-etcd-"));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const endpoint = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    options.binary ?? etcdBinary(),
    [
      "--name=leasehold-test",
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${endpoint}`,
      `--advertise-client-urls=${endpoint}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=leasehold-test=${peer}`,
      "--log-level=error",
      ...(options.args ?? []),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await spawned;
    await waitForHealth(endpoint, child, options.startTimeoutMs ?? 20_000, () => stderr);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, process: child, dataDir, stop };
}
