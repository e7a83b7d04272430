/**
 * Conformance cases of `Elector.transfer` on backends with `capabilities.transfer`: the named candidate leads
 * next (even queued behind others, who queue again behind it), with a larger token; a target that goes during
 * the window leaves the lease to nobody until the window ends; a refused transfer leaves the term going on; and
 * over repeated transfers at most one `onElected` runs at a time. Backends without the capability refuse with
 * `UnsupportedError`.
 */
import { describe, expect, it } from "vitest";
import {
  type Backend,
  type Elector,
  InvalidArgumentError,
  LeaseLostError,
  type LeaseState,
  startElector,
  type TermEnd,
  UnsupportedError,
} from "../../src/index.ts";
import { LEASE_NAME, type SuiteContext } from "./context.ts";
import { settle, waits } from "./waits.ts";

export function transferCases({ target, caps, fresh, lease, call, ttlMs, claimId }: SuiteContext): void {
  const transfers = caps.transfer ? it : it.skip;
  const { eventually, pass } = waits(target);
  /** Electors of one election that record who is elected, in order, and how each term ended. */
  const election = (backend: Backend) => {
    const elected: { who: string; token: bigint; at: number }[] = [];
    const ended: { who: string; end: TermEnd }[] = [];
    const electors = new Map<string, Elector>();
    const start = (who: string) => {
      const elector = startElector({
        lease: lease(backend, who),
        clock: target.clock,
        retryIntervalMs: Math.floor(ttlMs / 4),
        onElected: (s: LeaseState) => {
          elected.push({ who, token: s.token as bigint, at: target.clock.now() });
        },
        onDemoted: (end) => {
          ended.push({ who, end });
        },
      });
      electors.set(who, elector);
      return elector;
    };
    const stopAll = () => Promise.all([...electors.values()].map((e) => e.stop({ release: true })));
    return { elected, ended, electors, start, stopAll };
  };

  describe("transfer", () => {
    it.skipIf(caps.transfer)("is refused with UnsupportedError without the capability", async () => {
      const { backend } = fresh();
      const { elected, start, stopAll } = election(backend);
      const a = start("a");
      await eventually(() => elected.length === 1);
      await expect(a.transfer("b")).rejects.toBeInstanceOf(UnsupportedError);
      expect(a.state().isLeader).toBe(true);
      await stopAll();
    });

    transfers(
      "hands the term to a candidate queued behind others: it leads next with a larger token, the others after it",
      async () => {
        const { backend } = fresh();
        const { elected, ended, start, stopAll, electors } = election(backend);
        const a = start("a");
        await eventually(() => elected.length === 1);
        for (const who of ["b", "c", "d"]) {
          start(who);
          // Queued in this order: each has enqueued before the next starts.
          await pass(100);
        }
        const windowMs = 3 * ttlMs;
        const transferredAt = target.clock.now();
        await a.transfer("d", { windowMs });
        await eventually(() => elected.length === 2);
        expect(elected[1]?.who).toBe("d");
        // It took the term at once, not at the window's end.
        expect((elected[1]?.at as number) - transferredAt).toBeLessThan(ttlMs);
        expect(elected[1]?.token).toBeGreaterThan(elected[0]?.token as bigint);
        await eventually(() => ended.length === 1);
        expect(ended[0]).toEqual({ who: "a", end: { reason: "transferred", toHolder: "d" } });
        // b and c were ahead of d: they queued again behind it, and lead only once it is gone.
        await pass(ttlMs);
        expect(elected).toHaveLength(2);
        await electors.get("d")?.stop({ release: true });
        await eventually(() => elected.length === 3);
        expect(["a", "b", "c"]).toContain(elected[2]?.who);
        expect(elected[2]?.token).toBeGreaterThan(elected[1]?.token as bigint);
        await stopAll();
      },
    );

    transfers(
      "refuses a holder that is not queued, and a transfer by a non-leader; the term goes on",
      async () => {
        const { backend } = fresh();
        const { elected, start, stopAll } = election(backend);
        const a = start("a");
        await eventually(() => elected.length === 1);
        const b = start("b");
        await pass(100);
        const refused = await a.transfer("nobody").catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(InvalidArgumentError);
        expect((refused as InvalidArgumentError).field).toBe("toHolder");
        await expect(a.transfer("bad\u0000holder")).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(b.transfer("a")).rejects.toBeInstanceOf(LeaseLostError);
        expect(a.state().isLeader).toBe(true);
        expect(await lease(backend, "reader").leader()).toMatchObject({ holder: "a" });
        await stopAll();
      },
    );

    transfers(
      "a target that goes during the window leaves the lease to nobody until the window ends, then the first candidate leads",
      async () => {
        const { backend } = fresh();
        const q = backend.campaign as NonNullable<Backend["campaign"]>;
        const { elected, start, stopAll } = election(backend);
        const a = start("a");
        await eventually(() => elected.length === 1);
        // The target queues by hand and never steps: it can be made to go at will.
        const rt = { name: LEASE_NAME, holder: "t", ttlMs, claimId: claimId() };
        const t = await q.enqueue(rt, call());
        start("b");
        await pass(100);
        const windowMs = 3 * ttlMs;
        const transferredAt = target.clock.now();
        await a.transfer("t", { windowMs });
        await backend.release({ ...rt, leaseId: t.leaseId, token: t.token, hold: "0" }, call());
        // b is first now, yet only the target may lead during the window; a try-claim is refused too.
        expect((await lease(backend, "z").claim()).isLeader).toBe(false);
        await pass(ttlMs);
        expect(elected).toHaveLength(1);
        await eventually(() => elected.length === 2, windowMs + 5000);
        expect(elected[1]?.who).toBe("b");
        expect((elected[1]?.at as number) - transferredAt).toBeGreaterThanOrEqual(windowMs - 100);
        await stopAll();
      },
    );

    transfers("over repeated transfers at most one onElected runs at a time; tokens increase", async () => {
      const { backend } = fresh();
      const holders = ["a", "b", "c", "d"];
      let active = 0;
      let overlaps = 0;
      const tokens: bigint[] = [];
      const electors = new Map<string, Elector>();
      /** Hands over to the next holder after `who` that is queued now (one may be queueing again). */
      const handOver = async (who: string) => {
        for (let attempt = 0; attempt < 50; attempt++) {
          const next = holders[(holders.indexOf(who) + 1 + (attempt % 3)) % holders.length] as string;
          try {
            return await electors.get(who)?.transfer(next);
          } catch (error) {
            if (!(error instanceof InvalidArgumentError)) return;
            await target.elapse(20);
          }
        }
      };
      for (const who of holders) {
        const elector = startElector({
          lease: lease(backend, who),
          clock: target.clock,
          retryIntervalMs: Math.floor(ttlMs / 4),
          onElected: async (s: LeaseState) => {
            active++;
            if (active > 1) overlaps++;
            tokens.push(s.token as bigint);
            await settle();
            active--;
            if (tokens.length >= 8) return;
            queueMicrotask(() => handOver(who));
          },
        });
        electors.set(who, elector);
        await target.elapse(50);
        await settle();
      }
      await eventually(() => tokens.length >= 8, 20_000);
      await Promise.all([...electors.values()].map((e) => e.stop({ release: true })));
      expect(overlaps).toBe(0);
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1] as bigint);
    });
  });
}
