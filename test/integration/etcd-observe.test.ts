/**
 * observe() on real etcd with the watch of `etcdWithWatch`: every change in order and once (claim, park, resume,
 * release, expiry), a cut stream resumed from the next revision, and the fallback to polling, said in the
 * iterable, on a compacted revision and behind a proxy that holds the stream back.
 */
import { connect, createServer, type Socket } from "node:net";
import { afterAll, describe, expect, inject, it } from "vitest";
import { etcd } from "../../adapters/etcd/index.ts";
import { etcdWithWatch } from "../../adapters/etcd/watch.ts";
import { startEtcd } from "../../scripts/lib/etcd-server.ts";
import {
  type Backend,
  createLease,
  type LeaderChange,
  LeaseTimeoutError,
  type ObserveEvent,
  observe,
  UnsupportedError,
} from "../../src/index.ts";

const endpoint = inject("etcdEndpoint");
const prefix = `observe-${Date.now()}-${Math.floor(Math.random() * 1e9)}/`;
const direct = etcd({ endpoints: [endpoint], prefix });
const closers: (() => Promise<unknown> | undefined)[] = [() => direct.close?.()];
afterAll(() => Promise.all(closers.map((close) => close())));

interface WatchProxy {
  endpoint: string;
  /** Destroys every open connection (streams break); new ones are accepted. */
  cut(): void;
  /** What clients sent on each watch connection, in order of connection. */
  watchRequests: string[];
  /** From now on, keeps what etcd sends on watch connections (as with `holdWatch`). */
  hold(): void;
}

/**
 * A loopback proxy to etcd. With `holdWatch`, it passes requests on but keeps every byte etcd sends back on a
 * watch connection, as a buffering proxy does with a response that never ends.
 */
async function startProxy(holdWatch = false, target = endpoint): Promise<WatchProxy> {
  const url = new URL(target);
  const sockets = new Set<Socket>();
  const watchRequests: string[] = [];
  let holding = holdWatch;
  const server = createServer((client) => {
    const upstream = connect(Number(url.port), url.hostname);
    let watch: number | null = null;
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined);
      s.on("close", () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(s);
      });
    }
    client.on("data", (data: Buffer) => {
      const text = data.toString("latin1");
      if (watch === null && text.startsWith("POST /v3/watch")) watch = watchRequests.push("") - 1;
      if (watch !== null) watchRequests[watch] += text;
      upstream.write(data);
    });
    upstream.on("data", (data: Buffer) => {
      if (!(holding && watch !== null)) client.write(data);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  closers.push(
    () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(resolve);
      }),
  );
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    watchRequests,
    hold: () => {
      holding = true;
    },
  };
}

function watched(endpoints: string[]): Backend {
  const backend = etcdWithWatch({ endpoints, prefix });
  closers.push(() => backend.close?.());
  return backend;
}

const lease = (name: string, holder: string, ttlMs = 10_000, backend = direct) =>
  createLease({ backend, name, holder, ttlMs });

