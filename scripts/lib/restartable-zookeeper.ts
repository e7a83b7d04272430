/**
 * A standalone ZooKeeper that keeps its port and data dir across kills and restarts, for the torture test: it
 * can be killed with SIGKILL and started again on the same data (its transaction log is the history the
 * checker reads). Same JVM flags as zookeeper-server.ts; autopurge stays off so that no log is ever deleted.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";
import { fourLetterWord, javaBinary, writeZooKeeperConfig, zookeeperJvmArgs } from "./zookeeper-server.ts";

export interface RestartableZooKeeper {
  /** `127.0.0.1:<port>`, the same across restarts. */
  connectString: string;
  /** The directory holding zoo.cfg and `data/` (snapshots and transaction logs under `data/version-2`). */
  dir: string;
  tickTimeMs: number;
  /** Starts the server on the same port and data and waits until it serves requests. */
  start(): Promise<void>;
  /** Kills the JVM with SIGKILL and waits for it to exit. */
  kill(): Promise<void>;
  /** Kills the server if it runs and deletes its directory. */
  remove(): Promise<void>;
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => child.once("exit", resolve));
}

export async function createRestartableZooKeeper(tickTimeMs = 500): Promise<RestartableZooKeeper> {
  const dir = await mkdtemp(join(tmpdir(), "leasehold-torture-zk-"));
  const port = await freePort();
  const connectString = `127.0.0.1:${port}`;
  const config = await writeZooKeeperConfig(dir, port, { tickTimeMs });
  let child: ChildProcess | null = null;
  let output = "";
  const kill = async () => {
    if (!child) return;
    child.kill("SIGKILL");
    await exited(child);
    child = null;
  };
  return {
    connectString,
    dir,
    tickTimeMs,
    async start() {
      const proc = spawn(
        javaBinary(),
        [...zookeeperJvmArgs(), "org.apache.zookeeper.server.ZooKeeperServerMain", config],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      child = proc;
      const keep = (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-4000);
      };
      proc.stdout?.on("data", keep);
      proc.stderr?.on("data", keep);
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        if (proc.exitCode !== null) throw new Error(`ZooKeeper exited (${proc.exitCode}):\n${output}`);
        if ((await fourLetterWord(connectString, "srvr")).includes("Mode: standalone")) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`ZooKeeper at ${connectString} was not serving within 30 s:\n${output}`);
    },
    kill,
    async remove() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
