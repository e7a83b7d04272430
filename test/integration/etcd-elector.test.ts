/**
 * Electors on one lease on a real etcd. Exactly one leads. When it stops without releasing it parks its term:
 * another holder takes over only once the term expires (after the real TTL), with a higher fencing token and
 * no overlap, while a restarted elector with the same holder resumes the parked term at once. `stop({ release:
 * true })` hands over at once.
 */
import { expect, inject, it } from "vitest";
import { etcd } from "../../adapters/etcd/index.ts";
import { createLease, type LeaseState, startElector } from "../../src/index.ts";

const TTL_MS = 2000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function electors(prefix: string) {
  const backend = etcd({ endpoints: [inject("etcdEndpoint")], prefix: `${prefix}-${Date.now()}/` });
  const timeline: { who: string; event: "elected" | "demoted"; at: number; token?: bigint | null }[] = [];
  const start = (who: string, holder = who) =>
    startElector({
      lease: createLease({ backend, name: "jobs/elected", holder, ttlMs: TTL_MS }),
      retryIntervalMs: 200,
      onElected: (s: LeaseState) => timeline.push({ who, event: "elected", at: Date.now(), token: s.token }),
      onDemoted: () => timeline.push({ who, event: "demoted", at: Date.now() }),
    });
  const elected = () => timeline.filter((e) => e.event === "elected");
  const leader = () =>
    createLease({ backend, name: "jobs/elected", holder: "reader", ttlMs: TTL_MS }).leader();
  return { start, elected, leader };
}

it("parks on stop(): another holder takes over only once the term expires, without overlap", async () => {
  const { start, elected, leader } = electors("elector-park");
  const a = start("a");
  await sleep(300);
  const b = start("b");
  await sleep(2500);
  expect(elected().map((e) => e.who)).toEqual(["a"]);
  expect(b.state().isLeader).toBe(false);

  const stoppedAt = Date.now();
  await a.stop();
  expect(await leader()).toMatchObject({ holder: "a", token: elected()[0]?.token, parked: true });
  await sleep(3500);
  expect(elected().map((e) => e.who)).toEqual(["a", "b"]);
  expect(elected()[1]?.token).toBeGreaterThan(elected()[0]?.token as bigint);
  // b cannot win before a's lease expires in etcd (TTL after a's last renewal, at most TTL/3 before the stop).
  expect((elected()[1]?.at as number) - stoppedAt).toBeGreaterThan(TTL_MS - TTL_MS / 3 - 100);
  expect(b.state().isLeader).toBe(true);
  await b.stop({ release: true });
  expect(await leader()).toBeNull();
});

it("resumes the parked term in a restarted elector of the same holder; stop({ release: true }) hands over at once", async () => {
  const { start, elected, leader } = electors("elector-resume");
  const a = start("a");
  await sleep(300);
  const b = start("b");
  await sleep(500);
  await a.stop();
  const restarted = start("a again", "a");
  await sleep(300);
  expect(elected().map((e) => e.who)).toEqual(["a", "a again"]);
  expect(elected()[1]?.token).toBe(elected()[0]?.token);
  expect(restarted.state()).toMatchObject({ isLeader: true, token: elected()[0]?.token });

  // Well past the first run's TTL: the resumed term is renewed, b still follows.
  await sleep(TTL_MS + 1000);
  expect(elected().map((e) => e.who)).toEqual(["a", "a again"]);

  const releasedAt = Date.now();
  await restarted.stop({ release: true });
  await sleep(600);
  expect(elected().map((e) => e.who)).toEqual(["a", "a again", "b"]);
  expect(elected()[2]?.token).toBeGreaterThan(elected()[0]?.token as bigint);
  // Within b's retry interval (200 ms) and a round trip, far below the TTL: no wait for an expiry.
  expect((elected()[2]?.at as number) - releasedAt).toBeLessThan(TTL_MS / 2);
  await b.stop({ release: true });
  expect(await leader()).toBeNull();
});
