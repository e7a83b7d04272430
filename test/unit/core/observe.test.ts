/**
 * observe() on the memory backend's watch, driven by the fake clock: every change in order (claim, park, resume,
 * release, expiry), none repeated, none missed when they come faster than the consumer reads.
 */
import { describe, expect, it } from "vitest";
import { fakeClock, memoryBackend } from "../../../adapters/testing/index.ts";
import {
  type Backend,
  createLease,
  InvalidArgumentError,
  type LeaderChange,
  type ObserveEvent,
  observe,
} from "../../../src/index.ts";

const setup = (startRevision = 0n) => {
  const clock = fakeClock();
  const backend = memoryBackend({ clock, startRevision });
  const make = (holder: string, ttlMs = 3000) =>
    createLease({ backend, clock, name: "jobs/report", holder, ttlMs });
  return { clock, backend, make };
};

/** The next event; lets pending microtasks and I/O callbacks run first without real sleeping. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

async function take(events: AsyncIterator<ObserveEvent>, n: number): Promise<ObserveEvent[]> {
  const out: ObserveEvent[] = [];
  for (let i = 0; i < n; i++) {
    const next = await events.next();
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

const summary = (e: ObserveEvent) =>
  e.type === "change"
    ? e.leader === null
      ? "free"
      : `${e.leader.holder}${e.leader.parked ? " parked" : ""} #${e.leader.token}`
    : `${e.type}:${e.mode}`;

describe("observe on the memory backend's watch", () => {
  it("starts with the mode and the current state, then reports claim, park, resume, release, expiry", async () => {
    const { clock, make } = setup();
    const a = make("a");
    const b = make("b");
    const events = observe(a.backend, "jobs/report", { clock });
    expect((await take(events, 2)).map(summary)).toEqual(["mode:watch", "free"]);

    await a.claim();
    const [claimed] = (await take(events, 1)) as [LeaderChange];
    expect(claimed).toMatchObject({ type: "change", mode: "watch", leader: { holder: "a", parked: false } });
    await a.park();
    const resumed = make("a");
    await resumed.claim();
    await b.release();
    await resumed.release();
    await b.claim();
    const seen = await take(events, 4);
    clock.advance(3000);
    seen.push(...(await take(events, 1)));
    const token = claimed.leader?.token;
    expect(seen.map(summary)).toEqual([
      `a parked #${token}`,
      `a #${token}`,
      "free",
      `b #${(token as bigint) + 4n}`,
      "free",
    ]);
    const revisions = [claimed, ...seen].map((e) => (e as LeaderChange).revision as bigint);
    expect(revisions).toEqual([...revisions].sort((x, y) => (x < y ? -1 : 1)));
    expect(new Set(revisions).size).toBe(revisions.length);
    await events.return();
  });

  it("reports nothing for calls that change no state: renewals, losing claims, guarded writes", async () => {
    const { make } = setup();
    const a = make("a");
    await a.claim();
    const events = observe(a, {});
    expect((await take(events, 2)).map(summary)).toEqual(["mode:watch", "a #1"]);
    await a.renew();
    await make("b").claim();
    await make("a").claim();
    await a.doIfLeader([{ type: "put", key: "app/x", value: "1" }]);
    await a.release();
    expect((await take(events, 1)).map(summary)).toEqual(["free"]);
    await events.return();
  });

  it("misses none of several changes made before the consumer reads, with exact tokens above 2^53", async () => {
    const { make } = setup(2n ** 60n);
    const a = make("a");
    const events = observe(a, {});
    await take(events, 2);
    await a.claim();
    await a.park();
    const resumed = make("a");
    await resumed.claim();
    await resumed.release();
    await make("c").claim();
    expect((await take(events, 5)).map(summary)).toEqual([
      `a #${2n ** 60n + 1n}`,
      `a parked #${2n ** 60n + 1n}`,
      `a #${2n ** 60n + 1n}`,
      "free",
      `c #${2n ** 60n + 5n}`,
    ]);
    await events.return();
  });

  it("follows a renewed term's new deadline instead of reporting it expired at the old one", async () => {
    const { clock, make } = setup();
    const a = make("a");
    await a.claim();
    const events = observe(a, { clock });
    await take(events, 2);
    const next = events.next();
    await flush();
    clock.advance(2000);
    await a.renew();
    clock.advance(2000);
    await flush();
    let settled = false;
    void next.then(() => {
      settled = true;
    });
    await flush();
    expect(settled).toBe(false);
    clock.advance(1000);
    expect(summary((await next).value as ObserveEvent)).toBe("free");
  });

  it("ends when the signal aborts, and drops its watcher when the consumer breaks out", async () => {
    const { make } = setup();
    const a = make("a");
    const stop = new AbortController();
    const events = observe(a, { signal: stop.signal });
    await take(events, 2);
    const pending = events.next();
    stop.abort();
    expect(await pending).toEqual({ done: true, value: undefined });

    let open = 0;
    const inner = a.backend;
    const counted: Backend = {
      ...inner,
      leader: (name, ctx) => inner.leader(name, ctx),
      async *observe(name, options) {
        open++;
        try {
          yield* inner.observe?.(name, options) ?? [];
        } finally {
          open--;
        }
      },
    };
    for await (const event of observe(counted, "jobs/report")) {
      expect(open).toBe(1);
      if (event.type === "change") break;
    }
    expect(open).toBe(0);
  });

  it("refuses bad options and names at the call, before anything is read", () => {
    const { backend } = setup();
    expect(() => observe(backend, "a//b")).toThrow(InvalidArgumentError);
    expect(() => observe(backend, "a", { pollIntervalMs: 5 })).toThrow(/pollIntervalMs/);
    expect(() => observe(backend, "a", { watchRetryMs: 1.5 })).toThrow(/watchRetryMs/);
    expect(() => observe(backend, "a", { watchCheckMs: 0 })).toThrow(/watchCheckMs/);
    expect(() => observe(backend, "a", { requestTimeoutMs: 700_000 })).toThrow(/requestTimeoutMs/);
  });
});
