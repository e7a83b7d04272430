/**
 * Conformance cases of the long-running features on every backend: `observe()` (the backend's watch, or polling
 * where it has none), observer-only electors (`campaign: false`), and the handover barrier with lock-delay on
 * backends that watch (the barrier tells a clean hand-over from its parked state, which a poll can miss).
 */
import { describe, expect, it } from "vitest";
import { type LeaderInfo, type LeaseState, observe, startElector } from "../../src/index.ts";
import { LEASE_NAME, type SuiteContext } from "./context.ts";
import { settle, waits } from "./waits.ts";

export function electorCases({ target, fresh, lease, call, ttlMs }: SuiteContext): void {
  const { eventually } = waits(target);
  const describeTerm = (l: LeaderInfo | null) => (l ? `${l.holder}${l.parked ? " parked" : ""}` : "free");

  describe("observe", () => {
    it("reports the start, a claim, a park, a resume and a release, in order, once each", async () => {
      const { backend } = fresh();
      const stop = new AbortController();
      const seen: string[] = [];
      const watching = (async () => {
        const options = { signal: stop.signal, clock: target.clock, pollIntervalMs: 20 };
        for await (const event of observe(backend, LEASE_NAME, options)) {
          if (event.type === "change") seen.push(describeTerm(event.leader));
        }
      })();
      await eventually(() => seen.length === 1);
      const a = lease(backend, "a");
      await a.claim();
      await eventually(() => seen.length === 2);
      await a.park();
      await eventually(() => seen.length === 3);
      const again = lease(backend, "a");
      await again.claim();
      await eventually(() => seen.length === 4);
      await again.release();
      await eventually(() => seen.length === 5);
      stop.abort();
      await watching;
      expect(seen).toEqual(["free", "a", "a parked", "a", "free"]);
    });
  });

  describe("observer-only electors (campaign: false)", () => {
    it("hear every change and show the term in state(), but never claim", async () => {
      const { backend } = fresh();
      const changes: string[] = [];
      const observer = startElector({
        lease: lease(backend, "watcher"),
        campaign: false,
        clock: target.clock,
        retryIntervalMs: Math.floor(ttlMs / 10),
        onLeaderChange: (l) => void changes.push(describeTerm(l)),
      });
      await eventually(() => changes.length === 1);
      const a = lease(backend, "a");
      const held = await a.claim();
      await eventually(() => changes.length === 2);
      expect(observer.state()).toMatchObject({
        isLeader: false,
        holder: "a",
        token: held.token,
        validUntil: null,
      });
      await a.release();
      await eventually(() => changes.length === 3);
      await target.elapse(200);
      await settle();
      expect(await lease(backend, "z").leader()).toBeNull();
      await observer.stop();
      expect(changes).toEqual(["free", "a", "free"]);
    });
  });

  describe("handover barrier", () => {
    it("a clean hand-over is not delayed by lockDelayMs; a term that ended busy delays the next onElected", async (ctx) => {
      const { backend } = fresh();
      if (!backend.observe) ctx.skip();
      const elected: { who: string; at: number; state: LeaseState }[] = [];
      const start = (who: string, lockDelayMs: number) =>
        startElector({
          lease: lease(backend, who),
          clock: target.clock,
          barrier: "clean",
          lockDelayMs,
          onElected: (state) => void elected.push({ who, at: target.clock.now(), state }),
        });
      const a = start("a", 60_000);
      await eventually(() => elected.length === 1);
      const b = start("b", 60_000);
      await target.elapse(100);
      await a.stop({ release: true });
      await eventually(() => elected.length === 2);
      expect(elected.map((e) => e.who)).toEqual(["a", "b"]);

      const c = start("c", 800);
      await target.elapse(100);
      const { leaseId, token } = (elected[1] as { state: LeaseState }).state;
      // b's term ends busy, behind b's back (an operator's revoke).
      await backend.release(
        {
          name: LEASE_NAME,
          holder: "b",
          ttlMs,
          leaseId: leaseId as string,
          token: token as bigint,
          hold: "",
        },
        call(),
      );
      const endedAt = target.clock.now();
      await eventually(() => elected.length === 3, 5000);
      expect(elected[2]?.who).toBe("c");
      expect((elected[2]?.at as number) - endedAt).toBeGreaterThanOrEqual(700);
      await Promise.all([b.stop(), c.stop({ release: true })]);
    });
  });
}
