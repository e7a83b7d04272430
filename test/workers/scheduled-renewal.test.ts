/**
 * leaderOnlyScheduled's renewal timer inside workerd, on the real etcd and in real time: a job that runs for more
 * than twice the TTL keeps its term, a competing invocation meanwhile is refused, and its guarded write at the
 * end still commits.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { leaderOnlyScheduled } from "../../adapters/cloudflare/index.ts";
import { etcdFromEnv } from "../../adapters/etcd/index.ts";
import { createLease, type TxnOutcome } from "../../src/index.ts";

const TTL_MS = 2000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it("renews during a job longer than twice the TTL, then releases", async () => {
  const outcomes: { outcome: TxnOutcome; aborted: boolean }[] = [];
  const skipped: (string | null)[] = [];
  const scheduled = leaderOnlyScheduled<Cloudflare.Env>(
    {
      name: "workerd/long-job",
      ttlMs: TTL_MS,
      afterRun: "release",
      onNotLeader: (state) => skipped.push(state.holder),
    },
    async (_controller, _env, _ctx, run) => {
      await sleep(2.25 * TTL_MS);
      const outcome = await run.lease.doIfLeader([
        { type: "put", key: "workerd/long-job/done", value: "yes" },
      ]);
      outcomes.push({ outcome, aborted: run.signal.aborted });
    },
  );
  const controller = () => createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() });

  const firstCtx = createExecutionContext();
  const first = scheduled(controller(), env, firstCtx);
  // Past the first term's TTL (+ etcd's 500 ms slack): without renewals the lease would be free by now.
  await sleep(TTL_MS + 1000);
  const secondCtx = createExecutionContext();
  await scheduled(controller(), env, secondCtx);
  expect(skipped).toHaveLength(1);
  expect(skipped[0]).toMatch(/^cron-/);

  await first;
  await Promise.all([waitOnExecutionContext(firstCtx), waitOnExecutionContext(secondCtx)]);
  expect(outcomes).toEqual([{ outcome: { applied: true, results: [{ type: "put" }] }, aborted: false }]);
  const reader = createLease({
    backend: etcdFromEnv({ ...env }),
    name: "workerd/long-job",
    holder: "r",
    ttlMs: TTL_MS,
  });
  expect(await reader.leader()).toBeNull();
}, 15_000);
