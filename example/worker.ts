/**
 * The example Worker (wrangler.toml): the Hono app for HTTP, and a cron trigger whose handler runs only on the
 * lease holder. Bindings: `LEASEHOLD_ETCD_ENDPOINTS` (and optionally `LEASEHOLD_ETCD_PREFIX`), `CRON_HOLDER`.
 */
import { leaderOnlyScheduled } from "leasehold/cloudflare";
import { app } from "./app.ts";
import type { Env } from "./env.ts";
import { CRON_LEASE } from "./leases.ts";
import { runReport } from "./report.ts";

const scheduled = leaderOnlyScheduled<Env>(
  {
    name: CRON_LEASE,
    // One holder per deployment: a duplicated delivery finds the term busy and skips, and each run parks the
    // term for this deployment's next tick. The TTL outlasts the 5-minute cron interval, so the next tick
    // resumes the term; if this deployment stops firing, another one takes over once the term expires.
    holder: (_controller, env) => env.CRON_HOLDER,
    ttlMs: 6 * 60_000,
    afterRun: "park",
  },
  async (_controller, _env, _ctx, run) => {
    await runReport(run.lease, run.state.token ?? 0n, "cron");
  },
);

export default {
  fetch: app.fetch,
  scheduled,
} satisfies ExportedHandler<Env>;
