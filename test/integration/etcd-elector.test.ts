/**
 * Two electors on one lease on a real etcd: exactly one leads, and when it stops without releasing (as a crashed
 * service would), the other takes over after the real TTL, with a higher fencing token and no overlap.
 */
import { expect, inject, it } from "vitest";
import { etcd } from "../../adapters/etcd/index.ts";
import { createLease, type LeaseState, startElector } from "../../src/index.ts";

it("hands leadership over between two electors without overlap", async () => {
  const backend = etcd({ endpoints: [inject("etcdEndpoint")], prefix: `elector-${Date.now()}/` });
  const timeline: { who: string; event: "elected" | "demoted"; at: number; token?: bigint | null }[] = [];
  const start = (who: string) =>
    startElector({
      lease: createLease({ backend, name: "jobs/elected", holder: who, ttlMs: 2000 }),
      retryIntervalMs: 200,
      onElected: (s: LeaseState) => timeline.push({ who, event: "elected", at: Date.now(), token: s.token }),
      onDemoted: () => timeline.push({ who, event: "demoted", at: Date.now() }),
    });
  const a = start("a");
  await new Promise((r) => setTimeout(r, 300));
  const b = start("b");
  await new Promise((r) => setTimeout(r, 2500));
  expect(timeline.filter((e) => e.event === "elected").map((e) => e.who)).toEqual(["a"]);
  expect(b.state().isLeader).toBe(false);

  const stoppedAt = Date.now();
  await a.stop();
  await new Promise((r) => setTimeout(r, 3500));
  const elected = timeline.filter((e) => e.event === "elected");
  expect(elected.map((e) => e.who)).toEqual(["a", "b"]);
  expect(elected[1]?.token).toBeGreaterThan(elected[0]?.token as bigint);
  // b cannot win before a's lease expires in etcd (TTL after a's last renewal, at most TTL/3 before the stop).
  expect((elected[1]?.at as number) - stoppedAt).toBeGreaterThan(2000 - 2000 / 3 - 100);
  expect(b.state().isLeader).toBe(true);
  await b.stop({ release: true });
  expect(await createLease({ backend, name: "jobs/elected", holder: "c", ttlMs: 2000 }).leader()).toBeNull();
});
