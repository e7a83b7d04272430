/**
 * Failover and authentication in the etcd dispatcher, against scripted endpoints: which requests are sent again,
 * where, after which backoff, with which token; and that credentials never leak into errors.
 */
import { inspect } from "node:util";
import { describe, expect, it, vi } from "vitest";
import { etcdBackend } from "../../../adapters/etcd/backend.ts";
import { Dispatcher, type DispatcherOptions } from "../../../adapters/etcd/dispatcher.ts";
import { etcd } from "../../../adapters/etcd/index.ts";
import { backoffMs } from "../../../adapters/etcd/resend.ts";
import {
  AuthError,
  type Clock,
  createLease,
  type HttpRequest,
  type HttpResponse,
  HttpStatusError,
  InvalidArgumentError,
  LeaseTimeoutError,
  TransportError,
} from "../../../src/index.ts";

const A = "http://127.0.0.11:2379";
const B = "http://127.0.0.12:2379";
const C = "http://127.0.0.13:2379";
const PASSWORD = "pw-Sekr1t-do-not-leak";
const TOKEN = "tok-Zq8LkPq.42";
const LEASE_ID = "9223372036854775000";

interface Sent {
  endpoint: string;
  path: string;
  body: Record<string, unknown>;
  authorization: string | undefined;
}

type Answer = HttpResponse | Error | "hang";
type Script = (sent: Sent, index: number) => Answer;

const ok = (json: unknown): HttpResponse => ({ status: 200, headers: {}, body: JSON.stringify(json) });
/** etcd's answer to the read-only txn of an empty election. */
const emptyRead = () =>
  ok({
    header: { revision: "3" },
    succeeded: true,
    responses: [{ response_range: { header: {} } }, { response_range: { header: {} } }],
  });
const grpc = (status: number, code: number, message: string): HttpResponse => ({
  status,
  headers: {},
  body: JSON.stringify({ error: message, message, code }),
});
const refused = () =>
  new TransportError("POST refused", {
    cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
  });
const reset = () =>
  new TransportError("POST reset", {
    cause: Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }),
  });

