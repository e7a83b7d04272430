/**
 * Spawning the `leasehold` bin as users run it (the pinned Node running adapters/cli/main.ts) against the
 * integration etcd, for the CLI tests: each test file that imports this gets a key prefix of its own.
 */
import { readFileSync } from "node:fs";
import { inject } from "vitest";
import { etcd } from "../../adapters/etcd/index.ts";
import { createLease } from "../../src/index.ts";

import { type Cli, NODE, spawnCli } from "./cli-process.ts";

export { type Cli, MAIN, NODE } from "./cli-process.ts";
export const endpoint = inject("etcdEndpoint");
export const prefix = `cli-${Date.now()}-${Math.floor(Math.random() * 1e9)}/`;
export const backend = etcd({ endpoints: [endpoint], prefix });
export const lease = (name: string, holder: string) => createLease({ backend, name, holder, ttlMs: 2000 });
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A child program: `node -e <code>`. */
export const nodeChild = (code: string) => ["--", NODE, "-e", code];
/** Prints "ready <pid>", then keeps running; SIGTERM only prints "term" (so only SIGKILL ends it). */
export const STUBBORN = `process.on("SIGTERM", () => console.log("term")); console.log("ready " + process.pid); setInterval(() => {}, 1000);`;

/** Spawns the CLI on the integration etcd, under this file's key prefix. */
export function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Cli {
  return spawnCli(args, { LEASEHOLD_ETCD_ENDPOINTS: endpoint, LEASEHOLD_ETCD_PREFIX: prefix, ...env });
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
