/**
 * Runs etcd's own Go client, `etcdctl` (API v3), against one endpoint: short commands to completion, and
 * long-running ones (`elect`) as child processes whose output lines can be awaited. The binary is
 * `LEASEHOLD_ETCDCTL_BIN`, else `etcdctl` on PATH (`scripts/setup.sh etcdctl` installs Debian's etcd-client).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { promisify } from "node:util";

export function etcdctlBinary(): string {
  return process.env.LEASEHOLD_ETCDCTL_BIN || "etcdctl";
}

const env = () => ({ ...process.env, ETCDCTL_API: "3" });

/** Runs `etcdctl --endpoints=<endpoint> <args>` to completion and returns its stdout. */
export async function etcdctl(
  endpoint: string,
  args: readonly string[],
  timeoutMs = 10_000,
): Promise<string> {
  const { stdout } = await promisify(execFile)(etcdctlBinary(), [`--endpoints=${endpoint}`, ...args], {
    env: env(),
    timeout: timeoutMs,
  });
  return stdout;
}

export interface EtcdctlProcess {
  process: ChildProcess;
  /** Every complete line it has printed on stdout so far. */
  lines(): readonly string[];
  /**
   * Resolves with all lines once at least `count` have been printed.
   * @throws {Error} after `timeoutMs` ms, or when the process exits first; the message quotes its output.
   */
  waitForLines(count: number, timeoutMs: number): Promise<readonly string[]>;
  /** Stops it with SIGTERM (etcdctl elect then resigns), SIGKILL after 5 s; resolves once it has exited. */
  stop(): Promise<void>;
}

/** Starts a long-running `etcdctl --endpoints=<endpoint> <args>`, e.g. `elect <election> <proposal>`. */
export function spawnEtcdctl(endpoint: string, args: readonly string[]): EtcdctlProcess {
  const child = spawn(etcdctlBinary(), [`--endpoints=${endpoint}`, ...args], {
    env: env(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  let partial = "";
  let stderr = "";
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const wake of waiters) wake();
  };
  child.stdout?.on("data", (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
    notify();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  let ended = false;
  const exited = new Promise<void>((resolve) => {
    const end = () => {
      ended = true;
      resolve();
      notify();
    };
    child.once("exit", end);
    child.once("error", (error) => {
      stderr += String(error);
      end();
    });
  });
  const done = () => ended;
  const describe = () => `etcdctl ${args.join(" ")}: stdout ${JSON.stringify(lines)}, stderr ${stderr}`;

  return {
    process: child,
    lines: () => lines,
    waitForLines(count, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (lines.length >= count) finish(() => resolve([...lines]));
          else if (done()) finish(() => reject(new Error(`exited before ${count} lines; ${describe()}`)));
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`no ${count} lines within ${timeoutMs} ms; ${describe()}`))),
          timeoutMs,
        );
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (!done()) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
