/**
 * The time left of a term's lease, from etcd's own figure (`POST /v3/lease/timetolive`), as an upper bound: never
 * below the time the lease really has left, and null once etcd no longer has it. `LeaseState.ttlLeftMs` carries
 * it when a claim asks, and otherwise costs no request.
 */
import { describe, expect, inject, it } from "vitest";
import { etcd } from "../../adapters/etcd/index.ts";
import { createLease, deadlineSignal, fetchTransport, type Transport } from "../../src/backend-kit.ts";

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

describe("LeaseState.ttlLeftMs on etcd", () => {
  it("bounds the lease's time left from above: the TTL bound in the claim's one request, etcd's with ttlLeft", async () => {
    const base = fetchTransport();
    const paths: string[] = [];
    const transport: Transport = {
      request(req) {
        paths.push(new URL(req.url).pathname);
        return base.request(req);
      },
    };
    const backend = etcd({ endpoints: [endpoint], prefix: `ttl-left-state-${process.pid}/`, transport });
    const holder = createLease({ backend, name: "jobs/y", holder: "a", ttlMs: 10_000 });
    const held = await holder.claim();
    // The lease has at least what etcd reports (whole seconds, rounded down): never more than the bound.
    const etcdSeconds = ((await backend.ttlLeft?.(held.leaseId as string, ctx())) ?? 0) - 1500;
    expect(holder.state().ttlLeftMs).toBeGreaterThanOrEqual(etcdSeconds);
    expect(holder.state().ttlLeftMs).toBeLessThanOrEqual(10_500);

    const other = createLease({ backend, name: "jobs/y", holder: "b", ttlMs: 3000 });
    paths.length = 0;
    const seen = await other.claim();
    expect(paths).toEqual(["/v3/kv/txn"]);
    // The holder's TTL (10 s, not the caller's 3 s) plus etcd's 500 ms of slack, counted from the answer.
    expect(seen.ttlLeftMs).toBeGreaterThan(10_000);
    expect(seen.ttlLeftMs).toBeLessThanOrEqual(10_500);

    paths.length = 0;
    const asked = await other.claim({ ttlLeft: true });
    expect(paths).toEqual(["/v3/kv/txn", "/v3/lease/timetolive"]);
    expect(asked).toMatchObject({ isLeader: false, holder: "a", leaseId: held.leaseId });
    expect(asked.ttlLeftMs).toBeGreaterThanOrEqual((held.validUntil as number) - Date.now());
    expect(asked.ttlLeftMs).toBeLessThanOrEqual(10_500);
    await holder.release();
  });
});
