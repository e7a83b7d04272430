/**
 * The elector on a backend that queues (the memory backend, fake clock): candidates lead in the order they
 * queued, try-claims never jump the queue, a queued candidate's lease is renewed while it waits and withdrawn
 * when it stops, a crashed leader is succeeded once its lease expires, a queued campaigner of the same holder
 * resumes that holder's parked term, and a transfer whose answer was lost ends the term as lost.
 */
import { describe, expect, it } from "vitest";
import { fakeClock, memoryBackend } from "../../../adapters/testing/index.ts";
import {
  type Backend,
  createLease,
  type Elector,
  type ElectorEvent,
  type LeaseState,
  LeaseTimeoutError,
  startElector,
  type TermEnd,
} from "../../../src/index.ts";

const settle = async () => {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
};

function setup() {
  const clock = fakeClock();
  const backend = memoryBackend({ clock });
  const lease = (holder: string) => createLease({ backend, clock, name: "jobs/queued", holder, ttlMs: 3000 });
  const advance = async (ms: number, step = 100) => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(Math.min(step, ms - t));
      await settle();
    }
  };
  const elected: { who: string; token: bigint; at: number }[] = [];
  const start = (who: string, extra = {}): Elector =>
    startElector({
      lease: lease(who),
      clock,
      onElected: (s: LeaseState) => {
        elected.push({ who, token: s.token as bigint, at: clock.now() });
      },
      ...extra,
    });
  return { clock, backend, lease, advance, elected, start };
}

