/** The flags of `leasehold run`, parsed with `node:util` parseArgs and checked. */
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { CONNECTION_OPTIONS, type ConnectionFlags } from "./config.ts";
import { parseDurationMs } from "./duration.ts";
import { usageError } from "./exit.ts";

export interface RunArgs {
  name: string;
  holder: string;
  ttlMs: number;
  /** How long `--wait` waits, in ms (Infinity without a duration); undefined: try once. */
  waitMs: number | undefined;
  graceMs: number;
  /** `--keep`: park the term when the child exits; else release it. */
  keep: boolean;
  json: boolean;
  verbose: boolean;
  connection: ConnectionFlags;
  command: string;
  args: string[];
}

const RUN_OPTIONS = {
  ...CONNECTION_OPTIONS,
  name: { type: "string" },
  holder: { type: "string" },
  ttl: { type: "string", default: "15s" },
  wait: { type: "string" },
  grace: { type: "string", default: "10s" },
  release: { type: "boolean", default: false },
  keep: { type: "boolean", default: false },
} as const;

/**
 * parseArgs has no option with an optional value, so a bare `--wait` (before `--`) is passed as `--wait=`,
 * which means: wait without a limit.
 */
function bareWait(argv: readonly string[]): string[] {
  const end = argv.indexOf("--");
  return argv.map((arg, i) => (arg === "--wait" && (end < 0 || i < end) ? "--wait=" : arg));
}

/**
 * Parses `run`'s arguments; "help" for `--help`.
 * @throws {CliError} exit 64, naming the flag: unknown flags, a missing `--name` or command, a bad duration,
 *   `--keep` with `--release`, or `--keep` without `--holder`.
 */
export function parseRunArgs(argv: readonly string[]): RunArgs | "help" {
  let parsed: ReturnType<
    typeof parseArgs<{ options: typeof RUN_OPTIONS; tokens: true; allowPositionals: true }>
  >;
  try {
    parsed = parseArgs({ args: bareWait(argv), options: RUN_OPTIONS, allowPositionals: true, tokens: true });
  } catch (error) {
    throw usageError("run", (error as Error).message);
  }
  const { values, tokens } = parsed;
  if (values.help) return "help";
  const terminator = tokens.find((t) => t.kind === "option-terminator")?.index ?? Number.POSITIVE_INFINITY;
  const early = tokens.find((t) => t.kind === "positional" && t.index < terminator);
  if (early?.kind === "positional") {
    const before = tokens[tokens.indexOf(early) - 1];
    if (before?.kind === "option" && before.name === "wait" && before.value === "") {
      throw usageError("--wait", `takes its duration after "=", e.g. --wait=${early.value}`);
    }
    throw usageError("run", `unexpected argument ${JSON.stringify(early.value)}: put the command after --`);
  }
  const [command, ...args] = parsed.positionals;
  if (values.name === undefined)
    throw usageError("--name", "is required (the lease name, e.g. jobs/nightly)");
  if (command === undefined) throw usageError("run", "needs a command after --, e.g. -- ./backup.sh");
  if (values.keep && values.release) throw usageError("--keep", "cannot be used with --release");
  if (values.keep && values.holder === undefined) {
    throw usageError("--keep", "needs --holder: only a run with the same holder resumes the parked term");
  }
  return {
    name: values.name,
    holder: values.holder ?? `${hostname()}-${process.pid}`,
    ttlMs: parseDurationMs(values.ttl, "--ttl"),
    waitMs:
      values.wait === undefined
        ? undefined
        : values.wait === ""
          ? Number.POSITIVE_INFINITY
          : parseDurationMs(values.wait, "--wait"),
    graceMs: parseDurationMs(values.grace, "--grace"),
    keep: values.keep,
    json: values.json,
    verbose: values.verbose,
    connection: { endpoints: values.endpoints, prefix: values.prefix, zookeeper: values.zookeeper },
    command,
    args,
  };
}
