import { describe, expect, it } from "vitest";
import { fakeClock, memoryBackend } from "../../../adapters/testing/index.ts";
import {
  type Backend,
  type ClaimOutcome,
  createLease,
  InvalidArgumentError,
  keepTerm,
  type LeaseState,
  LeaseTimeoutError,
  startElector,
  type TermEnd,
} from "../../../src/backend-kit.ts";

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

describe("startElector: observing", () => {
  it("an observer (campaign: false) hears every change and shows the term in state(), but never claims", async () => {
    const { clock, make } = setup();
    const changes: (string | null)[] = [];
    const observer = startElector({
      lease: make("watcher"),
      clock,
      campaign: false,
      onLeaderChange: (leader) =>
        changes.push(leader ? `${leader.holder}${leader.parked ? " parked" : ""}` : null),
    });
    await settle();
    const a = make("a");
    await a.claim();
    await settle();
    await a.park();
    await settle();
    await a.release();
    await settle();
    expect(changes).toEqual([null, "a", "a parked", null]);
    await make("b").claim();
    await settle();
    expect(observer.state()).toMatchObject({ isLeader: false, holder: "b", validUntil: null });
    await observer.stop();
    expect((await make("z").leader())?.holder).toBe("b");
  });

  it("a follower claims as soon as the leader releases (woken by the watch), not at its next retry", async () => {
    const { clock, make } = setup();
    const seen = record();
    const a = make("a");
    await a.claim();
    const follower = startElector({ lease: make("b"), clock, retryIntervalMs: 2900, ...seen.callbacks });
    await settle();
    expect(follower.state()).toMatchObject({ isLeader: false, holder: "a" });
    await a.release();
    await settle();
    expect(follower.state()).toMatchObject({ isLeader: true, holder: "b" });
    expect(seen.elected).toHaveLength(1);
    await follower.stop({ release: true });
  });

  it("tells a campaigner, too, of each change, its own election included", async () => {
    const { clock, make } = setup();
    const leaders: (string | null)[] = [];
    const elector = startElector({
      lease: make("a"),
      clock,
      onLeaderChange: (l) => leaders.push(l?.holder ?? null),
    });
    await settle();
    expect(leaders.at(-1)).toBe("a");
    await elector.stop({ release: true });
  });
});

describe("startElector: callback contract", () => {
  it("calls onDemoted only after onElected's promise settled, and campaigns again only after that", async () => {
    const { clock, make, advance, inner } = setup();
    const order: string[] = [];
    let finish!: () => void;
    const elector = startElector({
      lease: make("a"),
      clock,
      onElected: (_state, signal) =>
        new Promise<void>((resolve) => {
          order.push("elected");
          signal.addEventListener("abort", () => order.push(`aborted: ${(signal.reason as Error).name}`));
          finish = () => {
            order.push("work done");
            resolve();
          };
        }),
      onDemoted: (end) => order.push(`demoted: ${end.reason}`),
    });
    await settle();
    const term = await inner.leader("jobs/elected", { signal: new AbortController().signal });
    // The term is lost in the store; the elector learns it at its next renewal.
    await inner.release(
      { name: "jobs/elected", holder: "a", leaseId: term?.leaseId ?? "", token: 1n, ttlMs: 3000, hold: "" },
      { signal: new AbortController().signal },
    );
    await advance(1100);
    expect(order).toEqual(["elected", "aborted: LeaseLostError"]);
    finish();
    await settle();
    expect(order).toEqual(["elected", "aborted: LeaseLostError", "work done", "demoted: lost", "elected"]);
    finish();
    await elector.stop({ release: true });
  });
});

