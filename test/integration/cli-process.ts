/**
 * The `leasehold` bin as a child process (the pinned Node running adapters/cli/main.ts), with its output
 * collected, for the CLI tests on etcd (cli-harness.ts) and on ZooKeeper (zookeeper-cli.test.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const MAIN = fileURLToPath(new URL("../../adapters/cli/main.ts", import.meta.url));
export const NODE = process.execPath;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Cli {
  process: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout (or stderr) matches `pattern`; rejects after `timeoutMs` or when the CLI exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number, from?: "stdout" | "stderr"): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

/** Spawns the CLI with `args`, in this process's environment plus `env`. */
export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Cli {
  const started = Date.now();
  const child = spawn(NODE, [MAIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, ms: Date.now() - started })),
  );
  const waitFor = async (pattern: RegExp, timeoutMs = 5000, from: "stdout" | "stderr" = "stdout") => {
    const until = Date.now() + timeoutMs;
    let done = false;
    void exited.then(() => {
      done = true;
    });
    for (;;) {
      const match = pattern.exec(from === "stdout" ? out : err);
      if (match) return match;
      if (done || Date.now() > until) throw new Error(`no ${pattern} in stdout ${out} / stderr ${err}`);
      await sleep(20);
    }
  };
  return { process: child, stdout: () => out, stderr: () => err, waitFor, exited };
}
