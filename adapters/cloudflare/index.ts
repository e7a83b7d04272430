/**
 * `leasehold/cloudflare`: run a Cloudflare Worker's cron (`scheduled`) handler only on the lease holder.
 *
 * ```ts
 * import { leaderOnlyScheduled } from "leasehold/cloudflare";
 *
 * export default {
 *   scheduled: leaderOnlyScheduled({ name: "cron/report", ttlMs: 60_000 }, async (controller, env, ctx, run) => {
 *     await run.lease.doIfLeader([{ type: "put", key: "reports/last", value: String(controller.scheduledTime) }]);
 *   }),
 * };
 * ```
 */
export type { AfterRun, LeaderOnlyScheduledOptions } from "./options.ts";
export {
  type LeaderRun,
  type LeaderScheduledHandler,
  leaderOnlyScheduled,
} from "./scheduled.ts";
export type { ExecutionContextLike, ScheduledControllerLike } from "./workers.ts";
