/**
 * leasehold-zk-gateway as its own process (packages/zk-gateway/src/cli.ts run by this Node), on a fixed
 * port and with a fixed session key (LEASEHOLD_ZK_GATEWAY_SESSION_KEYS), so that it can be killed with SIGKILL
 * and started again behind the same URL, as the same gateway to its REST sessions.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { freePort } from "./free-port.ts";

export interface GatewayProcess {
  /** `http://127.0.0.1:<port>`, the same across restarts. */
  url: string;
  /** Starts the gateway and waits until it listens. */
  start(): Promise<void>;
  /** Kills it with SIGKILL and waits for it to exit. */
  kill(): Promise<void>;
}

/**
 * Node arguments that run the bin from source, unbuilt: the `leasehold-source` export condition resolves its
 * `leasehold/...` imports to the library's source too.
 */
export const GATEWAY_BIN: readonly string[] = [
  "--conditions=leasehold-source",
  fileURLToPath(new URL("../../packages/zk-gateway/src/cli.ts", import.meta.url)),
];

export async function createGatewayProcess(zookeeper: string, port?: number): Promise<GatewayProcess> {
  const listen = port ?? (await freePort());
  let child: ChildProcess | null = null;
  const env = { ...process.env, LEASEHOLD_ZK_GATEWAY_SESSION_KEYS: randomBytes(32).toString("base64") };
  return {
    url: `http://127.0.0.1:${listen}`,
    async start() {
      const proc = spawn(
        process.execPath,
        [...GATEWAY_BIN, "--zookeeper", zookeeper, "--listen", `127.0.0.1:${listen}`, "--zk-timeout", "2000"],
        { stdio: ["ignore", "pipe", "pipe"], env },
      );
      child = proc;
      let output = "";
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`gateway not listening in 20 s: ${output}`)), 20_000);
        const onData = (chunk: Buffer) => {
          output = (output + chunk.toString()).slice(-4000);
          if (output.includes("listening on")) {
            clearTimeout(timer);
            resolve();
          }
        };
        proc.stdout?.on("data", onData);
        proc.stderr?.on("data", onData);
        proc.once("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`gateway exited (${code}): ${output}`));
        });
      });
    },
    async kill() {
      const proc = child;
      if (!proc) return;
      child = null;
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((resolve) => proc.once("exit", resolve));
      proc.kill("SIGKILL");
      await gone;
    },
  };
}
