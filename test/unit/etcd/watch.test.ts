/**
 * The etcd watch of `etcdWithWatch` against answers made here: a fake transport for the election read and a
 * fake fetch whose watch streams the test writes line by line. What a real etcd cannot be made to send is
 * checked here: a queue of candidates, broken or malformed streams, out-of-order revisions, oversized messages.
 */
import { describe, expect, it } from "vitest";
import { etcdWithWatch } from "../../../adapters/etcd/watch.ts";
import { fakeClock } from "../../../adapters/testing/index.ts";
import {
  encodeHolderRecord,
  type HttpRequest,
  MalformedResponseError,
  type ObserveEvent,
  observe,
  type Transport,
} from "../../../src/backend-kit.ts";

const E = "leasehold/q";
const b64 = (text: string | Uint8Array) => Buffer.from(text).toString("base64");

interface Kv {
  key: string;
  create_revision: string;
  mod_revision: string;
  version: string;
  value: string;
  lease: string;
}

/** A candidate key of lease `id` (decimal) created at `rev`, proclaiming `value`. */
const candidate = (id: bigint, rev: number, value: string): Kv => ({
  key: b64(`${E}/${id.toString(16)}`),
  create_revision: String(rev),
  mod_revision: String(rev),
  version: "1",
  value: b64(value),
  lease: id.toString(),
});

const record = (id: bigint, rev: number, holder: string, state: "busy" | "parked" = "busy"): Kv => ({
  key: b64(E),
  create_revision: String(rev),
  mod_revision: String(rev),
  version: "1",
  value: b64(encodeHolderRecord({ holder, ttlMs: 5000, state })),
  lease: id.toString(),
});

/** A fake etcd: the election read answers `start`; each watch request opens a stream the test writes to. */
interface FakeOptions {
  endpoints?: string[];
  auth?: { username: string; password: string };
  /** Answers a watch request instead of a stream, when it returns a response or throws. */
  refuse?: (url: string, headers: Record<string, string>) => Response | undefined;
}

function fakeEtcd(start: { revision: number; candidates: Kv[]; record?: Kv }, options: FakeOptions = {}) {
  let tokens = 0;
  const watches: {
    url: string;
    authorization: string | undefined;
    body: unknown;
    write(message: unknown): void;
    writeRaw(text: string): void;
    end(): void;
  }[] = [];
  const transport: Transport = {
    async request(req: HttpRequest) {
      const body = JSON.stringify({
        header: { revision: String(start.revision) },
        succeeded: true,
        responses: [
          { response_range: { kvs: start.candidates, count: String(start.candidates.length) } },
          { response_range: { kvs: start.record ? [start.record] : [], count: start.record ? "1" : "0" } },
        ],
      });
      if (req.url.endsWith("/v3/auth/authenticate")) {
        return { status: 200, headers: {}, body: JSON.stringify({ token: `token-${++tokens}` }) };
      }
      if (!req.url.endsWith("/v3/kv/txn")) throw new Error(`unexpected ${req.url}`);
      return { status: 200, headers: {}, body };
    },
  };
  const encoder = new TextEncoder();
  const fakeFetch = (async (url: string, init: RequestInit) => {
    const headers = init.headers as Record<string, string>;
    const refused = options.refuse?.(url, headers);
    if (refused) return refused;
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
    });
    const writeRaw = (text: string) => controller.enqueue(encoder.encode(text));
    watches.push({
      url,
      authorization: headers.authorization,
      body: JSON.parse(init.body as string),
      write: (message) => writeRaw(`${JSON.stringify(message)}\n`),
      writeRaw,
      end: () => controller.close(),
    });
    return new Response(body, { status: 200 });
  }) as typeof fetch;
  const backend = etcdWithWatch({
    endpoints: options.endpoints ?? ["http://127.0.0.1:1"],
    transport,
    fetch: fakeFetch,
    ...(options.auth ? { auth: options.auth } : {}),
  });
  return { backend, watches };
}

const header = (revision: number) => ({ header: { revision: String(revision) } });
const created = (revision: number) => ({ result: { ...header(revision), created: true } });
const events = (revision: number, ...list: { type?: string; kv: Partial<Kv> }[]) => ({
  result: { ...header(revision), events: list },
});

async function* drive(backend: ReturnType<typeof fakeEtcd>["backend"]) {
  yield* observe(backend, "q", { clock: fakeClock(), pollIntervalMs: 1000 });
}