/** The next event, or a failure after `ms`. */
async function next(events: AsyncIterator<ObserveEvent>, ms = 5000): Promise<ObserveEvent> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no event within ${ms} ms`)), ms);
  });
  try {
    return (await Promise.race([events.next(), late])).value as ObserveEvent;
  } finally {
    clearTimeout(timer);
  }
}

const summary = (e: ObserveEvent) =>
  e.type === "change"
    ? `${e.mode} ${e.leader === null ? "free" : `${e.leader.holder}${e.leader.parked ? " parked" : ""}`}`
    : `${e.type} ${e.mode}`;

describe("observe on etcd's watch", () => {
  it("sees claim, park, resume, release and expiry in order, each once, at increasing revisions", async () => {
    const name = "changes";
    const events = observe(watched([endpoint]), name);
    expect([await next(events), await next(events)].map(summary)).toEqual(["mode watch", "watch free"]);
    // Another name whose keys fall within the watched range (E-x sorts between E and E0): not this lease.
    await lease(`${name}-x`, "z").claim();
    const a = lease(name, "a");
    await a.claim();
    await a.park();
    const resumed = lease(name, "a");
    await resumed.claim();
    await resumed.renew();
    await lease(name, "b").claim();
    await resumed.release();
    const b = lease(name, "b", 2000);
    await b.claim();
    const seen: LeaderChange[] = [];
    for (let i = 0; i < 6; i++) seen.push((await next(events)) as LeaderChange);
    expect(seen.map(summary)).toEqual([
      "watch a",
      "watch a parked",
      "watch a",
      "watch free",
      "watch b",
      "watch free",
    ]);
    expect(seen[0]?.leader?.token).toBe(seen[2]?.leader?.token);
    expect(seen[4]?.leader).toMatchObject({ holder: "b", ttlMs: 2000 });
    const revisions = seen.map((e) => e.revision as bigint);
    expect(revisions.every((r, i) => i === 0 || r > (revisions[i - 1] as bigint))).toBe(true);
    await events.return();
  }, 15_000);

  it("opens a cut stream again from the last revision + 1, missing and repeating nothing", async () => {
    const name = "cut";
    const proxy = await startProxy();
    const events = observe(watched([proxy.endpoint]), name);
    await next(events);
    await next(events);
    const a = lease(name, "a");
    await a.claim();
    const claimed = (await next(events)) as LeaderChange;
    proxy.cut();
    await a.park();
    const resumed = lease(name, "a");
    await resumed.claim();
    await resumed.release();
    await lease(name, "c").claim();
    const seen = [await next(events), await next(events), await next(events), await next(events)];
    expect(seen.map(summary)).toEqual(["watch a parked", "watch a", "watch free", "watch c"]);
    expect(proxy.watchRequests).toHaveLength(2);
    expect(proxy.watchRequests[1]).toContain(`"start_revision":"${(claimed.revision as bigint) + 1n}"`);
    await events.return();
  }, 15_000);

  it("falls back to polling, and says why, when the revision to resume from is compacted", async () => {
    // Compaction is store-wide: on an etcd of its own, not the one other tests share.
    const own = await startEtcd();
    closers.push(() => own.stop());
    const store = etcd({ endpoints: [own.endpoint], prefix });
    closers.push(() => store.close?.());
    const name = "compacted";
    const proxy = await startProxy(false, own.endpoint);
    const events = observe(watched([proxy.endpoint]), name, { pollIntervalMs: 100 });
    await next(events);
    await next(events);
    const a = lease(name, "a", 10_000, store);
    await a.claim();
    await next(events);
    proxy.cut();
    await a.release();
    await lease(name, "d", 10_000, store).claim();
    const res = await fetch(`${own.endpoint}/v3/kv/range`, {
      method: "POST",
      body: JSON.stringify({ key: Buffer.from(prefix).toString("base64"), count_only: true }),
    });
    const { header } = (await res.json()) as { header: { revision: string } };
    await fetch(`${own.endpoint}/v3/kv/compaction`, {
      method: "POST",
      body: JSON.stringify({ revision: header.revision }),
    });
    const fallback = await next(events);
    expect(fallback).toMatchObject({ type: "mode", mode: "poll", reason: /compacted/ });
    expect((fallback as { error?: unknown }).error).toBeInstanceOf(UnsupportedError);
    expect(summary(await next(events))).toBe("poll d");
    await events.return();
  }, 30_000);

  it("falls back to polling when a proxy holds the stream back past the request timeout", async () => {
    const name = "buffered";
    const proxy = await startProxy(true);
    const events = observe(watched([proxy.endpoint]), name, { requestTimeoutMs: 500, pollIntervalMs: 100 });
    const first = await next(events);
    expect(first).toMatchObject({ type: "mode", mode: "poll", reason: /no watch message within 500 ms/ });
    expect((first as { error?: unknown }).error).toBeInstanceOf(LeaseTimeoutError);
    expect(summary(await next(events))).toBe("poll free");
    await lease(name, "e").claim();
    expect(summary(await next(events))).toBe("poll e");
    await events.return();
  }, 15_000);

  it("falls back to polling when a stream that was open falls silent behind the store", async () => {
    const name = "silent";
    const proxy = await startProxy();
    const options = { requestTimeoutMs: 300, watchCheckMs: 300, pollIntervalMs: 100 };
    const events = observe(watched([proxy.endpoint]), name, options);
    expect([await next(events), await next(events)].map(summary)).toEqual(["mode watch", "watch free"]);
    proxy.hold();
    await lease(name, "f").claim();
    const fallback = await next(events);
    expect(fallback).toMatchObject({ type: "mode", mode: "poll", reason: /stayed behind the store/ });
    expect((fallback as { error?: unknown }).error).toBeInstanceOf(LeaseTimeoutError);
    expect(summary(await next(events))).toBe("poll f");
    await events.return();
  }, 15_000);
});
