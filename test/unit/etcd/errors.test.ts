/**
 * The messages a user of the etcd backend reads when something is wrong, to the letter: every endpoint down,
 * auth required but not configured, a server that is not etcd, statuses no retry changes. Requests go through
 * the real fetch transport over a scripted `fetch`, so that every error takes the path a real one takes.
 */
import { describe, expect, it } from "vitest";
import { etcdBackend } from "../../../adapters/etcd/backend.ts";
import { Dispatcher } from "../../../adapters/etcd/dispatcher.ts";
import { etcd } from "../../../adapters/etcd/index.ts";
import {
  AuthError,
  type Clock,
  createLease,
  fetchTransport,
  HttpStatusError,
  LeaseTimeoutError,
  TransportError,
} from "../../../src/index.ts";

const A = "http://127.0.0.11:2379";
const B = "http://127.0.0.12:2379";
const C = "http://127.0.0.13:2379";

type Reply = Response | Error | "hang";

/** A fetch that answers each request by `script(origin, path)`, and the origins it was asked for. */
function scriptedFetch(script: (origin: string, path: string) => Reply) {
  const sent: string[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    sent.push(url.origin);
    const reply = script(url.origin, url.pathname);
    if (reply === "hang") {
      return new Promise((_, reject) =>
        init?.signal?.addEventListener("abort", () => reject(init.signal?.reason)),
      );
    }
    if (reply instanceof Error) throw reply;
    return reply;
  };
  return { sent, transport: fetchTransport({ fetch: fetch as typeof globalThis.fetch }) };
}

/** Node's fetch: `fetch failed`, the socket's error as its cause. */
const nodeFetchError = (code: string, message: string) =>
  new TypeError("fetch failed", { cause: Object.assign(new Error(message), { code }) });
const refused = (origin: string) =>
  nodeFetchError("ECONNREFUSED", `connect ECONNREFUSED ${new URL(origin).host}`);
const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const grpc = (status: number, code: number, message: string) =>
  json(status, { error: message, code, message });
const emptyRead = () =>
  json(200, {
    header: { revision: "3" },
    succeeded: true,
    responses: [{ response_range: { header: {} } }, { response_range: { header: {} } }],
  });

const instantClock: Clock = { now: () => 0, sleep: async () => undefined };

function backend(script: (origin: string, path: string) => Reply, endpoints = [A, B, C]) {
  const { sent, transport } = scriptedFetch(script);
  const dispatcher = new Dispatcher({ endpoints, transport, clock: instantClock, random: () => 0.5 });
  return { sent, backend: etcdBackend(dispatcher, "lh/") };
}

const ctx = () => ({ signal: AbortSignal.timeout(2000), timeoutMs: 2000 });
const thrown = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.unreachable("it should fail"),
    (e: unknown) => e as Error,
  );

describe("one endpoint that does not answer", () => {
  it("names the refused connection and what to check, not `fetch failed`", async () => {
    const { transport } = scriptedFetch((origin) => refused(origin));
    const lease = createLease({
      backend: etcd({ endpoints: [A], transport }),
      name: "jobs/x",
      holder: "a",
      ttlMs: 3000,
    });
    const error = await thrown(lease.claim());
    expect(error).toBeInstanceOf(TransportError);
    expect(error.message).toBe(
      `POST ${A}/v3/kv/txn failed: connection refused (ECONNREFUSED): is the server listening at ${A}?`,
    );
    expect((error.cause as Error).message).toBe("fetch failed");
  });
});