/** Waits for the fake's `n`-th watch request, letting the iterable run meanwhile. */
async function watchOpened(fake: ReturnType<typeof fakeEtcd>, n: number) {
  for (let i = 0; i < 100 && fake.watches.length < n; i++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  const watch = fake.watches[n - 1];
  if (!watch) throw new Error(`no watch request ${n}`);
  return watch;
}

/** The holder a change event names ("free" for none), else the event's type. */
function leaderOf(value: unknown): string | undefined {
  const e = value as ObserveEvent | undefined;
  if (e?.type !== "change") return e?.type;
  return e.leader ? `${e.leader.holder}${e.leader.parked ? " parked" : ""}` : "free";
}

describe("the etcd watch, on crafted answers", () => {
  it("hands leadership to the next candidate by create revision when the leader's keys go", async () => {
    const a = 7000000000000000001n;
    const go = 7000000000000000002n;
    const fake = fakeEtcd({
      revision: 12,
      candidates: [candidate(go, 11, "go-candidate"), candidate(a, 10, "a")],
      record: record(a, 10, "a"),
    });
    const it = drive(fake.backend);
    const mode = it.next();
    const watch = await watchOpened(fake, 1);
    expect(watch.body).toEqual({
      create_request: { key: b64(E), range_end: b64(`${E}0`), start_revision: "13" },
    });
    watch.write(created(12));
    expect((await mode).value).toMatchObject({ type: "mode", mode: "watch" });
    expect(leaderOf((await it.next()).value)).toBe("a");
    watch.write(events(13, { kv: record(a, 13, "a", "parked") }));
    expect(leaderOf((await it.next()).value)).toBe("a parked");
    watch.write(
      events(
        14,
        { type: "DELETE", kv: { key: candidate(a, 10, "a").key, mod_revision: "14" } },
        { type: "DELETE", kv: { key: b64(E), mod_revision: "14" } },
      ),
    );
    const next = (await it.next()).value as ObserveEvent;
    expect(next).toMatchObject({
      type: "change",
      revision: 14n,
      leader: { holder: "go-candidate", ttlMs: null },
    });
    await it.return();
  });

  it("opens a stream that ended again from the last revision + 1, without repeating a change", async () => {
    const fake = fakeEtcd({ revision: 5, candidates: [] });
    const it = drive(fake.backend);
    const mode = it.next();
    const first = await watchOpened(fake, 1);
    first.write(created(5));
    await mode;
    expect(leaderOf((await it.next()).value)).toBe("free");
    const a = 7000000000000000003n;
    first.write(events(9, { kv: candidate(a, 9, "a") }, { kv: record(a, 9, "a") }));
    expect(leaderOf((await it.next()).value)).toBe("a");
    first.end();
    const pending = it.next();
    const second = await watchOpened(fake, 2);
    expect(second.body).toMatchObject({ create_request: { start_revision: "10" } });
    second.write(created(9));
    second.write(events(11, { kv: record(a, 11, "a", "parked") }));
    expect(leaderOf((await pending).value)).toBe("a parked");
    await it.return();
  });

  it.each([
    ["a line that is not JSON", "{not json\n"],
    [
      "an event before the revision it followed",
      `${JSON.stringify(events(3, { kv: candidate(1n, 3, "x") }))}\n`,
    ],
    ["an event of an unknown type", `${JSON.stringify(events(7, { type: "MERGE", kv: { key: b64(E) } }))}\n`],
    ["a message over 4 MiB", `{"result":{"events":[${" ".repeat(4 * 1024 * 1024 + 1)}`],
  ])("drops the watch for polling on %s, reporting nothing from it", async (_, text) => {
    const fake = fakeEtcd({ revision: 5, candidates: [] });
    const it = drive(fake.backend);
    const mode = it.next();
    const watch = await watchOpened(fake, 1);
    watch.write(created(5));
    await mode;
    await it.next();
    watch.writeRaw(text);
    const lost = (await it.next()).value as ObserveEvent;
    expect(lost).toMatchObject({ type: "mode", mode: "poll" });
    expect((lost as { error?: unknown }).error).toBeInstanceOf(MalformedResponseError);
    await it.return();
  });

  it("refuses a stream whose first message is not the watch's creation", async () => {
    const fake = fakeEtcd({ revision: 5, candidates: [] });
    const it = drive(fake.backend);
    const mode = it.next();
    const watch = await watchOpened(fake, 1);
    watch.write(events(6, { kv: candidate(1n, 6, "x") }));
    const first = (await mode).value as ObserveEvent;
    expect(first).toMatchObject({ type: "mode", mode: "poll", reason: /first message/ });
    await it.return();
  });

  it("authenticates the stream, and replaces a token etcd refuses once", async () => {
    const fake = fakeEtcd(
      { revision: 5, candidates: [] },
      {
        auth: { username: "watcher", password: "s3cret" },
        refuse: (_, headers) =>
          headers.authorization === "token-2"
            ? new Response(JSON.stringify({ code: 16, message: "invalid auth token" }), { status: 401 })
            : undefined,
      },
    );
    const it = drive(fake.backend);
    const mode = it.next();
    const watch = await watchOpened(fake, 1);
    // token-1 went to the read's own dispatcher; the stream's first token was refused and replaced.
    expect(watch.authorization).toBe("token-3");
    watch.write(created(5));
    expect((await mode).value).toMatchObject({ type: "mode", mode: "watch" });
    await it.return();
  });

  it("opens the stream at the next endpoint when one refuses connections", async () => {
    const fake = fakeEtcd(
      { revision: 5, candidates: [] },
      {
        endpoints: ["http://127.0.0.1:1", "http://127.0.0.1:2"],
        refuse: (url) => {
          if (url.startsWith("http://127.0.0.1:1/")) throw new TypeError("fetch failed: ECONNREFUSED");
          return undefined;
        },
      },
    );
    const it = drive(fake.backend);
    const mode = it.next();
    const watch = await watchOpened(fake, 1);
    expect(watch.url).toBe("http://127.0.0.1:2/v3/watch");
    watch.write(created(5));
    expect((await mode).value).toMatchObject({ type: "mode", mode: "watch" });
    await it.return();
  });

  it("falls back to polling, with etcd's message and no secret, when the watch is refused", async () => {
    const fake = fakeEtcd(
      { revision: 5, candidates: [] },
      {
        auth: { username: "watcher", password: "s3cret" },
        refuse: () =>
          new Response(JSON.stringify({ code: 7, message: "permission denied" }), { status: 403 }),
      },
    );
    const it = drive(fake.backend);
    const first = (await it.next()).value as ObserveEvent & { error?: Error };
    expect(first).toMatchObject({ type: "mode", mode: "poll", error: { code: "AUTH" } });
    expect(first.error?.message).toContain("permission denied");
    expect(JSON.stringify(first) + String(first.error?.stack)).not.toMatch(/s3cret|token-/);
    await it.return();
  });
});