function scripted(script: Script) {
  const sent: Sent[] = [];
  const transport = {
    async request(req: HttpRequest): Promise<HttpResponse> {
      const url = new URL(req.url);
      const entry: Sent = {
        endpoint: url.origin,
        path: url.pathname,
        body: JSON.parse(String(req.body)) as Record<string, unknown>,
        authorization: req.headers?.authorization,
      };
      sent.push(entry);
      const answer = script(entry, sent.length - 1);
      if (answer === "hang") {
        return new Promise((_, reject) => {
          req.signal.addEventListener("abort", () =>
            reject(new LeaseTimeoutError("hung request aborted", { cause: req.signal.reason })),
          );
        });
      }
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
  return { sent, transport };
}

/** A clock whose sleeps resolve at once and are recorded. */
function instantClock(): Clock & { slept: number[] } {
  const slept: number[] = [];
  return {
    slept,
    now: () => 0,
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw signal.reason;
      slept.push(ms);
    },
  };
}

function backend(script: Script, options: Partial<DispatcherOptions> = {}) {
  const { sent, transport } = scripted(script);
  const clock = instantClock();
  const dispatcher = new Dispatcher({
    endpoints: [A, B, C],
    transport,
    clock,
    random: () => 0.5,
    ...options,
  });
  return { sent, clock, backend: etcdBackend(dispatcher, "lh/") };
}

const ctx = (timeoutMs = 1000) => ({ signal: AbortSignal.timeout(timeoutMs), timeoutMs });
const keepAliveOk = ok({ result: { ID: LEASE_ID, TTL: "3" } });
const term = { name: "jobs/x", holder: "a", leaseId: LEASE_ID, token: 7n, hold: "8", ttlMs: 3000 };

/** Everything a thrown error exposes, serialised every way a logger might. */
function serialised(error: unknown): string {
  const own = (e: unknown): unknown =>
    e instanceof Error ? { ...e, message: e.message, stack: e.stack, cause: own(e.cause) } : e;
  return [String(error), JSON.stringify(own(error)), inspect(error, { depth: 10, showHidden: true })].join(
    "\n",
  );
}

describe("backoffMs", () => {
  it("doubles from 25–50 ms up to 400–800 ms, with jitter in the upper half", () => {
    expect([1, 2, 3, 4, 5, 6, 9].map((n) => backoffMs(n, () => 0))).toEqual([
      25, 50, 100, 200, 400, 400, 400,
    ]);
    expect([1, 2, 5].map((n) => backoffMs(n, () => 0.999999))).toEqual([
      expect.closeTo(50, 3),
      expect.closeTo(100, 3),
      expect.closeTo(800, 3),
    ]);
  });
});

describe("etcd dispatcher failover", () => {
  it("renews through the next endpoint when the first refuses connections, and stays there", async () => {
    const { sent, clock, backend: b } = backend((s) => (s.endpoint === A ? refused() : keepAliveOk));
    await expect(b.renew(term, ctx())).resolves.toEqual({ grantedTtlMs: 3000 });
    await expect(b.renew(term, ctx())).resolves.toEqual({ grantedTtlMs: 3000 });
    expect(sent.map((s) => s.endpoint)).toEqual([A, B, B]);
    expect(clock.slept).toEqual([37.5]);
  });

  it("fails over on 5xx, 429 and gRPC Unavailable answers to reads", async () => {
    const answers = [
      { status: 502, headers: {}, body: "bad gateway" },
      grpc(429, 8, "etcdserver: too many requests"),
      grpc(503, 14, "etcdserver: leader changed"),
    ];
    for (const answer of answers) {
      const { sent, backend: b } = backend((s) => (s.endpoint === A ? answer : emptyRead()));
      await expect(b.leader("jobs/x", ctx())).resolves.toBeNull();
      expect(sent.map((s) => s.endpoint)).toEqual([A, B]);
    }
  });

  it("gives up after twice the number of endpoints and reports the last failure", async () => {
    const { sent, clock, backend: b } = backend(() => reset());
    const error = await b.renew(term, ctx()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ retryable: true });
    expect(sent.map((s) => s.endpoint)).toEqual([A, B, C, A, B, C]);
    expect(clock.slept).toEqual([37.5, 75, 150, 300, 600]);
  });

  it("with one endpoint, sends once (the caller decides to retry)", async () => {
    const { sent, transport } = scripted(() => reset());
    const b = etcd({ endpoints: [A], transport });
    const lease = createLease({ backend: b, name: "jobs/x", holder: "a", ttlMs: 3000 });
    await expect(lease.leader()).rejects.toBeInstanceOf(TransportError);
    expect(sent).toHaveLength(1);
  });

  it("honours maxAttempts", async () => {
    const { sent, backend: b } = backend(() => reset(), { maxAttempts: 2 });
    await expect(b.renew(term, ctx())).rejects.toBeInstanceOf(TransportError);
    expect(sent).toHaveLength(2);
  });

  it("does not fail over on answers that another member would repeat", async () => {
    const { sent, backend: b } = backend(() => grpc(400, 3, "etcdserver: key is not provided"));
    await expect(b.leader("jobs/x", ctx())).rejects.toBeInstanceOf(HttpStatusError);
    expect(sent).toHaveLength(1);
  });

  it("never sends the guarded txn twice after a failure with an unknown outcome", async () => {
    for (const answer of [reset(), grpc(503, 14, "etcdserver: request timed out"), "hang" as const]) {
      const { sent, backend: b } = backend(() => answer);
      const txn = b.txn({ term, ops: [], compares: [] }, ctx(200));
      await expect(txn).rejects.toBeInstanceOf(Error);
      expect(sent).toHaveLength(1);
    }
  });

  it("sends the guarded txn to the next endpoint when the connection was refused (it never left)", async () => {
    const { sent, backend: b } = backend((s) =>
      s.endpoint === A ? refused() : ok({ header: { revision: "9" }, succeeded: true }),
    );
    await expect(b.txn({ term, ops: [], compares: [] }, ctx())).resolves.toEqual({
      applied: true,
      results: [],
    });
    expect(sent.map((s) => [s.endpoint, s.path])).toEqual([
      [A, "/v3/kv/txn"],
      [B, "/v3/kv/txn"],
    ]);
  });

  it("sends claim's grant+txn again as a whole, and recognises the term of the first try", async () => {
    const b64 = (text: string) => Buffer.from(text).toString("base64");
    let claimId = "";
    const range = (kv?: object) => ({
      response_range: kv ? { header: {}, kvs: [kv], count: "1" } : { header: {} },
    });
    const { sent, backend: b } = backend((s) => {
      if (s.path === "/v3/lease/grant") {
        claimId = String(s.body.ID);
        return s.endpoint === A
          ? ok({ ID: claimId, TTL: "3" })
          : grpc(412, 9, "etcdserver: lease already exists");
      }
      if (s.path === "/v3/lease/keepalive") return ok({ result: { ID: claimId, TTL: "3" } });
      if (!("compare" in s.body)) return emptyRead();
      if (s.endpoint === A) return reset();
      const record = { holder: "a", ttlMs: 3000, state: "busy", run: claimId };
      const candidate = {
        key: b64(`lh/jobs/x/${BigInt(claimId).toString(16)}`),
        value: b64("a"),
        lease: claimId,
        create_revision: "11",
      };
      const termRecord = { key: b64("lh/jobs/x"), value: b64(JSON.stringify(record)), lease: claimId };
      return ok({
        header: { revision: "12" },
        responses: [range(candidate), range({ ...termRecord, create_revision: "11", mod_revision: "11" })],
      });
    });
    const outcome = await b.claim({ name: "jobs/x", holder: "a", ttlMs: 3000, claimId: 5n << 60n }, ctx());
    expect(outcome).toMatchObject({
      held: true,
      grantedTtlMs: 3000,
      hold: "11",
      leader: { token: 11n, leaseId: claimId },
    });
    expect(sent.map((s) => [s.endpoint, s.path])).toEqual([
      [A, "/v3/kv/txn"],
      [A, "/v3/lease/grant"],
      [A, "/v3/kv/txn"],
      [B, "/v3/lease/grant"],
      [B, "/v3/kv/txn"],
      [B, "/v3/lease/keepalive"],
      [B, "/v3/lease/keepalive"],
    ]);
  });

  it("splits the deadline: a hung member gets half of it, the next one the rest", async () => {
    const { sent, backend: b } = backend((s) => (s.endpoint === A ? "hang" : keepAliveOk));
    const started = performance.now();
    await expect(b.renew(term, ctx(400))).resolves.toEqual({ grantedTtlMs: 3000 });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(400);
    expect(sent.map((s) => s.endpoint)).toEqual([A, B]);
  });

  it("leaves no attempt deadline behind: its timer is cleared once the attempt settles", async () => {
    vi.useFakeTimers();
    try {
      const { sent, backend: b } = backend((s) => (s.endpoint === A ? refused() : keepAliveOk));
      const call = { signal: new AbortController().signal, timeoutMs: 1000 };
      await expect(b.renew(term, call)).resolves.toEqual({ grantedTtlMs: 3000 });
      expect(sent.map((s) => s.endpoint)).toEqual([A, B]);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("stops at the call's deadline, also while backing off", async () => {
    const { sent, backend: b } = backend(() => "hang", { clock: undefined });
    const started = performance.now();
    await expect(b.renew(term, ctx(300))).rejects.toBeInstanceOf(LeaseTimeoutError);
    expect(performance.now() - started).toBeLessThan(600);
    expect(sent.length).toBeLessThanOrEqual(3);
  });

  it("validates maxAttempts and attemptTimeoutMs", () => {
    const transport = scripted(() => keepAliveOk).transport;
    for (const [field, value] of [
      ["maxAttempts", 0],
      ["maxAttempts", 1.5],
      ["attemptTimeoutMs", -1],
      ["attemptTimeoutMs", "100"],
    ] as const) {
      expect(() => etcd({ endpoints: [A], transport, [field]: value })).toThrow(
        expect.objectContaining({ code: "INVALID_ARGUMENT", field }),
      );
    }
  });
});

describe("etcd dispatcher authentication", () => {
  const auth = { username: "svc", password: PASSWORD };
  const authenticated = (n: number) => ok({ header: {}, token: `${TOKEN}-${n}` });

  it("authenticates once per endpoint and sends the token in the Authorization header", async () => {
    let tokens = 0;
    const { sent, backend: b } = backend(
      (s) => (s.path === "/v3/auth/authenticate" ? authenticated(++tokens) : emptyRead()),
      { auth },
    );
    await Promise.all([b.leader("jobs/x", ctx()), b.leader("jobs/y", ctx()), b.leader("jobs/z", ctx())]);
    expect(sent.filter((s) => s.path === "/v3/auth/authenticate")).toEqual([
      {
        endpoint: A,
        path: "/v3/auth/authenticate",
        body: { name: "svc", password: PASSWORD },
        authorization: undefined,
      },
    ]);
    expect(sent.filter((s) => s.path === "/v3/kv/txn").map((s) => s.authorization)).toEqual([
      `${TOKEN}-1`,
      `${TOKEN}-1`,
      `${TOKEN}-1`,
    ]);
  });

  it("re-authenticates once and retries when etcd reports the token invalid or stale", async () => {
    for (const rejection of [
      grpc(401, 16, "etcdserver: invalid auth token"),
      grpc(400, 3, "etcdserver: revision of auth store is old"),
    ]) {
      let tokens = 0;
      const { sent, backend: b } = backend(
        (s) => {
          if (s.path === "/v3/auth/authenticate") return authenticated(++tokens);
          return s.authorization === `${TOKEN}-1` ? rejection : ok({ header: {}, succeeded: true });
        },
        { auth },
      );
      // Even the guarded txn: a request refused for its token was not executed.
      await expect(b.txn({ term, ops: [], compares: [] }, ctx())).resolves.toMatchObject({ applied: true });
      expect(sent.map((s) => [s.path, s.authorization])).toEqual([
        ["/v3/auth/authenticate", undefined],
        ["/v3/kv/txn", `${TOKEN}-1`],
        ["/v3/auth/authenticate", undefined],
        ["/v3/kv/txn", `${TOKEN}-2`],
      ]);
    }
  });

  it("re-authenticates only once per request: a second refusal is an AuthError", async () => {
    let tokens = 0;
    const { sent, backend: b } = backend(
      (s) =>
        s.path === "/v3/auth/authenticate"
          ? authenticated(++tokens)
          : grpc(401, 16, "etcdserver: invalid auth token"),
      { auth },
    );
    const error = await b.leader("jobs/x", ctx()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect(sent).toHaveLength(4);
    expect(serialised(error)).not.toContain(TOKEN);
    expect(serialised(error)).not.toContain(PASSWORD);
  });

  it("reports refused credentials as AuthError without quoting them, and does not fail over", async () => {
    const { sent, backend: b } = backend(
      () => grpc(400, 3, "etcdserver: authentication failed, invalid user ID or password"),
      { auth },
    );
    const error = await b.leader("jobs/x", ctx()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toMatchObject({ retryable: false });
    expect(String(error)).toContain("authentication failed");
    expect(sent).toHaveLength(1);
    expect(serialised(error)).not.toContain(PASSWORD);
  });

  it("never quotes a raw authenticate body, which could echo the request", async () => {
    const { backend: b } = backend(() => ({ status: 400, headers: {}, body: `bad request ${PASSWORD}` }), {
      auth,
    });
    const error = await b.leader("jobs/x", ctx()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect(serialised(error)).not.toContain(PASSWORD);
    const { backend: c } = backend(() => ok({ echoed: PASSWORD }), { auth });
    const malformed = await c.leader("jobs/x", ctx()).catch((e: unknown) => e);
    expect(malformed).toMatchObject({ code: "MALFORMED_RESPONSE" });
    expect(serialised(malformed)).not.toContain(PASSWORD);
  });

  it("fails over when authentication itself cannot reach a member", async () => {
    const { sent, backend: b } = backend(
      (s) =>
        s.endpoint === A ? refused() : s.path === "/v3/auth/authenticate" ? authenticated(1) : keepAliveOk,
      { auth },
    );
    await expect(b.renew(term, ctx())).resolves.toEqual({ grantedTtlMs: 3000 });
    expect(sent.map((s) => [s.endpoint, s.path])).toEqual([
      [A, "/v3/auth/authenticate"],
      [B, "/v3/auth/authenticate"],
      [B, "/v3/lease/keepalive"],
    ]);
  });

  it("keeps credentials out of the backend's and lease's inspectable state", () => {
    const { transport } = scripted(() => keepAliveOk);
    const b = etcd({ endpoints: [A], transport, auth });
    const lease = createLease({ backend: b, name: "jobs/x", holder: "a", ttlMs: 3000 });
    expect(inspect(lease, { depth: 10, showHidden: true })).not.toContain(PASSWORD);
    expect(JSON.stringify(b)).not.toContain(PASSWORD);
  });

  it("validates auth without quoting it", () => {
    const transport = scripted(() => keepAliveOk).transport;
    for (const [bad, field] of [
      [null, "auth"],
      [{ username: "", password: PASSWORD }, "auth.username"],
      [{ username: "svc" }, "auth.password"],
      [{ username: "svc", password: 42 }, "auth.password"],
    ] as const) {
      const error = (() => {
        try {
          etcd({ endpoints: [A], transport, auth: bad as never });
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error).toMatchObject({ field });
      expect(serialised(error)).not.toContain(PASSWORD);
    }
  });
});