describe("startElector", () => {
  it("reports every failed renewal during a term to onError as it happens, while the term goes on", async () => {
    let failures = 1;
    const { clock, make, advance } = setup((inner) => ({
      ...inner,
      async renew(term, ctx) {
        if (failures-- > 0) throw new LeaseTimeoutError("renewal lost (injected)");
        return inner.renew(term, ctx);
      },
    }));
    const seen = record();
    const elector = startElector({ lease: make("a"), clock, ...seen.callbacks });
    await settle();
    expect(seen.elected).toHaveLength(1);
    await advance(1100);
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0]).toBeInstanceOf(LeaseTimeoutError);
    expect(seen.demoted).toHaveLength(0);
    await advance(3000);
    expect(elector.state().isLeader).toBe(true);
    expect(seen.demoted).toHaveLength(0);
    await elector.stop();
  });

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
    const held: Extract<ClaimOutcome, { held: true }>[] = [];
    const { clock, inner, make, advance } = setup((inner) => ({
      ...inner,
      claim: async (req, ctx) => {
        const outcome = await inner.claim(req, ctx);
        if (outcome.held) held.push(outcome);
        return outcome;
      },
    }));
    const seen = record();
    const elector = startElector({ lease: make("a"), clock, ...seen.callbacks });
    await settle();
    const first = seen.elected[0];
    const taken = held[0];
    if (!taken) throw new Error("no term taken");
    // The store drops the term behind the elector's back (an operator's revoke).
    const { holder, leaseId, token } = taken.leader;
    await inner.release(
      { name: "jobs/elected", holder, leaseId, token, ttlMs: 3000, hold: taken.hold },
      { signal: new AbortController().signal },
    );
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

  it("parks the term on stop(): a restarted elector with the same holder resumes it, same token, no gap", async () => {
    const { clock, make, advance } = setup();
    const first = record();
    const before = startElector({ lease: make("svc"), clock, ...first.callbacks });
    await advance(2000);
    const token = first.elected[0]?.state.token;
    await before.stop();
    expect(first.demoted).toEqual([{ reason: "stopped" }]);
    expect(await make("reader").leader()).toMatchObject({ holder: "svc", token, parked: true });

    const other = record();
    const rival = startElector({ lease: make("other"), clock, retryIntervalMs: 100, ...other.callbacks });
    await advance(1000);
    const second = record();
    const after = startElector({ lease: make("svc"), clock, ...second.callbacks });
    await settle();
    expect(second.elected).toHaveLength(1);
    expect(second.elected[0]?.state).toMatchObject({ isLeader: true, token });
    await advance(10_000);
    expect(other.elected).toHaveLength(0);
    expect(after.state()).toMatchObject({ isLeader: true, token });
    await Promise.all([after.stop(), rival.stop()]);
  });

  it("releases on stop({ release: true }): another holder takes over within its retry interval", async () => {
    const { clock, make, advance } = setup();
    const first = record();
    const leader = startElector({ lease: make("a"), clock, ...first.callbacks });
    await settle();
    const other = record();
    const follower = startElector({ lease: make("b"), clock, retryIntervalMs: 200, ...other.callbacks });
    await advance(1000);
    expect(other.elected).toHaveLength(0);
    await leader.stop({ release: true });
    await advance(200);
    expect(other.elected).toHaveLength(1);
    expect(other.elected[0]?.state.token).toBeGreaterThan(first.elected[0]?.state.token as bigint);
    await follower.stop({ release: true });
    expect(await make("reader").leader()).toBeNull();
  });

  it("never lets two electors with the same holder lead: the second follows until the first parks", async () => {
    const { clock, make, advance } = setup();
    const first = record();
    const one = startElector({ lease: make("svc"), clock, ...first.callbacks });
    await settle();
    const second = record();
    const two = startElector({ lease: make("svc"), clock, retryIntervalMs: 200, ...second.callbacks });
    await advance(5000);
    expect(first.elected).toHaveLength(1);
    expect(second.elected).toHaveLength(0);
    expect(two.state()).toMatchObject({ isLeader: false, busy: true, holder: "svc" });
    await one.stop();
    await advance(200);
    expect(second.elected).toHaveLength(1);
    expect(second.elected[0]?.state.token).toBe(first.elected[0]?.state.token);
    await two.stop({ release: true });
  });

  it("rejects stop() when the park fails, after the loop has stopped", async () => {
    const { clock, make } = setup((inner) => ({
      ...inner,
      park: () => Promise.reject(new LeaseTimeoutError("no answer")),
    }));
    const seen = record();
    const elector = startElector({ lease: make("a"), clock, ...seen.callbacks });
    await settle();
    await expect(elector.stop()).rejects.toBeInstanceOf(LeaseTimeoutError);
    expect(seen.demoted).toEqual([{ reason: "stopped" }]);
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
