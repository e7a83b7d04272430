/**
 * The torture workers of one scenario as child processes (worker.ts run by this Node): started, killed with
 * SIGKILL and started again with the same configuration, stopped and resumed (SIGSTOP/SIGCONT). A worker that
 * exits by itself crashed: that is recorded, and it is started again.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { WorkerConfig } from "./events.ts";

const WORKER = fileURLToPath(new URL("./worker.ts", import.meta.url));

interface Running {
  config: WorkerConfig;
  child: ChildProcess | null;
  stopped: boolean;
  stderr: string;
}

export class WorkerPool {
  readonly #workers: Running[];
  readonly crashes: string[] = [];
  #closing = false;

  constructor(configs: readonly WorkerConfig[]) {
    this.#workers = configs.map((config) => ({ config, child: null, stopped: false, stderr: "" }));
  }

  get ids(): string[] {
    return this.#workers.map((w) => w.config.id);
  }

  #spawn(w: Running): void {
    const child = spawn(process.execPath, [WORKER, JSON.stringify(w.config)], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    w.child = child;
    w.stopped = false;
    child.stderr?.on("data", (chunk: Buffer) => {
      w.stderr = (w.stderr + chunk.toString()).slice(-4000);
    });
    child.once("exit", (code, signal) => {
      if (w.child !== child) return;
      w.child = null;
      if (this.#closing) return;
      this.crashes.push(`${w.config.id} exited by itself (${code ?? signal}): ${w.stderr}`);
      this.#spawn(w);
    });
  }

  startAll(): void {
    for (const w of this.#workers) this.#spawn(w);
  }

  #find(id: string): Running {
    const w = this.#workers.find((x) => x.config.id === id);
    if (!w) throw new RangeError(`no worker ${id}`);
    return w;
  }

  /** SIGKILL, then a new process with the same configuration after `downMs`. */
  async kill9(id: string, downMs: number): Promise<void> {
    const w = this.#find(id);
    const child = w.child;
    w.child = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await gone;
    }
    await new Promise((resolve) => setTimeout(resolve, downMs));
    if (!this.#closing) this.#spawn(w);
  }

  /** SIGSTOP for `ms`, then SIGCONT. */
  async pause(id: string, ms: number): Promise<void> {
    const w = this.#find(id);
    const child = w.child;
    if (!child) return;
    child.kill("SIGSTOP");
    w.stopped = true;
    await new Promise((resolve) => setTimeout(resolve, ms));
    if (w.child === child) child.kill("SIGCONT");
    w.stopped = false;
  }

  /**
   * The workers that were leading a term a moment ago, by the tail of their logs (the last leader answer
   * whose validUntil is still ahead).
   */
  leading(): string[] {
    const now = Date.now();
    return this.#workers
      .filter((w) => {
        const lines = tail(w.config.log, 4096).split("\n").reverse();
        for (const line of lines) {
          if (!line.includes('"validUntil"')) continue;
          try {
            const e = JSON.parse(line) as { isLeader?: boolean; validUntil?: number | null };
            return e.isLeader === true && (e.validUntil ?? 0) > now;
          } catch {
            // The first line of a tail is usually cut short.
          }
        }
        return false;
      })
      .map((w) => w.config.id);
  }

  /** SIGKILLs every worker (a stopped one too) and waits for them to exit. */
  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(
      this.#workers.map(async (w) => {
        const child = w.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const gone = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGKILL");
        await gone;
      }),
    );
  }
}

function tail(file: string, bytes: number): string {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return "";
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, bytes);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString("utf8");
  } finally {
    closeSync(fd);
  }
}
