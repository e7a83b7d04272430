import { describe, expect, it } from "vitest";
import { fakeClock, memoryBackend } from "../../adapters/testing/index.ts";
import {
  type Backend,
  createLease,
  InvalidArgumentError,
  keepTerm,
  type LeaseState,
  LeaseTimeoutError,
  startElector,
  type TermEnd,
} from "../../src/index.ts";

/** Lets every pending promise continuation run (the memory backend answers in microtasks). */
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

function setup(backendOverride?: (inner: Backend) => Backend) {
  const clock = fakeClock();
  const inner = memoryBackend({ clock });
  const backend = backendOverride ? backendOverride(inner) : inner;
  const make = (holder: string) => createLease({ backend, clock, name: "jobs/elected", holder, ttlMs: 3000 });
  const advance = async (ms: number, step = 100) => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(Math.min(step, ms - t));
      await settle();
    }
  };
  return { clock, inner, make, advance };
}

function record() {
  const elected: { state: LeaseState; signal: AbortSignal }[] = [];
  const demoted: TermEnd[] = [];
  const errors: unknown[] = [];
  return {
    elected,
    demoted,
    errors,
    callbacks: {
      onElected: (state: LeaseState, signal: AbortSignal) => elected.push({ state, signal }),
      onDemoted: (end: TermEnd) => demoted.push(end),
      onError: (error: unknown) => errors.push(error),
    },
  };
}

describe("startElector", () => {
  it("wins a free lease, then keeps one term alive well past its TTL", async () => {
    const { clock, make, advance } = setup();
    const seen = record();
    const elector = startElector({ lease: make("a"), clock, ...seen.callbacks });
    await settle();
    expect(seen.elected).toHaveLength(1);
    const token = seen.elected[0]?.state.token;
    await advance(10_000);
    expect(elector.state()).toMatchObject({ isLeader: true, token });
    expect(seen.elected).toHaveLength(1);
    expect(seen.demoted).toEqual([]);
    await elector.stop({ release: true });
    expect(seen.demoted).toEqual([{ reason: "stopped" }]);
    expect(seen.elected[0]?.signal.aborted).toBe(true);
    expect(await make("b").leader()).toBeNull();
  });

  it("follows while another holder leads, and takes over within a retry interval after it resigns", async () => {
    const { clock, make, advance } = setup();
    const other = make("b");
    await other.claim();
    const seen = record();
    const elector = startElector({ lease: make("a"), clock, retryIntervalMs: 500, ...seen.callbacks });
    await advance(1000);
    expect(seen.elected).toHaveLength(0);
    await other.release();
    await advance(500);
    expect(seen.elected).toHaveLength(1);
    expect(elector.state().isLeader).toBe(true);
    await elector.stop();
  });

  it("reports a lost term, aborts its signal, and campaigns again for a new term", async () => {
    const { clock, make, advance } = setup();
    const seen = record();
    const elector = startElector({ lease: make("a"), clock, ...seen.callbacks });
    await settle();
    const first = seen.elected[0];
    // Another process with the same identity resigns the term behind the elector's back.
    await make("a").release();
    await advance(1000);
    expect(seen.demoted[0]).toMatchObject({ reason: "lost" });
    expect(first?.signal.aborted).toBe(true);
    expect(seen.elected).toHaveLength(2);
    expect(seen.elected[1]?.state.token).toBeGreaterThan(first?.state.token as bigint);
    await elector.stop();
  });

  it("ends the term at validUntil when renewals keep failing, not an interval later", async () => {
    let failing = false;
    const { clock, make, advance } = setup((inner) => ({
      ...inner,
      renew: (term, ctx) =>
        failing ? Promise.reject(new LeaseTimeoutError("no answer")) : inner.renew(term, ctx),
      claim: (req, ctx) =>
        failing ? Promise.reject(new LeaseTimeoutError("no answer")) : inner.claim(req, ctx),
    }));
    const seen = record();
    const elector = startElector({ lease: make("a"), clock, renewIntervalMs: 1000, ...seen.callbacks });
    await settle();
    const validUntil = seen.elected[0]?.state.validUntil as number;
    failing = true;
    await advance(validUntil - clock.now() - 1, 1);
    expect(seen.demoted).toEqual([]);
    await advance(1, 1);
    expect(seen.demoted).toEqual([{ reason: "expired", error: expect.any(LeaseTimeoutError) }]);
    expect(seen.elected[0]?.signal.reason).toBeInstanceOf(LeaseTimeoutError);
    expect(elector.state().isLeader).toBe(false);
    await advance(1000);
    expect(seen.errors.length).toBeGreaterThan(0);
    await elector.stop();
  });

  it("survives callbacks that throw, reporting them", async () => {
    const { clock, make, advance } = setup();
    const errors: unknown[] = [];
    const elector = startElector({
      lease: make("a"),
      clock,
      onElected: () => {
        throw new Error("handler bug");
      },
      onError: (error) => errors.push(error),
    });
    await advance(2000);
    expect(errors).toEqual([new Error("handler bug")]);
    expect(elector.state().isLeader).toBe(true);
    await elector.stop();
  });

  it("validates its options, naming the field", () => {
    const { make } = setup();
    expect(() => startElector({ lease: make("a"), renewIntervalMs: 3000 })).toThrow(
      expect.objectContaining({ field: "renewIntervalMs" }),
    );
    expect(() => startElector({ lease: make("a"), retryIntervalMs: 0 })).toThrow(
      expect.objectContaining({ field: "retryIntervalMs" }),
    );
    expect(() => startElector({ lease: {} as never })).toThrow(InvalidArgumentError);
  });
});

describe("keepTerm", () => {
  it("reports expired at once when the handle holds no term", async () => {
    const { clock, make } = setup();
    const end = await keepTerm(make("a"), 1000, clock, new AbortController().signal);
    expect(end).toMatchObject({ reason: "expired" });
  });
});
