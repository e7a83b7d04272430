/** Supervises a throwaway server process: keeps the tail of its output, and stops it and deletes its data dir. */
import type { ChildProcess } from "node:child_process";
import { rm } from "node:fs/promises";

export interface Supervised {
  /** Resolves once the process has spawned; rejects if it could not. */
  spawned: Promise<void>;
  /** The last 4000 characters the process wrote (stdout and stderr, where piped). */
  output(): string;
  /** Stops the process (SIGTERM, then SIGKILL after 5 s) and deletes `dataDir`. */
  stop(): Promise<void>;
}

export function supervise(child: ChildProcess, dataDir: string): Supervised {
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
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
  return { spawned, output: () => output, stop };
}
