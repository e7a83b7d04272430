/**
 * Queued campaigns on a real etcd (`etcdWithWatch`): a follower leads one watch delivery after the leader's
 * release, and within the TTL plus etcd's expiry slack after a leader that crashed; over many handovers among
 * several electors at most one `onElected` runs at a time and tokens strictly increase; try-claims and queued
 * candidates share the election (a claim wins only when nobody is queued).
 */
import { afterAll, expect, inject, it } from "vitest";
import { etcdWithWatch } from "../../adapters/etcd/watch.ts";
import { type Backend, createLease, type Elector, type LeaseState, startElector } from "../../src/index.ts";

const TTL_MS = 2000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const backends: Backend[] = [];
afterAll(() => Promise.all(backends.map((b) => b.close?.())));

function election(tag: string) {
  const backend = etcdWithWatch({
    endpoints: [inject("etcdEndpoint")],
    prefix: `campaign-${tag}-${Date.now()}-${Math.floor(Math.random() * 1e9)}/`,
  });
  backends.push(backend);
  const lease = (holder: string, ttlMs = TTL_MS) =>
    createLease({ backend, name: "jobs/queued", holder, ttlMs });
  return { backend, lease };
}

/** Resolves with the value once `check` returns one, polling every 5 ms for at most `ms`. */
async function until<T>(check: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await sleep(5);
  }
}

it("queues a follower behind the leader, and hands over one watch delivery after the release", async () => {
  const { backend, lease } = election("release");
  expect(backend.capabilities.campaign).toBe(true);
  const elected: { who: string; at: number; token: bigint }[] = [];
  const start = (who: string) =>
    startElector({
      lease: lease(who),
      retryIntervalMs: TTL_MS - 100,
      onElected: (s: LeaseState) => elected.push({ who, at: Date.now(), token: s.token as bigint }),
    });
  const a = start("a");
  await until(() => (elected.length === 1 ? true : undefined));
  const b = start("b");
  await sleep(300);
  // b waits in the queue: a try-claim finds the election held and takes nothing.
  expect((await lease("c").claim()).holder).toBe("a");
  const releasedAt = Date.now();
  await a.stop({ release: true });
  const second = await until(() => elected[1]);
  expect(second.who).toBe("b");
  expect(second.token).toBeGreaterThan(elected[0]?.token as bigint);
  expect(second.at - releasedAt).toBeLessThan(500);
  await b.stop({ release: true });
  expect(await lease("reader").leader()).toBeNull();
});

it("after a leader that crashed (no release, no renewal), leads within the TTL + expiry slack + a round trip", async () => {
  const { lease } = election("crash");
  const crashed = await lease("crashed").claim();
  const claimedAt = Date.now();
  expect(crashed.isLeader).toBe(true);
  let electedAt = 0;
  const b = startElector({ lease: lease("b"), onElected: () => (electedAt = Date.now()) });
  await until(() => (electedAt ? true : undefined), TTL_MS + 3000);
  expect(electedAt - claimedAt).toBeGreaterThan(TTL_MS - 200);
  expect(electedAt - claimedAt).toBeLessThan(TTL_MS + 500 + 1000);
  await b.stop({ release: true });
});

it("over many handovers among several electors, at most one onElected runs at a time; tokens increase", async () => {
  const { lease } = election("many");
  let active = 0;
  let overlaps = 0;
  const tokens: bigint[] = [];
  const electors = new Map<string, Elector>();
  const start = (who: string) => {
    const elector = startElector({
      lease: lease(who),
      onElected: async (s: LeaseState, signal) => {
        active++;
        if (active > 1) overlaps++;
        tokens.push(s.token as bigint);
        await sleep(10);
        active--;
        // Hand over: resign, then queue again as a new campaigner.
        if (!signal.aborted) queueMicrotask(() => restart(who));
      },
    });
    electors.set(who, elector);
  };
  const restart = async (who: string) => {
    await electors.get(who)?.stop({ release: true });
    if (tokens.length < 20) start(who);
  };
  for (const who of ["a", "b", "c", "d"]) start(who);
  await until(() => (tokens.length >= 20 ? true : undefined), 20_000);
  await sleep(100);
  await Promise.all([...electors.values()].map((e) => e.stop({ release: true })));
  expect(overlaps).toBe(0);
  for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1] as bigint);
  expect(await lease("reader").leader()).toBeNull();
});

it("a queued campaigner of the same holder resumes that holder's parked term, same token", async () => {
  const { lease } = election("parked");
  const first = lease("svc");
  const held = await first.claim();
  const other = startElector({ lease: lease("other") });
  await sleep(200);
  let resumed: LeaseState | undefined;
  const again = startElector({ lease: lease("svc"), onElected: (s) => (resumed = s) });
  await sleep(200);
  expect(resumed).toBeUndefined();
  await first.park();
  const state = await until(() => resumed, 2000);
  expect(state.token).toBe(held.token);
  await again.stop({ release: true });
  await other.stop({ release: true });
});
