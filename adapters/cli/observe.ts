/**
 * `leasehold observe NAME`: one line now and one per change of the lease's term (holder, token, lease, busy or
 * parked), until SIGINT or SIGTERM. The library has no watch yet, so it polls `leader()`: one read-only request
 * per interval. A failed read is a change to "unknown" (never a guess about who leads).
 */
import { setTimeout as delay } from "node:timers/promises";
import { isLeaseError } from "../../src/index.ts";
import type { Env } from "./config.ts";
import { parseDurationMs } from "./duration.ts";
import { describeLeader, handleOn, leaderFields, parseNameArgs } from "./name-args.ts";
import { jsonLine } from "./output.ts";
import { OBSERVE_USAGE } from "./usage.ts";

/** Resolves with the exit code (0 once interrupted). @throws {CliError} */
export async function observe(argv: readonly string[], env: Env): Promise<number> {
  const args = parseNameArgs("observe", argv, { interval: { type: "string", default: "1s" } });
  if (args === "help") {
    process.stdout.write(OBSERVE_USAGE);
    return 0;
  }
  const intervalMs = Math.max(1, parseDurationMs(String(args.values.interval), "--interval"));
  const { store, lease } = await handleOn(args, env);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let last: string | undefined;
  try {
    while (!stop.signal.aborted) {
      let line: { key: string; fields: Record<string, unknown>; text: string };
      try {
        const info = await lease.leader({ signal: stop.signal });
        const fields = leaderFields(info);
        line = { key: JSON.stringify(fields), fields: { leader: fields }, text: describeLeader(info) };
      } catch (error) {
        if (stop.signal.aborted) break;
        const code = isLeaseError(error) ? error.code : "ERROR";
        const message = error instanceof Error ? error.message : String(error);
        line = {
          key: `error:${code}`,
          fields: { leader: "unknown", code, message },
          text: `unknown (${message})`,
        };
      }
      if (line.key !== last) {
        last = line.key;
        process.stdout.write(
          args.json
            ? jsonLine("leader", { name: args.name, ...line.fields })
            : `${new Date().toISOString()} ${args.name}: ${line.text}\n`,
        );
      }
      await delay(intervalMs, undefined, { signal: stop.signal }).catch(() => undefined);
    }
    return 0;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await store.backend.close?.();
  }
}
