/**
 * The supervisor: the process between `leasehold run` and its child, so that the child never outlives its term
 * unwatched. `run` spawns it detached (a new process group, whose ID is the supervisor's PID) with an IPC
 * channel; it spawns the child inside that group and reports the child's exit. It ends the group itself
 * (SIGTERM, then SIGKILL after the grace period) when
 *
 * - `run` asks it to (the term was lost or expired);
 * - the term's `validUntil` passes without `run` reporting a renewal (`run` is frozen, e.g. SIGSTOP or swapped
 *   out, and cannot act);
 * - the IPC channel closes: `run` died, even by SIGKILL (the kernel closes its end).
 *
 * Signals to the group (forwarded by `run`) are meant for the child: the supervisor ignores them.
 */
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";

/** Messages from `run`. */
export type ToSupervisor = { type: "valid-until"; ms: number } | { type: "terminate" };

/** How the term watch ended the child, if it did: asked by `run`, at `validUntil`, or with `run` gone. */
export type Ending = "requested" | "valid-until" | "orphaned";

/** Messages to `run`. */
export type FromSupervisor =
  | { type: "exit"; code: number | null; signal: NodeJS.Signals | null; ending: Ending | null }
  | { type: "spawn-error"; code: string; message: string };

/** Entry point of `leasehold _supervise --grace-ms N --valid-until-ms N -- CMD [ARGS…]` (internal). */
export function supervise(argv: string[]): void {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { "grace-ms": { type: "string" }, "valid-until-ms": { type: "string" } },
    allowPositionals: true,
  });
  const graceMs = Number(values["grace-ms"]);
  const [command, ...args] = positionals;
  const send = process.send?.bind(process);
  if (!send || command === undefined || !(graceMs >= 0)) {
    process.stderr.write("leasehold _supervise is internal to leasehold run\n");
    process.exit(64);
  }
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => undefined);

  let ending: Ending | null = null;
  let deadline: NodeJS.Timeout | undefined;
  const group = (signal: NodeJS.Signals) => {
    try {
      process.kill(-process.pid, signal);
    } catch {
      // The group is gone: nothing left to end.
    }
  };
  const end = (why: Ending) => {
    if (ending) return;
    ending = why;
    clearTimeout(deadline);
    group("SIGTERM");
    // SIGKILL reaches this process too: with `run` gone, that is how the supervisor ends.
    setTimeout(() => group("SIGKILL"), graceMs);
  };
  const watch = (validUntilMs: number) => {
    clearTimeout(deadline);
    deadline = setTimeout(() => end("valid-until"), Math.max(0, validUntilMs - Date.now()));
  };
  watch(Number(values["valid-until-ms"]));

  const child = spawn(command, args, { stdio: "inherit" });
  process.on("message", (message: ToSupervisor) => {
    if (message.type === "valid-until" && !ending) watch(message.ms);
    if (message.type === "terminate") end("requested");
  });
  process.on("disconnect", () => end("orphaned"));
  child.on("error", (error: NodeJS.ErrnoException) => {
    const report: FromSupervisor = { type: "spawn-error", code: error.code ?? "", message: error.message };
    send(report, () => process.exit(0));
  });
  child.on("exit", (code, signal) => {
    clearTimeout(deadline);
    const report: FromSupervisor = { type: "exit", code, signal, ending };
    // When `run` cannot act (gone, or frozen past validUntil), stay until the SIGKILL at the end of the grace
    // period, for whatever the child left running in the group; otherwise `run` cleans the group up.
    const stay = ending === "orphaned" || ending === "valid-until";
    if (process.connected) send(report, () => stay || process.exit(0));
  });
}
