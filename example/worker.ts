/**
 * The example Worker (wrangler.toml): the Hono app for HTTP, and a cron trigger whose handler runs only on the
 * lease holder. Bindings: `LEASEHOLD_ETCD_ENDPOINTS` (and optionally `LEASEHOLD_ETCD_PREFIX`).
 */
import { leaderOnlyScheduled } from "leasehold/cloudflare";
import { app } from "./app.ts";
import type { Env } from "./env.ts";
import { CRON_LEASE } from "./leases.ts";
import { runReport } from "./report.ts";

const scheduled = leaderOnlyScheduled<Env>(
  // The lease outlives the run ("keep", the default): a duplicate event for the same tick finds it held.
  { name: CRON_LEASE, ttlMs: 30_000 },
  async (_controller, _env, _ctx, run) => {
    await runReport(run.lease, run.state.token ?? 0n, "cron");
  },
);

export default {
  fetch: app.fetch,
  scheduled,
} satisfies ExportedHandler<Env>;
