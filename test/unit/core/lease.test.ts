import { describe, expect, it, vi } from "vitest";
import { alwaysLeader, fakeClock, memoryBackend } from "../../../adapters/testing/index.ts";
import {
  type Backend,
  type ClaimRequest,
  createLease,
  InvalidArgumentError,
  LeaseLostError,
  LeaseTimeoutError,
  MalformedResponseError,
  TransportError,
  UnsupportedError,
} from "../../../src/backend-kit.ts";

const setup = (extra: { startRevision?: bigint } = {}) => {
  const clock = fakeClock();
  const backend = memoryBackend({ clock, ...extra });
  const make = (holder: string, ttlMs = 3000) =>
    createLease({ backend, clock, name: "jobs/report", holder, ttlMs });
  return { clock, backend, make };
};

describe("validity window", () => {
  it("is the send time + the granted TTL - the drift margin, and ends by itself", async () => {
    const { clock, make } = setup();
    const a = make("a", 10_000);
    const sentAt = clock.now();
    const s = await a.claim();
    expect(s.validUntil).toBe(sentAt + 10_000 - 100);
    clock.advance(10_000 - 101);
    expect(a.state().isLeader).toBe(true);
    clock.advance(1);
    expect(a.state()).toMatchObject({ isLeader: false, validUntil: null });
  });

  it("uses 1% of the TTL as the default drift margin above 10 s, and the configured one otherwise", async () => {
    const { clock, backend } = setup();
    const sentAt = clock.now();
    const big = await createLease({ backend, clock, name: "a", holder: "x", ttlMs: 60_000 }).claim();
    expect(big.validUntil).toBe(sentAt + 60_000 - 600);
    const custom = await createLease({
      backend,
      clock,
      name: "b",
      holder: "x",
      ttlMs: 4000,
      driftMarginMs: 0,
    }).claim();
    expect(custom.validUntil).toBe(sentAt + 4000);
  });

  it("rounds the TTL up to whole seconds", () => {
    const { make } = setup();
    expect(make("a", 2001).ttlMs).toBe(3000);
    expect(make("a", 3000).ttlMs).toBe(3000);
  });
});

describe("exact tokens", () => {
  it("keeps fencing tokens above 2^53 exact", async () => {
    const start = 2n ** 60n + 3n;
    const { make } = setup({ startRevision: start });
    const a = await make("a").claim();
    expect(a.token).toBe(start + 1n);
    expect(a.token).not.toBe(BigInt(Number(start + 1n)));
  });

  it("gives every claim a lease ID above 2^53 that round-trips as a decimal string", async () => {
    const { backend, clock } = setup();
    for (const name of ["a", "b", "c"]) {
      const s = await createLease({ backend, clock, name, holder: "h", ttlMs: 3000 }).claim();
      const id = BigInt(s.leaseId as string);
      expect(id).toBeGreaterThanOrEqual(2n ** 62n);
      expect(id).toBeLessThan(2n ** 63n);
      expect(id.toString()).toBe(s.leaseId);
    }
  });
});

describe("options", () => {
  const { backend, clock } = setup();
  const base = { backend, clock, name: "jobs/x", holder: "a", ttlMs: 5000 };
  const cases: [string, Record<string, unknown>][] = [
    ["ttlMs", { ttlMs: 1000 }],
    ["ttlMs", { ttlMs: 9_000_000_001_000 }],
    ["name", { name: "jobs//x" }],
    ["holder", { holder: "" }],
    ["holder", { holder: "tab\there" }],
    ["holder", { holder: 7 }],
    ["value", { value: "v".repeat(4097) }],
    ["driftMarginMs", { driftMarginMs: 2501 }],
    ["driftMarginMs", { driftMarginMs: -1 }],
    ["requestTimeoutMs", { requestTimeoutMs: 5001 }],
    ["requestTimeoutMs", { requestTimeoutMs: 0 }],
    ["allowNonAtomicGuard", { allowNonAtomicGuard: "yes" }],
    ["backend", { backend: {} }],
    ["clock", { clock: { now: () => 0 } }],
  ];
  for (const [field, patch] of cases) {
    it(`rejects ${JSON.stringify(patch).slice(0, 60)} naming ${field}`, () => {
      let thrown: unknown;
      try {
        createLease({ ...base, ...patch } as never);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidArgumentError);
      expect(thrown).toMatchObject({ field });
      expect((thrown as Error).message).toMatch(new RegExp(`^${field}: `));
    });
  }
});

