/**
 * The handover barrier and lock-delay of the elector, and its operator events, on the memory backend with a
 * fake clock: a new leader's onElected waits for the previous term as configured, never longer than needed.
 */
import { describe, expect, it } from "vitest";
import { fakeClock, memoryBackend } from "../../../adapters/testing/index.ts";
import type { ElectorEvent } from "../../../src/events.ts";
import {
  type Backend,
  createLease,
  type ElectorOptions,
  type LeaseState,
  startElector,
} from "../../../src/index.ts";

const settle = async () => {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
};

function setup(wrap?: (inner: Backend) => Backend) {
  const clock = fakeClock();
  const inner = memoryBackend({ clock });
  const backend = wrap ? wrap(inner) : inner;
  const lease = (holder: string) =>
    createLease({ backend, clock, name: "jobs/barrier", holder, ttlMs: 3000 });
  const advance = async (ms: number, step = 50) => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(Math.min(step, ms - t));
      await settle();
    }
  };
  const elected: { who: string; at: number; state: LeaseState }[] = [];
  const start = (who: string, extra: Partial<ElectorOptions> = {}) =>
    startElector({
      lease: lease(who),
      clock,
      onElected: (state) => {
        elected.push({ who, at: clock.now(), state });
      },
      ...extra,
    });
  /** Ends the current term behind its holder's back, as an operator's revoke or an expiry would: busy. */
  const revoke = async () => {
    const term = await inner.leader("jobs/barrier", { signal: new AbortController().signal });
    if (!term) throw new Error("no term");
    await inner.release(
      { ...term, name: "jobs/barrier", ttlMs: 3000, hold: "" },
      { signal: new AbortController().signal },
    );
  };
  return { clock, inner, lease, advance, elected, start, revoke };
}

describe("startElector: lockDelayMs", () => {
  it("delays onElected by lockDelayMs after a term that ended busy (a crash), from when its end was seen", async () => {
    const { clock, lease, start, advance, elected } = setup();
    await lease("crashed").claim();
    const events: ElectorEvent[] = [];
    const b = start("b", { lockDelayMs: 1000, onEvent: (e) => events.push(e) });
    await advance(3000);
    expect(b.state().isLeader).toBe(true);
    const leadingAt = clock.now();
    expect(elected).toEqual([]);
    await advance(950);
    expect(elected).toEqual([]);
    await advance(100);
    expect(elected.map((e) => e.who)).toEqual(["b"]);
    expect((elected[0]?.at as number) - leadingAt).toBeGreaterThanOrEqual(950);
    const electedEvent = events.find((e) => e.type === "elected");
    expect(electedEvent).toMatchObject({ name: "jobs/barrier", holder: "b", barrierMs: expect.any(Number) });
    expect((electedEvent as { barrierMs: number }).barrierMs).toBeGreaterThanOrEqual(950);
    await b.stop({ release: true });
  });

  it("does not delay a clean hand-over: the leader parks before it releases, after its onDemoted returned", async () => {
    const { start, elected, advance } = setup();
    const order: string[] = [];
    const a = start("a", {
      lockDelayMs: 1000,
      onDemoted: async () => {
        order.push("a demoted");
      },
    });
    await settle();
    const b = start("b", { lockDelayMs: 1000, onElected: () => void order.push("b elected") });
    await settle();
    await a.stop({ release: true });
    await settle();
    expect(order).toEqual(["a demoted", "b elected"]);
    await advance(0);
    expect(elected.map((e) => e.who)).toEqual(["a"]);
    await b.stop({ release: true });
  });
});

describe("startElector: barrier", () => {
  it('"clean": a previous term that ended busy is waited for (lease gone, then lockDelayMs); a clean one is not', async () => {
    const { start, elected, advance, revoke } = setup();
    const a = start("a", { barrier: "clean" });
    await settle();
    const b = start("b", { barrier: "clean", lockDelayMs: 500 });
    await settle();
    await revoke();
    await advance(400);
    expect(elected.map((e) => e.who)).toEqual(["a"]);
    await advance(200);
    expect(elected.map((e) => e.who)).toEqual(["a", "b"]);
    const c = start("c", { barrier: "clean", lockDelayMs: 500 });
    await settle();
    await b.stop({ release: true });
    await settle();
    expect(elected.map((e) => e.who)).toEqual(["a", "b", "c"]);
    await Promise.all([a.stop(), c.stop({ release: true })]);
  });

  it('"lease-gone": onElected waits until the store says the previous lease is gone (ttlLeft null)', async () => {
    let stillThere = 2;
    const { start, elected, advance, lease } = setup((inner) => ({
      ...inner,
      ttlLeft: async (id, ctx) => (stillThere-- > 0 ? 400 : (inner.ttlLeft?.(id, ctx) ?? null)),
    }));
    const a = lease("a");
    await a.claim();
    const b = start("b", { barrier: "lease-gone" });
    await settle();
    await a.release();
    await settle();
    expect(elected).toEqual([]);
    await advance(700);
    expect(elected.map((e) => e.who)).toEqual(["b"]);
    expect(stillThere).toBeLessThan(0);
    await b.stop({ release: true });
  });

  it("a term that ends during its barrier never calls onElected nor onDemoted", async () => {
    const { lease, start, advance, elected, revoke } = setup();
    await lease("crashed").claim();
    const demoted: unknown[] = [];
    const b = start("b", { lockDelayMs: 60_000, onDemoted: (end) => void demoted.push(end) });
    await advance(3100);
    expect(b.state().isLeader).toBe(true);
    await revoke();
    await advance(1200);
    expect(elected).toEqual([]);
    expect(demoted).toEqual([]);
    await b.stop({ release: true });
  });

  it("validates barrier and lockDelayMs, naming the field", () => {
    const { lease } = setup();
    expect(() => startElector({ lease: lease("a"), barrier: "soon" as never })).toThrow(
      expect.objectContaining({ field: "barrier" }),
    );
    expect(() => startElector({ lease: lease("a"), lockDelayMs: -1 })).toThrow(
      expect.objectContaining({ field: "lockDelayMs" }),
    );
  });
});

describe("startElector: onEvent", () => {
  it("reports claim, elected, renew, lost and demoted, each with its duration", async () => {
    const { start, advance, revoke } = setup();
    const events: ElectorEvent[] = [];
    const a = start("a", { onEvent: (e) => events.push(e) });
    await settle();
    await advance(1100);
    await revoke();
    await advance(1100);
    await a.stop({ release: true });
    const types = events.map((e) => e.type);
    expect(types[0]).toBe("observe");
    expect(types.slice(1, 4)).toEqual(["claim", "elected", "renew"]);
    expect(types).toContain("lost");
    expect(types).toContain("demoted");
    expect(events.find((e) => e.type === "claim")).toMatchObject({
      queued: true,
      isLeader: true,
      leader: "a",
    });
    expect(events.find((e) => e.type === "renew")).toMatchObject({ ok: true, requests: 1, durationMs: 0 });
    expect(events.find((e) => e.type === "lost")).toMatchObject({
      reason: "lost",
      durationMs: expect.any(Number),
    });
    for (const e of events) expect(e.durationMs).toBeGreaterThanOrEqual(0);
  });
});
