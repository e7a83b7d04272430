/**
 * Starts a throwaway standalone ZooKeeper on a free loopback port with a temp data dir, and stops it. Used by
 * the test setup and the demo. It runs `org.apache.zookeeper.server.ZooKeeperServerMain` from Debian's
 * `zookeeper` package (`/usr/share/java/zookeeper.jar`, whose manifest names its dependencies) with a
 * generated zoo.cfg; the admin server is off. Override the jar with `LEASEHOLD_ZOOKEEPER_JAR` and the JVM with
 * `LEASEHOLD_JAVA` (else `java` on PATH).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.ts";
import { supervise } from "./server-process.ts";

export interface ZooKeeperServer {
  /** Connection string for clients, e.g. `127.0.0.1:41234`. */
  connectString: string;
  /** The JVM running ZooKeeper; tests may kill it. */
  process: ChildProcess;
  dataDir: string;
  /** The server's tick in ms: sessions time out between 2 and 20 ticks (unless the options say otherwise). */
  tickTimeMs: number;
  /** Stops ZooKeeper (SIGTERM, then SIGKILL after 5 s) and deletes its data dir. */
  stop(): Promise<void>;
}

export interface StartZooKeeperOptions {
  /** ZooKeeper's tick in ms. Default 500, so that session expiry in tests takes seconds, not tens of seconds. */
  tickTimeMs?: number;
  /** Largest session timeout the server grants, in ms. Default 60 000. */
  maxSessionTimeoutMs?: number;
  /** How long to wait for the server to serve requests, in ms. Default 30 000. */
  startTimeoutMs?: number;
}

export function zookeeperJar(): string {
  return process.env.LEASEHOLD_ZOOKEEPER_JAR || "/usr/share/java/zookeeper.jar";
}

/** Sends a four-letter command and returns the reply (empty when the server is not up). */
export function fourLetterWord(connectString: string, word: string, timeoutMs = 1000): Promise<string> {
  const [host, port] = connectString.split(":") as [string, string];
  return new Promise((resolve) => {
    let reply = "";
    const socket = connect({ host, port: Number(port) });
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on("connect", () => socket.end(word));
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString();
    });
    socket.on("error", () => resolve(""));
    socket.on("close", () => resolve(reply));
  });
}

/** `ruok` answers before the server serves requests; `srvr` reports a mode only once it does. */
async function waitForServing(server: string, child: ChildProcess, timeoutMs: number, log: () => string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`ZooKeeper exited with code ${child.exitCode}:\n${log()}`);
    if ((await fourLetterWord(server, "srvr")).includes("Mode: standalone")) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`ZooKeeper at ${server} was not serving within ${timeoutMs} ms:\n${log()}`);
}

/** The JVM to run: `LEASEHOLD_JAVA`, else `java` on PATH. */
export const javaBinary = (): string => process.env.LEASEHOLD_JAVA || "java";

/** The class path and flags every JVM here runs with (the servers, and the transaction log reader). */
export function zookeeperJvmArgs(): string[] {
  return [
    "-Xms32m",
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Dzookeeper.jmx.log4j.disable=true",
    "-cp",
    zookeeperJar(),
  ];
}

/**
 * Writes a standalone server's `zoo.cfg` into `dir` (data under `dir/data`, loopback only, no admin server) and
 * returns its path.
 */
export async function writeZooKeeperConfig(
  dir: string,
  port: number,
  options: { tickTimeMs: number; maxSessionTimeoutMs?: number | undefined },
): Promise<string> {
  const config = join(dir, "zoo.cfg");
  await writeFile(
    config,
    [
      `tickTime=${options.tickTimeMs}`,
      `dataDir=${join(dir, "data")}`,
      `clientPort=${port}`,
      "clientPortAddress=127.0.0.1",
      `maxSessionTimeout=${options.maxSessionTimeoutMs ?? 60_000}`,
      "admin.enableServer=false",
      "4lw.commands.whitelist=srvr,cons",
      "",
    ].join("\n"),
  );
  return config;
}

export async function startZooKeeper(options: StartZooKeeperOptions = {}): Promise<ZooKeeperServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "leasehold-zookeeper-"));
  const port = await freePort();
  const tickTimeMs = options.tickTimeMs ?? 500;
  const connectString = `127.0.0.1:${port}`;
  const config = await writeZooKeeperConfig(dataDir, port, {
    tickTimeMs,
    maxSessionTimeoutMs: options.maxSessionTimeoutMs,
  });
  const child = spawn(
    javaBinary(),
    [...zookeeperJvmArgs(), "org.apache.zookeeper.server.ZooKeeperServerMain", config],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const { spawned, output, stop } = supervise(child, dataDir);
  try {
    await spawned;
    await waitForServing(connectString, child, options.startTimeoutMs ?? 30_000, output);
  } catch (error) {
    await stop();
    throw error;
  }
  return { connectString, process: child, dataDir, tickTimeMs, stop };
}
