/** Signals to a whole process group: the child of `leasehold run` and everything it started. */
import { readdirSync, readFileSync } from "node:fs";

/** Sends `signal` to process group `pgid`; false when the group is gone (ESRCH). */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

/**
 * True while a process of group `pgid` runs. On Linux, zombies do not count (read from /proc): an orphan's
 * zombie lingers until init reaps it, which some container inits do late or never.
 */
export function groupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((entry) => /^\d+$/.test(entry));
  } catch {
    return true;
  }
  return pids.some((pid) => {
    try {
      // Fields after the command name (which may hold spaces and parentheses): state ppid pgrp …
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return Number(pgrp) === pgid && state !== "Z" && state !== "X";
    } catch {
      return false;
    }
  });
}

/**
 * SIGTERM to group `pgid`, then SIGKILL once `graceMs` ms have passed while any of it is still alive; resolves
 * when the group is gone. Polls every 50 ms: a group has no exit event to wait on.
 */
export async function endGroup(pgid: number, graceMs: number): Promise<"gone" | "terminated" | "killed"> {
  if (!groupAlive(pgid) || !signalGroup(pgid, "SIGTERM")) return "gone";
  const killAt = Date.now() + graceMs;
  while (groupAlive(pgid)) {
    if (Date.now() >= killAt) {
      signalGroup(pgid, "SIGKILL");
      await new Promise((r) => setTimeout(r, 50));
      return "killed";
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return "terminated";
}
