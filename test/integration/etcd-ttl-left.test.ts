/**
 * The time left of a term's lease, from etcd's own figure (`POST /v3/lease/timetolive`), as an upper bound: never
 * below the time the lease really has left, and null once etcd no longer has it.
 */
import { describe, expect, inject, it } from "vitest";
import { etcd } from "../../adapters/etcd/index.ts";
import { createLease, deadlineSignal } from "../../src/backend-kit.ts";

const endpoint = inject("etcdEndpoint");
const ctx = () => ({ signal: deadlineSignal(2000), timeoutMs: 2000 });

describe("etcd ttlLeft", () => {
  it("bounds the time left of another holder's lease from above, and is null once the lease is gone", async () => {
    const backend = etcd({ endpoints: [endpoint], prefix: `ttl-left-${process.pid}/` });
    const holder = createLease({ backend, name: "jobs/x", holder: "a", ttlMs: 10_000 });
    const held = await holder.claim();
    const sentAt = Date.now();
    const seen = await createLease({ backend, name: "jobs/x", holder: "b", ttlMs: 10_000 }).claim();
    expect(seen).toMatchObject({ isLeader: false, leaseId: held.leaseId });
    const left = await backend.ttlLeft?.(seen.leaseId as string, ctx());
    // Renewed at most a moment ago: close to the full TTL, and never less than what validUntil promised.
    expect(left).toBeGreaterThanOrEqual((held.validUntil as number) - sentAt);
    expect(left).toBeLessThanOrEqual(10_000 + 1500);
    await holder.release();
    expect(await backend.ttlLeft?.(seen.leaseId as string, ctx())).toBeNull();
  });
});