/** A backend whose claim is scripted, to observe what the core sends and keeps. */
function scripted(claim: (req: ClaimRequest) => Promise<Awaited<ReturnType<Backend["claim"]>>>): Backend {
  const inner = memoryBackend();
  return { ...inner, kind: "scripted", capabilities: inner.capabilities, claim };
}

describe("claim retries", () => {
  it("keeps the claim ID after an outcome-unknown failure, and draws a new one after a definite failure", async () => {
    const seen: bigint[] = [];
    const failures = [new LeaseTimeoutError("lost"), new TransportError("refused", { retryable: false })];
    const backend = scripted(async (req) => {
      seen.push(req.claimId);
      const failure = failures.shift();
      if (failure) throw failure;
      return { held: false, leader: { holder: "z", token: 5n, ttlMs: 3000, leaseId: "9", parked: false } };
    });
    const a = createLease({ backend, name: "n", holder: "a", ttlMs: 3000 });
    await expect(a.claim()).rejects.toBeInstanceOf(LeaseTimeoutError);
    await expect(a.claim()).rejects.toBeInstanceOf(TransportError);
    await expect(a.claim()).resolves.toMatchObject({ isLeader: false, holder: "z" });
    await a.claim();
    expect(seen[1]).toBe(seen[0]);
    expect(seen[2]).not.toBe(seen[1]);
    expect(seen[3]).not.toBe(seen[2]);
  });

  it("refuses a held answer for someone else, or for a parked term", async () => {
    const leaders = [
      { holder: "intruder", token: 1n, ttlMs: 3000, leaseId: "1", parked: false },
      { holder: "a", token: 1n, ttlMs: 3000, leaseId: "1", parked: true },
    ];
    for (const leader of leaders) {
      const backend = scripted(async () => ({ held: true, grantedTtlMs: 3000, hold: "1", leader }));
      const a = createLease({ backend, name: "n", holder: "a", ttlMs: 3000 });
      await expect(a.claim()).rejects.toBeInstanceOf(MalformedResponseError);
      expect(a.state().isLeader).toBe(false);
    }
  });

  it("refuses a term whose token is not a positive int64 or whose lease ID is not a decimal int64", async () => {
    const good = { holder: "a", token: 1n, ttlMs: 3000, leaseId: "1", parked: false };
    const bad = [
      { ...good, token: 0n },
      { ...good, token: -1n },
      { ...good, token: 1n << 63n },
      { ...good, leaseId: "0x1f" },
      { ...good, leaseId: "18446744073709551616" },
      { ...good, leaseId: "" },
    ];
    for (const leader of bad) {
      for (const held of [true, false]) {
        const backend = scripted(async () =>
          held ? { held: true, grantedTtlMs: 3000, hold: "1", leader } : { held: false, leader },
        );
        const a = createLease({ backend, name: "n", holder: "a", ttlMs: 3000 });
        await expect(a.claim()).rejects.toBeInstanceOf(MalformedResponseError);
        expect(a.state()).toMatchObject({ isLeader: false, holder: null });
      }
      const reader = createLease({
        backend: { ...memoryBackend(), leader: async () => leader },
        name: "n",
        holder: "a",
        ttlMs: 3000,
      });
      await expect(reader.leader()).rejects.toBeInstanceOf(MalformedResponseError);
    }
  });

  it("runs calls on one handle one at a time", async () => {
    let running = 0;
    let maxRunning = 0;
    const inner = memoryBackend();
    const backend = scripted(async (req) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      // Yields to the other queued calls: overlapping calls would start here.
      for (let i = 0; i < 10; i++) await Promise.resolve();
      running--;
      return inner.claim(req, { signal: AbortSignal.timeout(1000) });
    });
    const a = createLease({ backend, name: "n", holder: "a", ttlMs: 3000 });
    const states = await Promise.all([a.claim(), a.claim(), a.claim()]);
    expect(maxRunning).toBe(1);
    expect(new Set(states.map((s) => s.token)).size).toBe(1);
  });
});

