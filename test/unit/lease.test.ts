import { describe, expect, it } from "vitest";
import { fakeClock, memoryBackend } from "../../adapters/testing/index.ts";
import {
  type Backend,
  type ClaimRequest,
  createLease,
  InvalidArgumentError,
  LeaseTimeoutError,
  MalformedResponseError,
  TransportError,
  UnsupportedError,
} from "../../src/index.ts";

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
      return { held: false, leader: { holder: "z", token: 5n, ttlMs: 3000, leaseId: "9" } };
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

  it("refuses a backend answer that claims the lease for someone else", async () => {
    const backend = scripted(async () => ({
      held: true,
      grantedTtlMs: 3000,
      leader: { holder: "intruder", token: 1n, ttlMs: 3000, leaseId: "1" },
    }));
    const a = createLease({ backend, name: "n", holder: "a", ttlMs: 3000 });
    await expect(a.claim()).rejects.toBeInstanceOf(MalformedResponseError);
    expect(a.state().isLeader).toBe(false);
  });

  it("runs calls on one handle one at a time", async () => {
    let running = 0;
    let maxRunning = 0;
    const inner = memoryBackend();
    const backend = scripted(async (req) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 5));
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

describe("guards", () => {
  it("refuses doIfLeader on a backend without an atomic guard unless allowed", async () => {
    const inner = memoryBackend();
    const backend: Backend = { ...inner, capabilities: { ...inner.capabilities, atomicGuard: false } };
    const strict = createLease({ backend, name: "n", holder: "a", ttlMs: 3000 });
    await strict.claim();
    await expect(strict.doIfLeader([{ type: "put", key: "k", value: "v" }])).rejects.toBeInstanceOf(
      UnsupportedError,
    );
    const lax = createLease({ backend, name: "n", holder: "a", ttlMs: 3000, allowNonAtomicGuard: true });
    await lax.claim();
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
