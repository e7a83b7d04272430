/**
 * `leasehold leader NAME`: who holds the lease now, read once from the store, and the time its lease has left
 * (an upper bound from the store's own figure: etcd's `POST /v3/lease/timetolive`; ZooKeeper cannot tell).
 */
import { deadlineSignal } from "../../src/backend-kit.ts";
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
    const { ttlLeft } = store.backend;
    const ttlLeftMs =
      info && ttlLeft
        ? await ttlLeft
            .call(store.backend, info.leaseId, {
              signal: deadlineSignal(lease.ttlMs / 3),
              timeoutMs: lease.ttlMs / 3,
            })
            .catch((error: unknown) => {
              throw storeFailure(`time left of ${args.name}`, error);
            })
        : null;
    process.stdout.write(
      args.json
        ? `${JSON.stringify({ name: args.name, leader: leaderFields(info, ttlLeftMs) })}\n`
        : `${args.name}: ${describeLeader(info, ttlLeftMs)}\n`,
    );
    return 0;
  } finally {
    await store.backend.close?.();
  }
}
