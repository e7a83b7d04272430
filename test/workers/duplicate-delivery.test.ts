/**
 * leaderOnlyScheduled's hand-off inside workerd, on the real etcd: a delivery duplicated while the run is under
 * way finds its own holder's term busy and does not run the handler; the next invocation of the holder resumes
 * the parked term; with afterRun "hold" a late duplicate does not run again until the term expires.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { type AfterRun, leaderOnlyScheduled } from "../../adapters/cloudflare/index.ts";
import { etcdFromEnv } from "../../adapters/etcd/index.ts";
import { createLease, type LeaseState } from "../../src/index.ts";

const TTL_MS = 2000;

/**
 * A wrapped handler for `name` with holder "region-eu" that records its runs and skipped invocations. With
 * `overlap`, a run lasts until an invocation has been turned away, so that two deliveries overlap for sure.
 */
function job(name: string, afterRun: AfterRun, overlap = false) {
  const runs: LeaseState[] = [];
  const skipped: LeaseState[] = [];
  let turnedAway!: () => void;
  const firstSkip = new Promise<void>((resolve) => {
    turnedAway = resolve;
  });
  const scheduled = leaderOnlyScheduled<Cloudflare.Env>(
    {
      name,
      ttlMs: TTL_MS,
      holder: "region-eu",
      afterRun,
      onNotLeader: (state) => {
        skipped.push(state);
        turnedAway();
      },
    },
    async (_controller, _env, _ctx, run) => {
      runs.push(run.state);
      if (overlap) await firstSkip;
    },
  );
  const deliver = async () => {
    const ctx = createExecutionContext();
    const controller = createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() });
    await scheduled(controller, env, ctx);
    await waitOnExecutionContext(ctx);
  };
  return { runs, skipped, deliver };
}

const leader = (name: string) =>
  createLease({ backend: etcdFromEnv({ ...env }), name, holder: "reader", ttlMs: TTL_MS }).leader();

it("runs the handler once for two deliveries at once with one holder, then resumes the parked term", async () => {
  const { runs, skipped, deliver } = job("workerd/duplicate", "park", true);
  await Promise.all([deliver(), deliver()]);
  expect(runs).toHaveLength(1);
  expect(skipped).toEqual([
    expect.objectContaining({ isLeader: false, busy: true, holder: "region-eu", token: runs[0]?.token }),
  ]);
  expect(await leader("workerd/duplicate")).toMatchObject({ holder: "region-eu", parked: true });

  // The overlap wait is over (one invocation was turned away): the next delivery runs at once.
  await deliver();
  expect(runs.map((s) => s.token)).toEqual([runs[0]?.token, runs[0]?.token]);
  expect(skipped).toHaveLength(1);
});

it('keeps the term busy after a run with afterRun "hold": a late duplicate does not run until it expires', async () => {
  const { runs, skipped, deliver } = job("workerd/hold", "hold");
  await deliver();
  await deliver();
  expect(runs).toHaveLength(1);
  expect(skipped).toEqual([expect.objectContaining({ busy: true, holder: "region-eu" })]);
  expect(await leader("workerd/hold")).toMatchObject({ holder: "region-eu", parked: false });
  // One TTL plus etcd's expiry slack (up to 500 ms) after the claim, the term is gone.
  await new Promise((resolve) => setTimeout(resolve, TTL_MS + 1000));
  await deliver();
  expect(runs).toHaveLength(2);
  expect(runs[1]?.token).toBeGreaterThan(runs[0]?.token as bigint);
}, 15_000);
