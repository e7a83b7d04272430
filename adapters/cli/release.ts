/**
 * `leasehold release NAME --holder ID`: ends ID's parked term (what `run --keep` leaves), so that anyone may
 * claim at once. The library's `release()` without a held term does exactly that, guarded: a busy term (a run
 * holds it) and another holder's term are left alone. Reads before and after only to say what happened.
 */
import { type Env, storeFailure } from "./config.ts";
import { EXIT_HELD, usageError } from "./exit.ts";
import { describeLeader, handleOn, leaderFields, parseNameArgs } from "./name-args.ts";
import { jsonLine } from "./output.ts";
import { RELEASE_USAGE } from "./usage.ts";

/** Resolves with the exit code: 0 released or nothing to release, 75 the term is busy. @throws {CliError} */
export async function release(argv: readonly string[], env: Env): Promise<number> {
  const args = parseNameArgs("release", argv, { holder: { type: "string" } });
  if (args === "help") {
    process.stdout.write(RELEASE_USAGE);
    return 0;
  }
  const holder = args.values.holder;
  if (typeof holder !== "string") throw usageError("--holder", "is required: whose parked term to end");
  const { store, lease } = await handleOn(args, env, holder);
  const say = (event: string, fields: Record<string, unknown>, text: string) =>
    process.stdout.write(
      args.json ? jsonLine(event, { name: args.name, ...fields }) : `${args.name}: ${text}\n`,
    );
  try {
    const before = await lease.leader().catch((error: unknown) => {
      throw storeFailure(`leader of ${args.name}`, error);
    });
    if (before?.holder === holder && !before.parked) {
      say("busy", { leader: leaderFields(before) }, `not released: ${describeLeader(before)}`);
      return EXIT_HELD;
    }
    await lease.release().catch((error: unknown) => {
      throw storeFailure(`release of ${args.name}`, error);
    });
    const after = await lease.leader().catch(() => null);
    const ended = before?.holder === holder && after?.token !== before.token;
    say(
      ended ? "released" : "nothing-to-release",
      { holder, leader: leaderFields(after) },
      ended
        ? `released the parked term of ${holder} (token ${before.token})`
        : `nothing of ${holder} to release; ${describeLeader(after)}`,
    );
    return 0;
  } finally {
    await store.backend.close?.();
  }
}
