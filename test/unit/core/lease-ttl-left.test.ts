/**
 * `LeaseState.ttlLeftMs`: an upper bound on the time the current term's lease has left, from this handle's last
 * renewal, the holder's TTL, or the store's figure when a claim asks for it (the only case with a request more).
 */
import { describe, expect, it } from "vitest";
import { fakeClock, memoryBackend } from "../../../adapters/testing/index.ts";
import { type Backend, createLease, LeaseTimeoutError } from "../../../src/backend-kit.ts";

const setup = (slackMs?: number) => {
  const clock = fakeClock();
  const inner = memoryBackend({ clock });
  let reads = 0;
  let read: Backend["ttlLeft"] = (leaseId, ctx) => inner.ttlLeft?.(leaseId, ctx) ?? Promise.resolve(null);
  const backend: Backend = {
    ...inner,
    capabilities:
      slackMs === undefined ? inner.capabilities : { ...inner.capabilities, expirySlackMs: slackMs },
    ttlLeft: (leaseId, ctx) => {
      reads++;
      return read?.(leaseId, ctx) ?? Promise.resolve(null);
    },
  };
  const make = (holder: string, ttlMs = 10_000) =>
    createLease({ backend, clock, name: "jobs/report", holder, ttlMs });
  return {
    clock,
    make,
    reads: () => reads,
    setRead: (next: Backend["ttlLeft"]) => {
      read = next;
    },
  };
};

describe("ttlLeftMs of this handle's own term", () => {
  it("is the TTL plus the store's expiry slack from the last renewal, counted down, and null past validUntil", async () => {
    const { clock, make } = setup(500);
    const a = make("a");
    expect(await a.claim()).toMatchObject({ isLeader: true, ttlLeftMs: 10_500 });
    clock.advance(4000);
    expect(a.state().ttlLeftMs).toBe(6500);
    expect((await a.renew()).ttlLeftMs).toBe(10_500);
    clock.advance(9900);
    expect(a.state()).toMatchObject({ isLeader: false, ttlLeftMs: null });
  });
});

describe("ttlLeftMs of another holder's term", () => {
  it("is the holder's TTL (not the caller's) without a store read, counted down, never below 0", async () => {
    const { clock, make, reads } = setup();
    await make("a", 8000).claim();
    clock.advance(3000);
    const b = make("b", 20_000);
    expect(await b.claim()).toMatchObject({ isLeader: false, holder: "a", ttlLeftMs: 8000 });
    expect(reads()).toBe(0);
    clock.advance(5000);
    expect(b.state().ttlLeftMs).toBe(3000);
    clock.advance(6000);
    expect(b.state().ttlLeftMs).toBe(0);
  });

  it("is the store's figure when the claim asks for it (one read), for a busy term too", async () => {
    const { clock, make, reads } = setup();
    await make("a", 8000).claim();
    clock.advance(3000);
    expect(await make("b").claim({ ttlLeft: true })).toMatchObject({ holder: "a", ttlLeftMs: 5000 });
    expect(await make("a").claim({ ttlLeft: true })).toMatchObject({ busy: true, ttlLeftMs: 5000 });
    expect(reads()).toBe(2);
  });

  it("keeps the TTL bound when the store's figure is larger, or when the read fails; 0 once the lease is gone", async () => {
    const { make, setRead } = setup();
    await make("a", 8000).claim();
    setRead(async () => 9500);
    expect((await make("b").claim({ ttlLeft: true })).ttlLeftMs).toBe(8000);
    setRead(() => Promise.reject(new LeaseTimeoutError("no answer")));
    expect((await make("b").claim({ ttlLeft: true })).ttlLeftMs).toBe(8000);
    setRead(async () => null);
    expect((await make("b").claim({ ttlLeft: true })).ttlLeftMs).toBe(0);
  });

  it("is null for a holder that publishes no TTL, unless the store tells", async () => {
    const clock = fakeClock();
    const inner = memoryBackend({ clock });
    const backend: Backend = {
      ...inner,
      claim: async () => ({
        held: false,
        leader: { holder: "go", token: 7n, ttlMs: null, leaseId: "9", parked: false },
      }),
      ttlLeft: async () => 4200,
    };
    const b = createLease({ backend, clock, name: "n", holder: "b", ttlMs: 3000 });
    expect((await b.claim()).ttlLeftMs).toBeNull();
    expect((await b.claim({ ttlLeft: true })).ttlLeftMs).toBe(4200);
  });
});
