/** Arguments of the subcommands that take one lease NAME: `leader`, `observe`, `release`. */
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import type { LeaderInfo } from "../../src/backend-kit.ts";
import {
  CONNECTION_OPTIONS,
  type ConnectionFlags,
  type Env,
  leaseOn,
  type Store,
  storeFrom,
} from "./config.ts";
import { usageError } from "./exit.ts";

export interface NameArgs {
  name: string;
  values: Record<string, string | boolean | undefined>;
  connection: ConnectionFlags;
  json: boolean;
}

/**
 * Parses `argv` of subcommand `command` with its `options` and the connection flags; "help" for `--help`.
 * @throws {CliError} exit 64: an unknown flag, or not exactly one NAME.
 */
export function parseNameArgs(
  command: string,
  argv: readonly string[],
  options: ParseArgsOptionsConfig,
): NameArgs | "help" {
  let parsed: {
    values: Record<string, string | boolean | (string | boolean)[] | undefined>;
    positionals: string[];
  };
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...CONNECTION_OPTIONS, ...options },
      allowPositionals: true,
    });
  } catch (error) {
    throw usageError(command, (error as Error).message);
  }
  const values = parsed.values as NameArgs["values"];
  if (values.help) return "help";
  const [name, ...rest] = parsed.positionals;
  if (name === undefined || rest.length > 0) throw usageError(command, "takes exactly one lease NAME");
  const text = (key: string) => (typeof values[key] === "string" ? (values[key] as string) : undefined);
  return {
    name,
    values,
    connection: { endpoints: text("endpoints"), prefix: text("prefix"), zookeeper: text("zookeeper") },
    json: values.json === true,
  };
}

/** The store and a handle on `args.name` for reading it (and, with `holder`, releasing that holder's term). */
export async function handleOn(args: NameArgs, env: Env, holder = "leasehold-cli") {
  const store: Store = await storeFrom(args.connection, env);
  const lease = leaseOn(
    store,
    { name: args.name, holder, ttlMs: 15_000 },
    { name: "NAME", holder: "--holder" },
  );
  return { store, lease };
}

/**
 * A term as JSON fields: 64-bit integers as decimal strings. `ttlLeftMs`, when given, is the store's upper bound
 * on the time its lease has left (null: unknown, the store cannot tell or the lease is already gone).
 */
export function leaderFields(info: LeaderInfo | null, ttlLeftMs?: number | null) {
  if (!info) return null;
  return {
    ...(ttlLeftMs === undefined ? {} : { ttlLeftMs }),
    holder: info.holder,
    token: info.token.toString(),
    leaseId: info.leaseId,
    leaseIdHex: BigInt.asUintN(64, BigInt(info.leaseId)).toString(16),
    ttlMs: info.ttlMs,
    parked: info.parked,
    ...(info.value === undefined ? {} : { value: info.value }),
  };
}

/** A term in words: `held by a (token 42, TTL 15s, lease 694d…, busy)`, or `free`. */
export function describeLeader(info: LeaderInfo | null, ttlLeftMs?: number | null): string {
  const f = leaderFields(info);
  if (!f) return "free (no leader)";
  const published = f.ttlMs === null ? "TTL not published" : `TTL ${f.ttlMs / 1000}s`;
  const ttl = typeof ttlLeftMs === "number" ? `${published}, at most ${ttlLeftMs / 1000}s left` : published;
  const state = f.parked ? "parked: no run holds it" : "busy: a run holds it";
  return `held by ${f.holder} (token ${f.token}, ${ttl}, lease ${f.leaseIdHex}, ${state})`;
}
