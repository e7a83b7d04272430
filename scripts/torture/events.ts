/**
 * What torture workers write to their logs: one JSON object per line, appended and flushed at once
 * (appendFileSync), so that a worker killed with SIGKILL loses nothing it was told. Every line carries the
 * local wall time `t` (epoch ms, one machine, one clock), the worker `w` and the handle `h` the event is about
 * (a handle is one invocation of an invoker, or one elector's lease).
 */
import { appendFileSync } from "node:fs";

export interface WorkerConfig {
  /** Worker ID, unique in the run, usable in a key: letters, digits and "-". */
  id: string;
  role: "invoker" | "elector";
  store: "etcd" | "zookeeper";
  /** etcd client URLs, or the ZooKeeper gateway's URL (one). */
  endpoints: string[];
  transport: "fetch" | "undici";
  holder: string;
  /** The lease name. */
  name: string;
  ttlMs: number;
  /** Where guarded writes go: `<writePrefix>/<worker>-<pid>-<seq>`. */
  writePrefix: string;
  /** Electors: when set, keep every term as long as the store lets it (never stop after a few writes). */
  steady?: boolean;
  /** Invokers: the cron period in ms (invocations start on multiples of it, so duplicates start together). */
  periodMs: number;
  log: string;
}

/** One line of a worker's log. Tokens, lease IDs and holds are decimal strings (exact int64). */
export type WorkerEvent = { t: number; w: string; pid: number; h: string } & (
  | { ev: "start"; role: string; holder: string; transport: string }
  | {
      ev: "claim" | "renew";
      sentAt: number;
      isLeader: boolean;
      busy: boolean;
      holder: string | null;
      token: string | null;
      leaseId: string | null;
      validUntil: number | null;
      hold: string | null;
    }
  | { ev: "write-sent"; key: string; token: string; hold: string }
  | { ev: "write"; key: string; applied: boolean; reason?: string }
  | { ev: "park-sent" | "release-sent" | "park" | "release" | "demoted"; reason?: string }
  | {
      ev: "error";
      op: string;
      typed: boolean;
      code: string;
      retryable: boolean;
      message: string;
      key?: string;
    }
);

/** What a guarded write stores (as its value): the term and hold it names. */
export interface WriteValue {
  w: string;
  h: string;
  token: string;
  hold: string;
}

type Body = WorkerEvent extends infer E ? (E extends unknown ? Omit<E, "t" | "w" | "pid"> : never) : never;

/** A logger that appends one line per event to `file` and flushes it before returning. */
export function eventLog(file: string, worker: string): (event: Body) => void {
  return (event) => {
    appendFileSync(file, `${JSON.stringify({ t: Date.now(), w: worker, pid: process.pid, ...event })}\n`);
  };
}