describe("startElector on a queueing backend", () => {
  it("leads in the order the candidates queued, each one at once after the release before it", async () => {
    const { backend, elected, start } = setup();
    const a = start("a");
    await settle();
    const b = start("b");
    await settle();
    const c = start("c");
    await settle();
    expect(backend.leaseCount()).toBe(3);
    expect(elected.map((e) => e.who)).toEqual(["a"]);
    await a.stop({ release: true });
    await settle();
    expect(elected.map((e) => e.who)).toEqual(["a", "b"]);
    await b.stop({ release: true });
    await settle();
    expect(elected.map((e) => e.who)).toEqual(["a", "b", "c"]);
    expect(elected[1]?.token).toBeGreaterThan(elected[0]?.token as bigint);
    expect(elected[2]?.token).toBeGreaterThan(elected[1]?.token as bigint);
    await c.stop({ release: true });
    expect(backend.leaseCount()).toBe(0);
  });

  it("counts a queued campaign's backend calls in its claim event: try-claim, enqueue, step, wait, step", async () => {
    const { start } = setup();
    const a = start("a");
    await settle();
    const events: ElectorEvent[] = [];
    const b = start("b", { onEvent: (e: ElectorEvent) => events.push(e) });
    await settle();
    await a.stop({ release: true });
    await settle();
    expect(events.filter((e) => e.type === "claim")).toEqual([
      expect.objectContaining({ type: "claim", queued: true, isLeader: true, leader: "b", requests: 5 }),
    ]);
    await b.stop({ release: true });
  });

  it("keeps a term its lease handle already holds: same token, no candidate queued behind it", async () => {
    const { backend, lease, clock, elected } = setup();
    const handle = lease("a");
    const held = await handle.claim();
    const elector = startElector({
      lease: handle,
      clock,
      onElected: (s) => void elected.push({ who: "a", token: s.token as bigint, at: 0 }),
    });
    await settle();
    expect(elected).toEqual([{ who: "a", token: held.token, at: 0 }]);
    expect(backend.leaseCount()).toBe(1);
    await elector.stop({ release: true });
  });

  it("a try-claim never jumps the queue; the first candidate is reported by its value until it writes its term", async () => {
    const { lease, start, elected } = setup();
    const a = lease("a");
    await a.claim();
    const b = start("b");
    await settle();
    await a.release();
    // Before b's step: b is first in line, not yet a term.
    const claim = await lease("z").claim();
    expect(claim).toMatchObject({ isLeader: false, holder: "b", ttlMs: null });
    await settle();
    expect(elected.map((e) => e.who)).toEqual(["b"]);
    expect(await lease("z").leader()).toMatchObject({ holder: "b", ttlMs: 3000, token: claim.token });
    await b.stop({ release: true });
    expect((await lease("z").claim()).isLeader).toBe(true);
  });

  it("renews a queued candidate's lease while it waits, and withdraws it on stop()", async () => {
    const { backend, lease, start, advance, elected } = setup();
    const a = lease("a");
    await a.claim();
    const b = start("b");
    for (let i = 0; i < 10; i++) {
      await a.renew();
      await advance(1000);
    }
    expect(backend.leaseCount()).toBe(2);
    await b.stop();
    expect(backend.leaseCount()).toBe(1);
    expect(elected).toEqual([]);
    await a.release();
  });

  it("succeeds a crashed leader (no renewal, no release) once its lease expires", async () => {
    const { clock, lease, start, advance, elected } = setup();
    const crashed = await lease("crashed").claim();
    const claimedAt = clock.now();
    const b = start("b");
    await advance(2900);
    expect(elected).toEqual([]);
    await advance(200);
    expect(elected.map((e) => e.who)).toEqual(["b"]);
    expect((elected[0]?.at as number) - claimedAt).toBeLessThanOrEqual(3100);
    expect(elected[0]?.token).toBeGreaterThan(crashed.token as bigint);
    await b.stop({ release: true });
  });

  it("a queued campaigner of the same holder resumes that holder's parked term within a renewal: same token", async () => {
    const { backend, lease, start, elected, advance } = setup();
    const first = lease("svc");
    const held = await first.claim();
    const rival = start("rival");
    await settle();
    const again = start("svc");
    await settle();
    expect(elected).toEqual([]);
    await first.park();
    // Queued behind the rival, it watches the rival's candidate; its next step (a renewal) reads the parked term.
    await advance(1000);
    expect(elected).toEqual([{ who: "svc", token: held.token, at: expect.any(Number) }]);
    // The resumed term's holder withdrew its own candidate: the term's lease and the rival's remain.
    expect(backend.leaseCount()).toBe(2);
    await again.stop({ release: true });
    await settle();
    expect(elected.map((e) => e.who)).toEqual(["svc", "rival"]);
    await rival.stop({ release: true });
  });

  it("never has two onElected running at once over many handovers; tokens strictly increase", async () => {
    const { start, elected, advance } = setup();
    let active = 0;
    let overlaps = 0;
    const electors = new Map<string, Elector>();
    const run = (who: string) => {
      electors.set(
        who,
        start(who, {
          onElected: async (s: LeaseState, signal: AbortSignal) => {
            active++;
            if (active > 1) overlaps++;
            elected.push({ who, token: s.token as bigint, at: 0 });
            await Promise.resolve();
            active--;
            if (!signal.aborted && elected.length < 30) {
              queueMicrotask(async () => {
                await electors.get(who)?.stop({ release: true });
                run(who);
              });
            }
          },
        }),
      );
    };
    for (const who of ["a", "b", "c", "d", "e"]) run(who);
    await advance(1000);
    expect(elected.length).toBeGreaterThanOrEqual(30);
    expect(overlaps).toBe(0);
    for (let i = 1; i < elected.length; i++) {
      expect(elected[i]?.token).toBeGreaterThan(elected[i - 1]?.token as bigint);
    }
    await Promise.all([...electors.values()].map((e) => e.stop({ release: true })));
  });
});

describe("a transfer whose outcome is in doubt", () => {
  it("releases the term, rethrows, and reports the term lost with that error, not transferred", async () => {
    const { clock, backend } = setup();
    const campaign = backend.campaign as NonNullable<Backend["campaign"]>;
    const lost = new LeaseTimeoutError("transfer txn: answer lost (scripted)");
    // The store makes the transfer, and its answer never arrives.
    const doubtful: Backend = {
      ...backend,
      campaign: {
        ...campaign,
        transfer: async (term, req, ctx) => {
          await campaign.transfer?.(term, req, ctx);
          throw lost;
        },
      },
    };
    const ends: { who: string; end: TermEnd }[] = [];
    const start = (who: string) =>
      startElector({
        lease: createLease({ backend: doubtful, clock, name: "jobs/queued", holder: who, ttlMs: 3000 }),
        clock,
        onDemoted: (end) => {
          ends.push({ who, end });
        },
      });
    const a = start("a");
    await settle();
    const b = start("b");
    await settle();
    expect(a.state().isLeader).toBe(true);
    await expect(a.transfer("b")).rejects.toBe(lost);
    await settle();
    expect(ends).toEqual([{ who: "a", end: { reason: "lost", error: lost } }]);
    expect(a.state().isLeader).toBe(false);
    await Promise.all([a.stop({ release: true }), b.stop({ release: true })]);
  });
});
