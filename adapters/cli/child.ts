/**
 * `run`'s side of the child: it starts the supervisor (supervisor.ts) in a new process group, which starts the
 * child in that group, and reports how the child ended. Every signal and the termination go to the whole group,
 * so that nothing the child started outlives the term; after the supervisor has exited, whatever is left in the
 * group is ended too (SIGTERM, SIGKILL after the grace period).
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { endGroup, signalGroup } from "./group.ts";
import type { Ending, FromSupervisor, ToSupervisor } from "./supervisor.ts";

/** How the child ended. */
export interface ChildEnd {
  /** Its exit code, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the term watch stopped it (see supervisor.ts). */
  ending: Ending | null;
  /** The spawn failed: `ENOENT` (no such command), `EACCES`, … */
  spawnError?: { code: string; message: string };
  /** What was left in the group once the child had exited, and how it ended. */
  leftovers: "gone" | "terminated" | "killed";
}

export interface Child {
  /** The process group's ID (the supervisor's PID). */
  readonly pgid: number;
  readonly ended: Promise<ChildEnd>;
  /** Reports a renewal: the supervisor moves its deadline to `validUntilMs` (local epoch ms). */
  validUntil(validUntilMs: number): void;
  /** Ends the group: SIGTERM, SIGKILL after the grace period. */
  terminate(): void;
  /** Forwards `signal` to the group. */
  signal(signal: NodeJS.Signals): void;
}

export interface ChildOptions {
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  graceMs: number;
  validUntilMs: number;
}

/** The shell's exit code for `end`: the child's code, 128 + the signal number, 127 / 126 when it did not start. */
export function exitCodeOf(end: ChildEnd): number {
  if (end.spawnError) return end.spawnError.code === "ENOENT" ? 127 : 126;
  if (end.code !== null) return end.code;
  return 128 + (end.signal ? (constants.signals[end.signal] ?? 0) : 0);
}

function send(child: ReturnType<typeof spawn>, message: ToSupervisor): void {
  if (child.connected) child.send(message, () => undefined);
}

/** Starts the child under a supervisor. The supervisor runs this same bin (`process.argv[1]`) as `_supervise`. */
export function startChild(options: ChildOptions): Child {
  const supervisor = spawn(
    process.execPath,
    [
      ...process.execArgv,
      process.argv[1] as string,
      "_supervise",
      `--grace-ms=${options.graceMs}`,
      `--valid-until-ms=${options.validUntilMs}`,
      "--",
      options.command,
      ...options.args,
    ],
    { detached: true, stdio: ["inherit", "inherit", "inherit", "ipc"], env: options.env },
  );
  const pgid = supervisor.pid as number;
  let report: FromSupervisor | undefined;
  let backstop: NodeJS.Timeout | undefined;
  supervisor.on("message", (message: FromSupervisor) => {
    report = message;
  });
  // "close" comes after the IPC channel has closed, so every message has arrived by then.
  const ended = new Promise<ChildEnd>((resolve) => {
    supervisor.on("close", async (code, signal) => {
      clearTimeout(backstop);
      const leftovers = await endGroup(pgid, options.graceMs);
      if (report?.type === "spawn-error") {
        resolve({ code: null, signal: null, ending: null, spawnError: report, leftovers });
      } else if (report?.type === "exit") {
        resolve({ code: report.code, signal: report.signal, ending: report.ending, leftovers });
      } else {
        // The supervisor itself was killed (the group's SIGKILL at the end of the grace period, or by hand).
        resolve({ code, signal: signal ?? "SIGKILL", ending: null, leftovers });
      }
    });
  });
  return {
    pgid,
    ended,
    validUntil: (ms) => send(supervisor, { type: "valid-until", ms }),
    terminate: () => {
      send(supervisor, { type: "terminate" });
      // Should the supervisor not act (hung, or its channel gone), end the group from here.
      backstop ??= setTimeout(() => signalGroup(pgid, "SIGKILL"), options.graceMs + 2000);
    },
    signal: (signal) => {
      signalGroup(pgid, signal);
    },
  };
}
