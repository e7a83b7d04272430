/**
 * observe()'s polling: for backends without a watch (ZooKeeper), and as the fallback when a watch is lost, with
 * the mode and error events that say so. Driven by the fake clock.
 */
import { describe, expect, it } from "vitest";
import { type FakeClock, fakeClock, memoryBackend } from "../../../adapters/testing/index.ts";
import {
  type Backend,
  createLease,
  type LeaderInfo,
  MalformedResponseError,
  type ObservedTerm,
  type ObserveEvent,
  observe,
  TransportError,
} from "../../../src/backend-kit.ts";

const NAME = "jobs/report";

const setup = () => {
  const clock = fakeClock();
  const memory = memoryBackend({ clock });
  const make = (backend: Backend, holder: string) =>
    createLease({ backend, clock, name: NAME, holder, ttlMs: 60_000 });
  return { clock, memory, make };
};

/** The memory backend without its watch, like ZooKeeper's. */
const withoutWatch = (backend: Backend): Backend => {
  const { observe: _watch, ...rest } = backend;
  return rest;
};

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The next event, advancing the fake clock by `stepMs` until it comes (polls need time to pass). */
async function next(events: AsyncIterator<ObserveEvent>, clock: FakeClock, stepMs = 1000) {
  const pending = events.next();
  let done = false;
  void pending.then(() => {
    done = true;
  });
  for (let i = 0; i < 1000 && !done; i++) {
    await flush();
    if (!done) clock.advance(stepMs);
  }
  return (await pending).value as ObserveEvent;
}

const holderOf = (e: ObserveEvent) => (e.type === "change" ? (e.leader?.holder ?? "free") : e.type);

describe("observe by polling", () => {
  it("polls a backend without a watch, says so first, and reports each new state once", async () => {
    const { clock, memory, make } = setup();
    const backend = withoutWatch(memory);
    const events = observe(backend, NAME, { clock, pollIntervalMs: 1000 });
    expect(await next(events, clock)).toMatchObject({ type: "mode", mode: "poll", reason: /has no watch/ });
    expect(await next(events, clock)).toMatchObject({
      type: "change",
      mode: "poll",
      leader: null,
      revision: null,
    });
    const a = make(backend, "a");
    await a.claim();
    const start = clock.now();
    const claimed = await next(events, clock);
    expect(claimed).toMatchObject({ type: "change", leader: { holder: "a", parked: false } });
    expect(clock.now() - start).toBe(1000);
    // A park and a resume between two polls leave the same state: polling cannot see them (watch mode does).
    await a.park();
    const resumed = make(backend, "a");
    await resumed.claim();
    await make(backend, "b").claim();
    clock.advance(5000);
    await resumed.release();
    await make(backend, "b").claim();
    expect(holderOf(await next(events, clock))).toBe("b");
    await events.return();
  });

  it("reports a failed poll as an error event and goes on polling", async () => {
    const { clock, memory } = setup();
    let failures = 1;
    const backend: Backend = {
      ...withoutWatch(memory),
      leader: (name, ctx) =>
        failures-- > 0 ? Promise.reject(new TransportError("refused")) : memory.leader(name, ctx),
    };
    const events = observe(backend, NAME, { clock });
    await next(events, clock);
    expect(await next(events, clock)).toMatchObject({
      type: "error",
      mode: "poll",
      error: { code: "TRANSPORT" },
    });
    expect(await next(events, clock)).toMatchObject({ type: "change", leader: null });
    await events.return();
  });

  it("falls back to polling when the watch is lost, then watches again after watchRetryMs", async () => {
    const { clock, memory, make } = setup();
    let attempts = 0;
    const backend: Backend = {
      ...memory,
      async *observe(name, options) {
        attempts++;
        const watch = memory.observe?.(name, options) as AsyncIterable<ObservedTerm>;
        for await (const term of watch) {
          yield term;
          if (attempts === 1) throw new TransportError("stream cut, reconnect refused");
        }
      },
    };
    const events = observe(backend, NAME, { clock, pollIntervalMs: 1000, watchRetryMs: 5000 });
    expect((await next(events, clock)).type).toBe("mode");
    expect(holderOf(await next(events, clock))).toBe("free");
    const lost = await next(events, clock);
    expect(lost).toMatchObject({
      type: "mode",
      mode: "poll",
      reason: /watch was lost/,
      error: { code: "TRANSPORT" },
    });
    const a = make(backend, "a");
    await a.claim();
    expect(await next(events, clock)).toMatchObject({
      type: "change",
      mode: "poll",
      leader: { holder: "a" },
    });
    const back = await next(events, clock);
    expect(back).toMatchObject({ type: "mode", mode: "watch" });
    expect(attempts).toBe(2);
    // Back on the watch the unchanged term is not reported again; the next change is, at its revision.
    await a.release();
    const advanced = clock.now();
    await make(backend, "b").claim();
    expect(await next(events, clock)).toMatchObject({ type: "change", mode: "watch", leader: null });
    expect(await next(events, clock)).toMatchObject({
      type: "change",
      mode: "watch",
      leader: { holder: "b" },
    });
    expect(clock.now()).toBe(advanced);
    await events.return();
  });

  it("never reports a malformed term from a watch: the watch is dropped for polling", async () => {
    const { clock, memory } = setup();
    const bad: LeaderInfo = { holder: "x", token: 0n, ttlMs: 1000, leaseId: "1", parked: false };
    const backend: Backend = {
      ...withoutWatch(memory),
      async *observe() {
        yield { leader: bad, revision: 1n };
      },
    };
    const events = observe(backend, NAME, { clock });
    expect((await next(events, clock)).type).toBe("mode");
    const lost = await next(events, clock);
    expect(lost).toMatchObject({ type: "mode", mode: "poll" });
    expect((lost as { error?: unknown }).error).toBeInstanceOf(MalformedResponseError);
    expect(await next(events, clock)).toMatchObject({ type: "change", mode: "poll", leader: null });
    await events.return();
  });

  it("says so when a watch ends by itself, and polls", async () => {
    const { clock, memory } = setup();
    const backend: Backend = {
      ...withoutWatch(memory),
      async *observe() {
        yield { leader: null, revision: 1n };
      },
    };
    const events = observe(backend, NAME, { clock });
    await next(events, clock);
    await next(events, clock);
    expect(await next(events, clock)).toMatchObject({ type: "mode", mode: "poll", reason: /watch ended/ });
    await events.return();
  });
});
