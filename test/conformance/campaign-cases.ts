/**
 * Conformance cases of queued campaigns (`Backend.campaign`), on backends with `capabilities.campaign`: candidates
 * lead in the order they queued, a try-claim never jumps the queue, the first candidate is reported as etcd
 * reports a Go candidate until it writes its term, and a candidate whose lease is gone is told so.
 */
import { describe, expect, it } from "vitest";
import { type Backend, type CampaignStep, type ClaimRequest, LeaseLostError } from "../../src/backend-kit.ts";
import { LEASE_NAME, type SuiteContext } from "./context.ts";

export function campaignCases({ caps, fresh, lease, call, ttlMs, claimId }: SuiteContext): void {
  const queued = caps.campaign ? it : it.skip;
  const queue = (backend: Backend) => backend.campaign as NonNullable<Backend["campaign"]>;
  const request = (holder: string): ClaimRequest => ({ name: LEASE_NAME, holder, ttlMs, claimId: claimId() });
  const wait = () => ({ signal: AbortSignal.timeout(10_000), requestTimeoutMs: 5000 });

  describe("campaign (queued candidates)", () => {
    queued(
      "leads in queue order; a try-claim never jumps the queue; tokens are the candidates' revisions",
      async () => {
        const { backend } = fresh();
        const q = queue(backend);
        const rb = request("b");
        const rc = request("c");
        const b = await q.enqueue(rb, call());
        const c = await q.enqueue(rc, call());
        expect(c.token).toBeGreaterThan(b.token);
        // A retried enqueue finds its own candidate.
        expect((await q.enqueue(rb, call())).token).toBe(b.token);

        const behind = await q.step(rc, c, call());
        expect(behind).toMatchObject({ held: false, leader: { holder: "b", token: b.token, ttlMs: null } });
        expect(await lease(backend, "z").claim()).toMatchObject({
          isLeader: false,
          holder: "b",
          token: b.token,
        });

        const led = await q.step(rb, b, call());
        expect(led).toMatchObject({
          held: true,
          leader: { holder: "b", token: b.token, ttlMs, parked: false },
        });
        expect(await lease(backend, "z").leader()).toMatchObject({ holder: "b", token: b.token, ttlMs });
        // A repeated step (an answer lost) still holds.
        expect(await q.step(rb, b, call())).toMatchObject({ held: true, leader: { token: b.token } });

        const ahead = (behind as Extract<CampaignStep, { held: false }>).ahead;
        const gone = q.waitGone(LEASE_NAME, ahead, wait());
        await backend.release({ ...rb, leaseId: b.leaseId, token: b.token, hold: "0" }, call());
        await gone;
        expect(await q.step(rc, c, call())).toMatchObject({
          held: true,
          leader: { holder: "c", token: c.token },
        });
        await backend.release({ ...rc, leaseId: c.leaseId, token: c.token, hold: "0" }, call());
        expect(await lease(backend, "z").leader()).toBeNull();
      },
    );

    queued("a candidate queues behind a claimed term and leads once it is released", async () => {
      const { backend } = fresh();
      const q = queue(backend);
      const a = lease(backend, "a");
      const held = await a.claim();
      const rb = request("b");
      const b = await q.enqueue(rb, call());
      expect(b.token).toBeGreaterThan(held.token as bigint);
      const behind = await q.step(rb, b, call());
      expect(behind).toMatchObject({ held: false, leader: { holder: "a", token: held.token } });
      await a.release();
      expect(await q.step(rb, b, call())).toMatchObject({ held: true, leader: { holder: "b" } });
      await backend.release({ ...rb, leaseId: b.leaseId, token: b.token, hold: "0" }, call());
    });

    queued("a step of a candidate whose lease is gone throws LeaseLostError", async () => {
      const { backend } = fresh();
      const q = queue(backend);
      await lease(backend, "a").claim();
      const rb = request("b");
      const b = await q.enqueue(rb, call());
      await backend.release({ ...rb, leaseId: b.leaseId, token: b.token, hold: "0" }, call());
      await expect(q.step(rb, b, call())).rejects.toBeInstanceOf(LeaseLostError);
    });

    queued("waitGone rejects when its signal aborts", async () => {
      const { backend } = fresh();
      const q = queue(backend);
      await lease(backend, "a").claim();
      const rb = request("b");
      const b = await q.enqueue(rb, call());
      const behind = (await q.step(rb, b, call())) as Extract<CampaignStep, { held: false }>;
      const stop = new AbortController();
      const waiting = q.waitGone(LEASE_NAME, behind.ahead, { signal: stop.signal, requestTimeoutMs: 5000 });
      stop.abort(new Error("stopped"));
      await expect(waiting).rejects.toBeDefined();
      await backend.release({ ...rb, leaseId: b.leaseId, token: b.token, hold: "0" }, call());
    });
  });
}
