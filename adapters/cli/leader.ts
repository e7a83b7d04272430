/** `leasehold leader NAME`: who holds the lease now, read once from the store. */
import { type Env, storeFailure } from "./config.ts";
import { describeLeader, handleOn, leaderFields, parseNameArgs } from "./name-args.ts";
import { LEADER_USAGE } from "./usage.ts";

/** Resolves with the exit code. @throws {CliError} */
export async function leader(argv: readonly string[], env: Env): Promise<number> {
  const args = parseNameArgs("leader", argv, {});
  if (args === "help") {
    process.stdout.write(LEADER_USAGE);
    return 0;
  }
  const { store, lease } = await handleOn(args, env);
  try {
    const info = await lease.leader().catch((error: unknown) => {
      throw storeFailure(`leader of ${args.name}`, error);
    });
    process.stdout.write(
      args.json
        ? `${JSON.stringify({ name: args.name, leader: leaderFields(info) })}\n`
        : `${args.name}: ${describeLeader(info)}\n`,
    );
    return 0;
  } finally {
    await store.backend.close?.();
  }
}
