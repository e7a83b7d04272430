/**
 * Spawning the `leasehold` bin as users run it (the pinned Node running adapters/cli/main.ts) against the
 * integration etcd, for the CLI tests: each test file that imports this gets a key prefix of its own.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { inject } from "vitest";
import { etcd } from "../../adapters/etcd/index.ts";
import { createLease } from "../../src/index.ts";

export const MAIN = fileURLToPath(new URL("../../adapters/cli/main.ts", import.meta.url));
export const NODE = process.execPath;
export const endpoint = inject("etcdEndpoint");
export const prefix = `cli-${Date.now()}-${Math.floor(Math.random() * 1e9)}/`;
export const backend = etcd({ endpoints: [endpoint], prefix });
export const lease = (name: string, holder: string) => createLease({ backend, name, holder, ttlMs: 2000 });
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A child program: `node -e <code>`. */
export const nodeChild = (code: string) => ["--", NODE, "-e", code];
/** Prints "ready <pid>", then keeps running; SIGTERM only prints "term" (so only SIGKILL ends it). */
export const STUBBORN = `process.on("SIGTERM", () => console.log("term")); console.log("ready " + process.pid); setInterval(() => {}, 1000);`;

export interface Cli {
  process: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout (or stderr) matches `pattern`; rejects after `timeoutMs` or when the CLI exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number, from?: "stdout" | "stderr"): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

export function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Cli {
  const started = Date.now();
  const child = spawn(NODE, [MAIN, ...args], {
    env: { ...process.env, LEASEHOLD_ETCD_ENDPOINTS: endpoint, LEASEHOLD_ETCD_PREFIX: prefix, ...env },
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

/** Runs the CLI to completion. */
export async function cliRun(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const c = cli(args, env);
  const end = await c.exited;
  return { ...end, stdout: c.stdout(), stderr: c.stderr() };
}

/** True while process `pid` runs (a zombie does not count: some container inits reap late). Linux /proc. */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
  } catch {
    return false;
  }
}

export async function waitUntilGone(pid: number, timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (running(pid)) {
    if (Date.now() > until) throw new Error(`process ${pid} still runs after ${timeoutMs} ms`);
    await sleep(20);
  }
  return Date.now();
}
