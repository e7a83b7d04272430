/**
 * The example's HTTP side: a cron endpoint for an HTTP scheduler (Vercel Cron, Cloud Scheduler, or several of
 * them). Each call competes for the lease; only the holder runs the report, the others get 503 + Retry-After.
 * Every request has its own random holder, so nobody could resume a parked term: the term is held until it
 * expires, and a duplicate call within the TTL is refused.
 */
import { Hono } from "hono";
import { etcdFromEnv } from "leasehold/etcd";
import { requireLeader } from "leasehold/hono";
import type { Env } from "./env.ts";
import { HTTP_LEASE } from "./leases.ts";
import { runReport } from "./report.ts";

export const app = new Hono<{ Bindings: Env }>();

app.post(
  "/cron/report",
  requireLeader<Env>({
    backend: (c) => etcdFromEnv(c.env),
    name: HTTP_LEASE,
    ttlMs: 30_000,
    afterResponse: "hold",
  }),
  async (c) => {
    const { lease, leaseHandle } = c.var;
    const outcome = await runReport(leaseHandle, lease.token ?? 0n, "http");
    return c.json({ ran: outcome.applied, holder: lease.holder, token: lease.token?.toString() }, 200);
  },
);
