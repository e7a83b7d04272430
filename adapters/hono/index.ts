/**
 * `leasehold/hono`: Hono middleware that claims a lease per request and guards a route to the lease holder.
 *
 * ```ts
 * import { Hono } from "hono";
 * import { etcdFromEnv } from "leasehold/etcd";
 * import { requireLeader } from "leasehold/hono";
 *
 * type Env = { LEASEHOLD_ETCD_ENDPOINTS: string };
 * const app = new Hono<{ Bindings: Env }>();
 * app.post(
 *   "/cron/report",
 *   requireLeader<Env>({ backend: (c) => etcdFromEnv(c.env), name: "cron/report", ttlMs: 60_000 }),
 *   async (c) => c.json({ token: c.var.lease.token?.toString() }),
 * );
 * ```
 */
export { type LeaseEnv, type LeaseVariables, leaseMiddleware, requireLeader } from "./middleware.ts";
export type { AfterResponse, LeaseRouteOptions, PerRequest, RouteContext } from "./options.ts";
export {
  type LeaseErrorBody,
  leaseErrorResponse,
  leaseErrorStatus,
  type NotLeaderBody,
  notLeaderResponse,
  retryAfterSeconds,
} from "./responses.ts";
