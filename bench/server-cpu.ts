/**
 * CPU time the etcd process has used, from `/proc/<pid>/stat` (utime + stime, in clock ticks). Linux only:
 * elsewhere it reports null and the report leaves the column empty. Resolution is one tick (usually 10 ms),
 * fine over cells of a second or more.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

function ticksPerSecond(): number {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
}

/** A reader of `pid`'s CPU time in µs, or null when /proc is not there. */
export function processCpu(pid: number | undefined): (() => number) | null {
  const path = `/proc/${pid}/stat`;
  const read = () => {
    // The command name (field 2) may contain spaces; fields after its closing parenthesis are fixed.
    const fields = readFileSync(path, "utf8").split(")").pop()?.trim().split(" ") ?? [];
    return Number(fields[11]) + Number(fields[12]);
  };
  try {
    read();
  } catch {
    return null;
  }
  const usPerTick = 1e6 / ticksPerSecond();
  return () => read() * usPerTick;
}
