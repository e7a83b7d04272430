/**
 * `leasehold observe NAME`: one line per change of the lease's term (holder, token, lease, busy or parked) as the
 * library's `observe()` reports it, and one per change of how it learns them (`watch`: etcd's `/v3/watch`;
 * `poll`: `leader()` every interval, on ZooKeeper or while the watch cannot be kept), until SIGINT or SIGTERM.
 * A failed read is a line "unknown" (never a guess about who leads); the observation then starts again after the
 * interval, so that its first reading prints the term again even when it did not change meanwhile.
 */
import { setTimeout as delay } from "node:timers/promises";
import { type Backend, type ObserveEvent, observe as observeLease } from "../../src/backend-kit.ts";
import type { Env } from "./config.ts";
import { parseDurationMs } from "./duration.ts";
import { usageError } from "./exit.ts";
import { describeLeader, handleOn, leaderFields, parseNameArgs } from "./name-args.ts";
import { jsonLine } from "./output.ts";
import { OBSERVE_USAGE } from "./usage.ts";

interface Line {
  /** Lines of equal keys in a row are printed once. */
  key: string;
  event: string;
  fields: Record<string, unknown>;
  text: string;
}

function lineOf(event: ObserveEvent): Line {
  if (event.type === "mode") {
    const verb = event.mode === "watch" ? "watching" : "polling";
    return {
      key: `mode:${event.mode}`,
      event: "mode",
      fields: { mode: event.mode, reason: event.reason, ...(event.error ? { code: event.error.code } : {}) },
      text: `${verb}: ${event.reason}`,
    };
  }
  if (event.type === "error") {
    const { code, message } = event.error;
    return {
      key: `error:${code}`,
      event: "leader",
      fields: { leader: "unknown", code, message },
      text: `unknown (${message})`,
    };
  }
  const fields = leaderFields(event.leader);
  return {
    key: `leader:${JSON.stringify(fields)}`,
    event: "leader",
    fields: { leader: fields, mode: event.mode, revision: event.revision },
    text: describeLeader(event.leader),
  };
}

/**
 * Prints the lines of observations of `name` until `signal` aborts: after a failed read, a new observation
 * starts once `intervalMs` has passed.
 */
async function follow(
  backend: Backend,
  name: string,
  intervalMs: number,
  signal: AbortSignal,
  print: (line: Line) => void,
): Promise<void> {
  let lastMode = "";
  let lastTerm = "";
  while (!signal.aborted) {
    for await (const event of observeLease(backend, name, { signal, pollIntervalMs: intervalMs })) {
      const line = lineOf(event);
      if (event.type === "mode") {
        if (line.key !== lastMode) print(line);
        lastMode = line.key;
        continue;
      }
      if (line.key !== lastTerm) print(line);
      lastTerm = line.key;
      if (event.type === "error") break;
    }
    await delay(intervalMs, undefined, { signal }).catch(() => undefined);
  }
}

/** Resolves with the exit code (0 once interrupted). @throws {CliError} */
export async function observe(argv: readonly string[], env: Env): Promise<number> {
  const args = parseNameArgs("observe", argv, { interval: { type: "string", default: "1s" } });
  if (args === "help") {
    process.stdout.write(OBSERVE_USAGE);
    return 0;
  }
  const intervalMs = parseDurationMs(String(args.values.interval), "--interval");
  if (intervalMs < 10 || intervalMs > 3_600_000) throw usageError("--interval", "must be from 10ms to 1h");
  const { store, lease } = await handleOn(args, env);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const print = (line: Line) =>
    process.stdout.write(
      args.json
        ? jsonLine(line.event, { name: args.name, ...line.fields })
        : `${new Date().toISOString()} ${args.name}: ${line.text}\n`,
    );
  try {
    await follow(store.backend, lease.name, intervalMs, stop.signal, print);
    return 0;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await store.backend.close?.();
  }
}
