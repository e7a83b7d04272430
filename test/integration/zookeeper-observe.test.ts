/**
 * observe() on a real ZooKeeper 3.8: through leasehold-zk-gateway's `/leasehold/v1/watch` long poll (watch
 * mode: every change of the leader znode in order, a release seen at once, not at the next poll), and polling
 * where there is no watch (Apache's gateway, `extensions: "none"` or a gateway without the extension) or where
 * the gateway cannot tell what changed (a data version that jumped: 410).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { zookeeper } from "../../adapters/zookeeper/index.ts";
import { ZkSession } from "../../packages/zk-gateway/src/zk.ts";
import {
  createLease,
  HttpStatusError,
  type LeaderChange,
  type ObserveEvent,
  observe,
  UnsupportedError,
} from "../../src/index.ts";

const url = inject("zkGatewayUrl");
const plainUrl = inject("zkPlainGatewayUrl");
const run = Math.random().toString(36).slice(2, 8);
let n = 0;
const fresh = (what: string) => `${what}-${run}-${n++}`;
let zk: ZkSession;

beforeAll(async () => {
  zk = await ZkSession.open(inject("zkConnectString"), { sessionTimeoutMs: 10_000, callTimeoutMs: 5000 });
});
afterAll(() => zk.close());

/** Reads the events of an observation one by one, with a deadline on each. */
function follow(events: AsyncGenerator<ObserveEvent>) {
  const seen: ObserveEvent[] = [];
  return {
    seen,
    async next(type: ObserveEvent["type"], withinMs = 10_000): Promise<ObserveEvent> {
      for (;;) {
        const timer = new Promise<never>((_, reject) =>
          setTimeout(
            () => reject(new Error(`no ${type} event in ${withinMs} ms: ${JSON.stringify(seen, big)}`)),
            withinMs,
          ),
        );
        const { value, done } = await Promise.race([events.next(), timer]);
        if (done) throw new Error("the observation ended");
        seen.push(value);
        if (value.type === type) return value;
      }
    },
  };
}

const big = (_: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v);
const who = (e: ObserveEvent) => {
  const c = e as LeaderChange;
  return c.leader ? `${c.leader.holder}${c.leader.parked ? " parked" : ""}` : "free";
};

describe("ZooKeeper observe through leasehold-zk-gateway's watch", () => {
  it("sees every change of the term in order, at increasing zxids, in watch mode", async () => {
    const backend = zookeeper({ url, prefix: `/observe-${run}`, extensions: "leasehold-v1" });
    const name = fresh("order");
    const stop = new AbortController();
    const events = follow(observe(backend, name, { signal: stop.signal, pollIntervalMs: 60_000 }));
    try {
      expect(await events.next("mode")).toMatchObject({ mode: "watch" });
      const changes: ObserveEvent[] = [await events.next("change")];
      const a = createLease({ backend, name, holder: "a", ttlMs: 10_000 });
      const b = createLease({ backend, name, holder: "b", ttlMs: 10_000 });
      const steps = [
        () => a.claim(),
        () => a.park(),
        () => a.claim(),
        () => a.release(),
        () => b.claim(),
        () => b.release(),
      ];
      for (const step of steps) {
        await step();
        changes.push(await events.next("change"));
      }
      expect(changes.map(who)).toEqual(["free", "a", "a parked", "a", "free", "b", "free"]);
      expect(changes.every((c) => (c as LeaderChange).mode === "watch")).toBe(true);
      const revisions = changes.map((c) => (c as LeaderChange).revision as bigint);
      expect(revisions.slice(1).every((r, i) => r > (revisions[i] as bigint))).toBe(true);
      expect(events.seen.filter((e) => e.type !== "change")).toHaveLength(1);
    } finally {
      stop.abort();
    }
  });

  it("sees a release at once: long before the next poll or watch check would", async () => {
    const backend = zookeeper({ url, prefix: `/observe-${run}`, extensions: "leasehold-v1" });
    const name = fresh("release");
    const a = createLease({ backend, name, holder: "a", ttlMs: 30_000 });
    await a.claim();
    const stop = new AbortController();
    const events = follow(
      observe(backend, name, { signal: stop.signal, pollIntervalMs: 60_000, watchCheckMs: 60_000 }),
    );
    try {
      expect(who(await events.next("change"))).toBe("a");
      // Real time on a real server: let the next long poll reach the gateway and wait there.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const released = Date.now();
      await a.release();
      const change = await events.next("change", 5000);
      expect(who(change)).toBe("free");
      expect(Date.now() - released).toBeLessThan(1000);
    } finally {
      stop.abort();
    }
  });

  it("polls when the gateway cannot tell what changed (the data version jumped): 410, then polling", async () => {
    const backend = zookeeper({ url, prefix: `/observe-${run}`, extensions: "leasehold-v1" });
    const name = fresh("gap");
    const a = createLease({ backend, name, holder: "a", ttlMs: 30_000 });
    await a.claim();
    const stop = new AbortController();
    const events = follow(observe(backend, name, { signal: stop.signal, pollIntervalMs: 100 }));
    try {
      expect(await events.next("mode")).toMatchObject({ mode: "watch" });
      await events.next("change");
      // Rewrites of the same record, back to back: ZooKeeper's one-shot watch cannot report each of them.
      const path = `/observe-${run}/${name}`;
      const { data } = await zk.getData(path);
      await Promise.all(Array.from({ length: 50 }, () => zk.setData(path, data, -1)));
      const mode = await events.next("mode");
      expect(mode).toMatchObject({ mode: "poll", error: expect.any(HttpStatusError) });
      expect(mode.type === "mode" && mode.error instanceof HttpStatusError && mode.error.status).toBe(410);
    } finally {
      stop.abort();
      await a.release();
    }
  });
});

describe("ZooKeeper observe without a watch", () => {
  it('polls with extensions: "none" (no Backend.observe) and against a gateway without the extension', async () => {
    const none = zookeeper({ url: plainUrl, prefix: `/observe-${run}`, extensions: "none" });
    expect(none.observe).toBeUndefined();
    const stop = new AbortController();
    const plain = follow(observe(none, fresh("plain"), { signal: stop.signal, pollIntervalMs: 100 }));
    const auto = zookeeper({ url: plainUrl, prefix: `/observe-${run}` });
    const detected = follow(observe(auto, fresh("auto"), { signal: stop.signal, pollIntervalMs: 100 }));
    try {
      expect(await plain.next("mode")).toMatchObject({
        mode: "poll",
        reason: expect.stringMatching(/no watch/),
      });
      expect(who(await plain.next("change"))).toBe("free");
      expect(await detected.next("mode")).toMatchObject({
        mode: "poll",
        error: expect.any(UnsupportedError),
      });
      expect(who(await detected.next("change"))).toBe("free");
    } finally {
      stop.abort();
    }
  });
});