describe("deadlines", () => {
  it("cuts a renew's deadline to the time left before validUntil", async () => {
    const clock = fakeClock();
    const inner = memoryBackend({ clock });
    let signal: AbortSignal | undefined;
    const backend: Backend = {
      ...inner,
      renew: (_term, ctx) => {
        signal = ctx.signal;
        return new Promise((_, reject) =>
          ctx.signal.addEventListener("abort", () => reject(new LeaseTimeoutError("t"))),
        );
      },
    };
    const a = createLease({
      backend,
      clock,
      name: "n",
      holder: "a",
      ttlMs: 10_000,
      requestTimeoutMs: 10_000,
    });
    const s = await a.claim();
    clock.set((s.validUntil as number) - 30);
    const started = performance.now();
    await expect(a.renew()).rejects.toBeInstanceOf(LeaseTimeoutError);
    expect(signal?.aborted).toBe(true);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe("deadline timers", () => {
  it("leaves no timer behind once a call settles; the caller's signal still aborts the call", async () => {
    vi.useFakeTimers();
    try {
      const clock = fakeClock();
      const inner = memoryBackend({ clock });
      let hang = false;
      const backend: Backend = {
        ...inner,
        leader: (name, ctx) =>
          hang
            ? new Promise((_, reject) =>
                ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)),
              )
            : inner.leader(name, ctx),
      };
      const a = createLease({ backend, clock, name: "n", holder: "a", ttlMs: 3000 });
      await a.claim();
      await a.renew();
      await a.leader();
      await a.doIfLeader([{ type: "put", key: "k", value: "v" }]);
      await a.park();
      await a.release();
      expect(vi.getTimerCount()).toBe(0);
      hang = true;
      const caller = new AbortController();
      const pending = a.leader({ signal: caller.signal });
      expect(vi.getTimerCount()).toBe(1);
      caller.abort(new Error("shutting down"));
      await expect(pending).rejects.toThrow("shutting down");
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("guards", () => {
  it("refuses doIfLeader on a backend without an atomic guard unless allowed", async () => {
    const inner = memoryBackend();
    const backend: Backend = { ...inner, capabilities: { ...inner.capabilities, atomicGuard: false } };
    const strict = createLease({ backend, name: "n", holder: "a", ttlMs: 3000 });
    await strict.claim();
    await expect(strict.doIfLeader([{ type: "put", key: "k", value: "v" }])).rejects.toBeInstanceOf(
      UnsupportedError,
    );
    await strict.park();
    const lax = createLease({ backend, name: "n", holder: "a", ttlMs: 3000, allowNonAtomicGuard: true });
    expect((await lax.claim()).isLeader).toBe(true);
    await expect(lax.doIfLeader([{ type: "put", key: "k", value: "v" }])).resolves.toMatchObject({
      applied: true,
    });
  });

  it("refuses compare targets the backend does not support", async () => {
    const inner = memoryBackend();
    const backend: Backend = { ...inner, capabilities: { ...inner.capabilities, compareTargets: ["value"] } };
    const a = createLease({ backend, name: "n", holder: "a", ttlMs: 3000 });
    await a.claim();
    await expect(a.doIfLeader([], [{ key: "k", target: "modRevision", op: "=", value: 1n }])).rejects.toThrow(
      /compares\[0\]\.target/,
    );
  });
});

describe("busy", () => {
  it("a second handle of the same holder is busy, not leader, until the first parks; then it resumes the term", async () => {
    const { make } = setup();
    const first = make("a");
    const second = make("a");
    const held = await first.claim();
    const busy = await second.claim();
    expect(busy).toMatchObject({
      isLeader: false,
      busy: true,
      holder: "a",
      token: held.token,
      leaseId: held.leaseId,
      validUntil: null,
    });
    expect(second.state().busy).toBe(true);
    expect(first.state()).toMatchObject({ isLeader: true, busy: false });
    await first.park();
    expect(await second.claim()).toMatchObject({ isLeader: true, busy: false, token: held.token });
  });

  it("is never reported for another holder's term", async () => {
    const { make } = setup();
    await make("a").claim();
    expect(await make("b").claim()).toMatchObject({ isLeader: false, busy: false, holder: "a" });
  });

  it("frees when the crashed invocation's lease expires: the next claim takes a new term", async () => {
    const { clock, make } = setup();
    const crashed = await make("a").claim();
    expect((await make("a").claim()).busy).toBe(true);
    clock.advance(2999);
    expect((await make("a").claim()).busy).toBe(true);
    clock.advance(1);
    const next = await make("a").claim();
    expect(next).toMatchObject({ isLeader: true, busy: false });
    expect(next.token).toBeGreaterThan(crashed.token as bigint);
  });
});

/** `inner` with call counts of the methods that act on a held term. */
function counting(inner: Backend) {
  const calls = { park: 0, txn: 0, release: 0, releaseParked: 0 };
  const backend: Backend = {
    ...inner,
    park: (term, ctx) => {
      calls.park++;
      return inner.park(term, ctx);
    },
    txn: (req, ctx) => {
      calls.txn++;
      return inner.txn(req, ctx);
    },
    release: (term, ctx) => {
      calls.release++;
      return inner.release(term, ctx);
    },
    releaseParked: (name, holder, ctx) => {
      calls.releaseParked++;
      return inner.releaseParked(name, holder, ctx);
    },
  };
  return { backend, calls };
}

describe("park", () => {
  it("does nothing without a term: before any claim, and after a claim that did not lead", async () => {
    const clock = fakeClock();
    const inner = memoryBackend({ clock });
    const { backend, calls } = counting(inner);
    const a = createLease({ backend, clock, name: "n", holder: "a", ttlMs: 3000 });
    await a.park();
    await createLease({ backend: inner, clock, name: "n", holder: "b", ttlMs: 3000 }).claim();
    expect((await a.claim()).isLeader).toBe(false);
    const revision = inner.revision();
    await a.park();
    expect(calls.park).toBe(0);
    expect(inner.revision()).toBe(revision);
    expect(a.state()).toMatchObject({ isLeader: false, holder: "b" });
  });

  it("keeps the term for the next invocation, parked with the handle's TTL and published value", async () => {
    const { clock, backend } = setup();
    const opts = { backend, clock, name: "jobs/report", holder: "a", ttlMs: 3000, value: "v1" };
    const run1 = createLease(opts);
    const held = await run1.claim();
    await run1.park();
    expect(await run1.leader()).toMatchObject({ token: held.token, ttlMs: 3000, value: "v1", parked: true });
    expect(backend.leaseCount()).toBe(1);
    clock.advance(1000);
    const resumedAt = clock.now();
    const resumed = await createLease(opts).claim();
    expect(resumed).toMatchObject({ isLeader: true, token: held.token, validUntil: resumedAt + 3000 - 100 });
  });

  it("drops the term even when the store write fails", async () => {
    const clock = fakeClock();
    const inner = memoryBackend({ clock });
    const { backend: spied, calls } = counting(inner);
    const backend: Backend = {
      ...spied,
      park: async () => {
        throw new TransportError("refused (injected)", { retryable: true });
      },
    };
    const a = createLease({ backend, clock, name: "n", holder: "a", ttlMs: 3000 });
    const held = await a.claim();
    await expect(a.park()).rejects.toBeInstanceOf(TransportError);
    expect(a.state()).toMatchObject({ isLeader: false, holder: null, token: null, validUntil: null });
    expect(await a.doIfLeader([{ type: "put", key: "k", value: "after park" }])).toEqual({
      applied: false,
      reason: "not-leader",
    });
    expect(calls.txn).toBe(0);
    await expect(a.renew()).rejects.toBeInstanceOf(LeaseLostError);
    // The write failed, so the store still has the term busy: nobody resumes it until it expires.
    expect(await a.claim()).toMatchObject({ isLeader: false, busy: true, token: held.token });
  });
});

describe("release without a term", () => {
  it("ends only this holder's parked term: never a busy one, never another holder's", async () => {
    const { backend, make } = setup();
    const a = make("a");
    const held = await a.claim();
    await make("a").release();
    await make("b").release();
    expect(await a.leader()).toMatchObject({ holder: "a", token: held.token, parked: false });
    expect(a.state().isLeader).toBe(true);
    await a.park();
    await make("b").release();
    expect(await a.leader()).toMatchObject({ holder: "a", token: held.token, parked: true });
    expect(backend.leaseCount()).toBe(1);
    await make("a").release();
    expect(await a.leader()).toBeNull();
    expect(backend.leaseCount()).toBe(0);
  });

  it("asks the store to end a parked term, not the term it may be holding", async () => {
    const { backend, calls } = counting(memoryBackend());
    const a = createLease({ backend, name: "n", holder: "a", ttlMs: 3000 });
    await a.release();
    expect(calls).toMatchObject({ release: 0, releaseParked: 1 });
    await a.claim();
    await a.release();
    expect(calls).toMatchObject({ release: 1, releaseParked: 1 });
  });
});

describe("validity window and the granted TTL", () => {
  /** The memory backend, granting `factor` times the TTL asked on claim and renew. */
  const granting = (factor: number) => {
    const clock = fakeClock();
    const inner = memoryBackend({ clock });
    const backend: Backend = {
      ...inner,
      claim: async (req, ctx) => {
        const outcome = await inner.claim(req, ctx);
        return outcome.held ? { ...outcome, grantedTtlMs: req.ttlMs * factor } : outcome;
      },
      renew: async (term, ctx) => ({ grantedTtlMs: (await inner.renew(term, ctx)).grantedTtlMs * factor }),
    };
    return { clock, lease: createLease({ backend, clock, name: "n", holder: "a", ttlMs: 4000 }) };
  };

  it("never exceeds the send time + the TTL asked - the drift margin when the store grants more", async () => {
    const { clock, lease } = granting(10);
    const sentAt = clock.now();
    const s = await lease.claim();
    expect(s).toMatchObject({ isLeader: true, validUntil: sentAt + 4000 - 100, ttlMs: 4000 });
    clock.advance(1000);
    const renewedAt = clock.now();
    expect((await lease.renew()).validUntil).toBe(renewedAt + 4000 - 100);
    clock.advance(4000 - 100);
    expect(lease.state().isLeader).toBe(false);
  });

  it("follows the TTL granted when the store grants less than asked", async () => {
    const { clock, lease } = granting(0.5);
    const sentAt = clock.now();
    expect(await lease.claim()).toMatchObject({ validUntil: sentAt + 2000 - 100, ttlMs: 2000 });
  });
});

describe("park deadline", () => {
  it("is the full request timeout, even when the term's validity is nearly over", async () => {
    const clock = fakeClock();
    const inner = memoryBackend({ clock });
    const deadlines: (number | undefined)[] = [];
    const backend: Backend = {
      ...inner,
      park: (term, ctx) => {
        deadlines.push(ctx.timeoutMs);
        return inner.park(term, ctx);
      },
    };
    const opts = { backend, clock, name: "n", holder: "a", ttlMs: 3000, requestTimeoutMs: 1000 };
    const a = createLease(opts);
    const s = await a.claim();
    clock.set((s.validUntil as number) - 10);
    await a.park();
    expect(deadlines).toEqual([1000]);
    expect(await createLease(opts).claim()).toMatchObject({ isLeader: true, token: s.token });
  });
});

describe("alwaysLeader", () => {
  it("every claim wins, even a duplicate of the same holder; the displaced handle's writes are refused", async () => {
    const clock = fakeClock();
    const backend = alwaysLeader({ clock });
    const make = (holder: string) => createLease({ backend, clock, name: "n", holder, ttlMs: 3000 });
    const first = make("a");
    const held = await first.claim();
    const duplicate = await make("a").claim();
    expect(duplicate).toMatchObject({ isLeader: true, busy: false });
    expect(duplicate.token).toBeGreaterThan(held.token as bigint);
    const other = make("b");
    expect((await other.claim()).isLeader).toBe(true);
    expect(await first.doIfLeader([{ type: "put", key: "k", value: "late" }])).toEqual({
      applied: false,
      reason: "not-leader",
    });
    expect(first.state().isLeader).toBe(false);
    expect(backend.leaseCount()).toBe(1);
    const parked = other.state().token;
    await other.park();
    expect(await make("b").claim()).toMatchObject({ isLeader: true, token: parked });
    expect(backend.leaseCount()).toBe(1);
  });
});
