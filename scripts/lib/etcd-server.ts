/**
 * Starts a throwaway single-member etcd on free loopback ports with a temp data dir, and stops it. Used by the
 * test setup, the demo and the benchmarks. The binary is `LEASEHOLD_ETCD_BIN`, else `etcd` on PATH
 * (scripts/setup.sh installs Debian's etcd-server when it is missing). Options make it one member of a cluster
 * (`etcd-cluster.ts`) or serve https (`tls`).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import { freePort } from "./free-port.ts";
import { supervise } from "./server-process.ts";

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
  /** Member name. Default `leasehold-test`. */
  name?: string;
  /** Ports to listen on. Default: free ports. */
  clientPort?: number;
  peerPort?: number;
  /** `--initial-cluster` for a member of a multi-member cluster. Default: this member alone. */
  initialCluster?: string;
  /** Serve clients over https with these PEM files; with `clientCertAuth`, require a client certificate. */
  tls?: EtcdServerTls;
}

export interface EtcdServerTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Paths of a client certificate and key the health check presents (needed with `clientCertAuth`). */
  clientCertFile?: string;
  clientKeyFile?: string;
  clientCertAuth?: boolean;
}

/** The etcd 3.5 binary that `scripts/setup.sh etcd35` unpacks (Debian trixie), or `LEASEHOLD_ETCD35_BIN`. */
export function etcd35Binary(): string {
  return (
    process.env.LEASEHOLD_ETCD35_BIN ||
    fileURLToPath(new URL("../../.cache/etcd-3.5/usr/bin/etcd", import.meta.url))
  );
}

export function etcdBinary(): string {
  return process.env.LEASEHOLD_ETCD_BIN || "etcd";
}

async function healthy(endpoint: string, tls: EtcdServerTls | undefined): Promise<boolean> {
  if (!tls) {
    const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
    return ((await res.json()) as { health?: string }).health === "true";
  }
  const read = (path: string | undefined) => (path ? readFileSync(path) : undefined);
  const dispatcher = new Agent({
    connect: { ca: read(tls.caFile), cert: read(tls.clientCertFile), key: read(tls.clientKeyFile) },
  });
  try {
    const res = await request(`${endpoint}/health`, { dispatcher, signal: AbortSignal.timeout(1000) });
    return ((await res.body.json()) as { health?: string }).health === "true";
  } finally {
    await dispatcher.close();
  }
}

async function waitForHealth(
  endpoint: string,
  child: ChildProcess,
  timeoutMs: number,
  log: () => string,
  tls?: EtcdServerTls,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`etcd exited with code ${child.exitCode}:\n${log()}`);
    try {
      if (await healthy(endpoint, tls)) return;
    } catch {
      // Not up yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`etcd at ${endpoint} was not healthy within ${timeoutMs} ms:\n${log()}`);
}

export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "leasehold-etcd-"));
  const clientPort = options.clientPort ?? (await freePort());
  const peerPort = options.peerPort ?? (await freePort());
  const name = options.name ?? "leasehold-test";
  const { tls } = options;
  const endpoint = `${tls ? "https" : "http"}://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    options.binary ?? etcdBinary(),
    [
      `--name=${name}`,
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${endpoint}`,
      `--advertise-client-urls=${endpoint}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=${options.initialCluster ?? `${name}=${peer}`}`,
      "--log-level=error",
      ...(tls
        ? [
            `--cert-file=${tls.certFile}`,
            `--key-file=${tls.keyFile}`,
            `--trusted-ca-file=${tls.caFile}`,
            `--client-cert-auth=${tls.clientCertAuth === true}`,
          ]
        : []),
      ...(options.args ?? []),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const { spawned, output, stop } = supervise(child, dataDir);
  try {
    await spawned;
    await waitForHealth(endpoint, child, options.startTimeoutMs ?? 20_000, output, tls);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, process: child, dataDir, stop };
}