describe("every endpoint failing", () => {
  it("lists each endpoint with its cause, and keeps the last failure as the cause", async () => {
    const { sent, backend: b } = backend((origin) => refused(origin));
    const error = await thrown(b.leader("jobs/x", ctx()));
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ retryable: true });
    expect(error.message).toBe(
      `etcd: all 3 endpoints failed: ${A}: connection refused (ECONNREFUSED): is the server listening at ${A}?; ` +
        `${B}: connection refused (ECONNREFUSED): is the server listening at ${B}?; ` +
        `${C}: connection refused (ECONNREFUSED): is the server listening at ${C}?`,
    );
    expect(sent).toEqual([A, B, C, A, B, C]);
    expect(error.cause).toBeInstanceOf(TransportError);
    expect((error.cause as Error).message).toBe(
      `POST ${C}/v3/kv/txn failed: connection refused (ECONNREFUSED): is the server listening at ${C}?`,
    );
  });

  it("mixes causes: a refused connection, etcd's no-leader answer, an unknown host", async () => {
    const { backend: b } = backend((origin) =>
      origin === A
        ? refused(origin)
        : origin === B
          ? grpc(503, 14, "etcdserver: no leader")
          : nodeFetchError("ENOTFOUND", "getaddrinfo ENOTFOUND etcd-3"),
    );
    const error = await thrown(b.renew({ ...term }, ctx()));
    expect(error).toBeInstanceOf(TransportError);
    expect(error.message).toBe(
      `etcd: all 3 endpoints failed: ${A}: connection refused (ECONNREFUSED): is the server listening at ${A}?; ` +
        `${B}: HTTP 503: etcdserver: no leader; ` +
        `${C}: unknown host 127.0.0.13 (ENOTFOUND)`,
    );
  });

  it("keeps the class of the last failure: an HTTP status, or a timeout", async () => {
    const { backend: b } = backend((origin) =>
      origin === C ? grpc(503, 14, "etcdserver: no leader") : refused(origin),
    );
    const http = await thrown(b.leader("jobs/x", ctx()));
    expect(http).toBeInstanceOf(HttpStatusError);
    expect(http).toMatchObject({ status: 503, retryable: true });
    expect(http.message).toBe(
      `HTTP 503: etcd range: all 3 endpoints failed: ${A}: connection refused (ECONNREFUSED): is the server listening at ${A}?; ` +
        `${B}: connection refused (ECONNREFUSED): is the server listening at ${B}?; ${C}: HTTP 503: etcdserver: no leader`,
    );

    const { backend: hung } = backend((origin) => (origin === A ? refused(origin) : "hang"), [A, B]);
    const timeout = await thrown(hung.leader("jobs/x", { signal: AbortSignal.timeout(300), timeoutMs: 300 }));
    expect(timeout).toBeInstanceOf(LeaseTimeoutError);
    expect(timeout.message).toBe(
      `etcd: all 2 endpoints failed: ${A}: connection refused (ECONNREFUSED): is the server listening at ${A}?; ${B}: timed out`,
    );
    expect(timeout.cause).toBeInstanceOf(LeaseTimeoutError);
  });

  it("says how many were tried when the call ends before every endpoint was", async () => {
    const { transport } = scriptedFetch((origin) => refused(origin));
    const dispatcher = new Dispatcher({
      endpoints: [A, B, C],
      transport,
      maxAttempts: 2,
      clock: instantClock,
    });
    const error = await thrown(etcdBackend(dispatcher, "lh/").leader("jobs/x", ctx()));
    expect(error.message).toMatch(
      /^etcd: 2 of 3 endpoints failed: http:\/\/127\.0\.0\.11:2379: .*; http:\/\/127\.0\.0\.12:2379: /,
    );
  });
});

const term = { name: "jobs/x", holder: "a", leaseId: "7", token: 7n, hold: "8", ttlMs: 3000 };

describe("etcd with auth enabled, no credentials given", () => {
  it("is an AuthError that names the auth option and the environment variables, sent once", async () => {
    for (const [status, code] of [
      [400, 3],
      [401, 16],
    ] as const) {
      const { sent, backend: b } = backend(() => grpc(status, code, "etcdserver: user name is empty"));
      const error = await thrown(b.leader("jobs/x", ctx()));
      expect(error).toBeInstanceOf(AuthError);
      expect(error).toMatchObject({ retryable: false });
      expect(error.message).toBe(
        "etcd range: etcdserver: user name is empty: etcd requires authentication; pass auth: { username, password } to etcd(), or set LEASEHOLD_ETCD_USERNAME and LEASEHOLD_ETCD_PASSWORD",
      );
      expect(sent).toEqual([A]);
    }
  });
});

describe("a server that is not etcd", () => {
  const page = `<html><body><h1>404 Not Found</h1><p>nginx</p>${"<!-- padding -->".repeat(60)}</body></html>`;

  it("summarises an HTML page (status, type, size) without pasting it, and does not fail over", async () => {
    const { sent, backend: b } = backend(
      () => new Response(page, { status: 404, headers: { "content-type": "text/html; charset=utf-8" } }),
    );
    const error = await thrown(b.leader("jobs/x", ctx()));
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error.message).toBe(
      `HTTP 404: etcd range: answered HTTP 404 with text/html (${page.length} bytes), not etcd's JSON gateway: is the endpoint etcd's client URL?`,
    );
    expect(error.message).not.toContain("nginx");
    expect(sent).toEqual([A]);
  });

  it("summarises another JSON API's error", async () => {
    const { backend: b } = backend(() => json(404, { error: "Not Found", path: "/v3/kv/txn" }));
    const error = await thrown(b.leader("jobs/x", ctx()));
    expect(error.message).toBe(
      "HTTP 404: etcd range: answered HTTP 404 with application/json (41 bytes), not etcd's JSON gateway: is the endpoint etcd's client URL?",
    );
  });

  it("neither retries nor fails over on 501 and 505, and says so", async () => {
    for (const status of [501, 505]) {
      const { sent, backend: b } = backend(() => new Response(null, { status }));
      const error = await thrown(b.leader("jobs/x", ctx()));
      expect(error).toBeInstanceOf(HttpStatusError);
      expect(error).toMatchObject({ status, retryable: false });
      expect(error.message).toBe(
        `HTTP ${status}: etcd range: answered HTTP ${status} with no content type (0 bytes), not etcd's JSON gateway: is the endpoint etcd's client URL?; not retried: this server cannot serve the request`,
      );
      expect(sent).toEqual([A]);
    }
  });

  it("still fails over on a 502 from a proxy in front of a member", async () => {
    const { sent, backend: b } = backend((origin) =>
      origin === A ? new Response("<html>bad gateway</html>", { status: 502 }) : emptyRead(),
    );
    await expect(b.leader("jobs/x", ctx())).resolves.toBeNull();
    expect(sent).toEqual([A, B]);
  });
});
