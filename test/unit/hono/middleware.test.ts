import { Hono } from "hono";
import { describe, expect, expectTypeOf, it, vi } from "vitest";
import { etcdFromEnv } from "../../../adapters/etcd/index.ts";
import {
  type LeaseErrorBody,
  type LeaseVariables,
  leaseErrorResponse,
  leaseErrorStatus,
  leaseMiddleware,
  type NotLeaderBody,
  requireLeader,
} from "../../../adapters/hono/index.ts";
import { fakeClock, memoryBackend } from "../../../adapters/testing/index.ts";
import {
  AuthError,
  type Backend,
  HttpStatusError,
  InvalidArgumentError,
  isLeaseError,
  type LeaseError,
  type LeaseErrorCode,
  LeaseLostError,
  type LeaseState,
  LeaseTimeoutError,
  MalformedResponseError,
  TransportError,
  UnsupportedError,
} from "../../../src/index.ts";

const START = 2n ** 60n;

function setup(ttlMs = 10_000) {
  const clock = fakeClock();
  const backend = memoryBackend({ clock, startRevision: START });
  const app = new Hono();
  app.post(
    "/cron/report",
    requireLeader({
      backend,
      clock,
      name: "cron/report",
      ttlMs,
      holder: (c) => c.req.header("x-instance") ?? "",
    }),
    async (c) => {
      const outcome = await c.var.leaseHandle.doIfLeader([
        { type: "put", key: "reports/last", value: c.var.lease.holder ?? "" },
      ]);
      return c.json({
        holder: c.var.lease.holder,
        token: c.var.lease.token?.toString(),
        applied: outcome.applied,
      });
    },
  );
  const post = (instance: string) =>
    app.request("/cron/report", { method: "POST", headers: { "x-instance": instance } });
  return { clock, backend, app, post };
}

/** A promise the test resolves when it chooses. */
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A memory backend whose `claim` throws `error`. */
function failingBackend(error: unknown): Backend {
  const inner = memoryBackend();
  return {
    ...inner,
    async claim() {
      throw error;
    },
  };
}

describe("requireLeader", () => {
  it("lets the holder through with c.var.lease and c.var.leaseHandle, and answers 503 + Retry-After to others", async () => {
    const { backend, post } = setup(10_000);
    const first = await post("a");
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ holder: "a", token: (START + 1n).toString(), applied: true });
    expect(new TextDecoder().decode(backend.get("reports/last")?.value)).toBe("a");

    const second = await post("b");
    expect(second.status).toBe(503);
    expect(second.headers.get("retry-after")).toBe("10");
    const body = (await second.json()) as NotLeaderBody;
    expect(body).toEqual({
      error: "not-leader",
      lease: "cron/report",
      holder: "a",
      token: (START + 1n).toString(),
      busy: false,
      retryAfterSeconds: 10,
    });
    expect(BigInt(body.token ?? "0") > 2n ** 53n).toBe(true);
  });

  it("resumes the holder's parked term on its next request, and hands over once the TTL has passed", async () => {
    const { clock, post } = setup(4000);
    expect((await post("a")).status).toBe(200);
    clock.advance(3000);
    const resumed = await post("a");
    expect(resumed.status).toBe(200);
    expect(((await resumed.json()) as { token: string }).token).toBe((START + 1n).toString());
    clock.advance(3000);
    expect((await post("b")).status).toBe(503);
    clock.advance(1001);
    const taken = await post("b");
    expect(taken.status).toBe(200);
    expect(BigInt(((await taken.json()) as { token: string }).token)).toBeGreaterThan(START + 1n);
  });

  it("sets Retry-After from the time the holder's lease has left, when the store tells (Backend.ttlLeft)", async () => {
    const { clock, post } = setup(10_000);
    expect((await post("a")).status).toBe(200);
    clock.advance(7_400);
    const res = await post("b");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("3");
    expect(await res.json()).toMatchObject({ holder: "a", retryAfterSeconds: 3 });
  });

  it("rounds Retry-After up to whole seconds of the holder's TTL, not the caller's", async () => {
    const clock = fakeClock();
    const backend = memoryBackend({ clock });
    const route = (ttlMs: number) =>
      requireLeader({ backend, clock, name: "n", ttlMs, holder: (c) => c.req.query("h") ?? "" });
    const app = new Hono();
    app.get("/long", route(2500), (c) => c.text("ok"));
    app.get("/short", route(2000), (c) => c.text("ok"));
    expect((await app.request("/long?h=a")).status).toBe(200);
    const res = await app.request("/short?h=b");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("3");
  });

  it("falls back to the route's TTL for Retry-After when the holder publishes none (a Go candidate)", async () => {
    const { ttlLeft: _, ...inner } = memoryBackend();
    const backend: Backend = {
      ...inner,
      async claim() {
        return {
          held: false,
          leader: { holder: "go-service", token: START, ttlMs: null, leaseId: "7", parked: false },
        };
      },
    };
    const app = new Hono();
    const handler = vi.fn();
    app.get("/", requireLeader({ backend, name: "n", ttlMs: 4500, holder: "a" }), handler);
    const res = await app.request("/");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await res.json()).toMatchObject({ holder: "go-service", busy: false, retryAfterSeconds: 5 });
    expect(handler).not.toHaveBeenCalled();
  });

  it("takes a Go candidate's time left from the store when it tells, and Retry-After 1 once its lease is gone", async () => {
    let left: number | null = 2200;
    const backend: Backend = {
      ...memoryBackend(),
      async claim() {
        return {
          held: false,
          leader: { holder: "go-service", token: START, ttlMs: null, leaseId: "7", parked: false },
        };
      },
      ttlLeft: async (leaseId) => (leaseId === "7" ? left : 0),
    };
    const app = new Hono();
    app.get("/", requireLeader({ backend, name: "n", ttlMs: 9000, holder: "a" }), (c) => c.text("ok"));
    expect((await app.request("/")).headers.get("retry-after")).toBe("3");
    left = null;
    expect((await app.request("/")).headers.get("retry-after")).toBe("1");
  });

  it("answers 503 with busy: true to a request whose own holder's term another request holds", async () => {
    const clock = fakeClock();
    const backend = memoryBackend({ clock, startRevision: START });
    const started = deferred();
    const finish = deferred();
    const ran = vi.fn();
    const app = new Hono();
    app.post(
      "/cron",
      requireLeader({ backend, clock, name: "cron/x", ttlMs: 5000, holder: "eu" }),
      async (c) => {
        ran();
        started.resolve();
        await finish.promise;
        return c.text("done");
      },
    );
    const first = app.request("/cron", { method: "POST" });
    await started.promise;
    const duplicate = await app.request("/cron", { method: "POST" });
    expect(duplicate.status).toBe(503);
    expect(duplicate.headers.get("retry-after")).toBe("5");
    expect(await duplicate.json()).toEqual({
      error: "not-leader",
      lease: "cron/x",
      holder: "eu",
      token: (START + 1n).toString(),
      busy: true,
      retryAfterSeconds: 5,
    });
    finish.resolve();
    expect((await first).status).toBe(200);
    expect(ran).toHaveBeenCalledTimes(1);
    // Parked by the first request: the holder's next request resumes the term.
    const next = await app.request("/cron", { method: "POST" });
    expect(next.status).toBe(200);
    expect(ran).toHaveBeenCalledTimes(2);
  });

  it("lets exactly one of several concurrent requests through with the default random holder", async () => {
    const clock = fakeClock();
    const backend = memoryBackend({ clock });
    const app = new Hono();
    const ran = vi.fn();
    app.post("/cron", requireLeader({ backend, clock, name: "cron/x", ttlMs: 5000 }), (c) => {
      ran(c.var.lease.holder);
      return c.text("done");
    });
    const statuses = await Promise.all(
      Array.from({ length: 8 }, () => app.request("/cron", { method: "POST" })),
    );
    expect(statuses.map((r) => r.status).sort()).toEqual([200, 503, 503, 503, 503, 503, 503, 503]);
    expect(ran).toHaveBeenCalledTimes(1);
    expect(ran.mock.calls[0]?.[0]).toMatch(/^req-[0-9a-f-]{36}$/);
  });

  it('releases after the response with afterResponse: "release", through executionCtx.waitUntil on Workers', async () => {
    const clock = fakeClock();
    const backend = memoryBackend({ clock });
    const app = new Hono();
    app.post(
      "/cron",
      requireLeader({ backend, clock, name: "cron/x", ttlMs: 5000, afterResponse: "release" }),
      (c) => c.text("done"),
    );
    const waited: Promise<unknown>[] = [];
    const executionCtx = {
      waitUntil: (p: Promise<unknown>) => waited.push(p),
      passThroughOnException() {},
      props: {},
    };
    const res = await app.request("/cron", { method: "POST" }, {}, executionCtx);
    expect(res.status).toBe(200);
    expect(waited).toHaveLength(1);
    await Promise.all(waited);
    expect(await backend.leader("cron/x", { signal: new AbortController().signal })).toBeNull();

    const again = await app.request("/cron", { method: "POST" });
    expect(again.status).toBe(200);
    expect(await backend.leader("cron/x", { signal: new AbortController().signal })).toBeNull();
  });

  it.each(["park", "release"] as const)(
    "reports a failed %s to onError and still answers with the handler's response",
    async (afterResponse) => {
      const inner = memoryBackend();
      const fail = async () => {
        throw new TransportError("connection reset");
      };
      const backend: Backend = { ...inner, park: fail, release: fail };
      const onError = vi.fn();
      const app = new Hono();
      app.post(
        "/cron",
        requireLeader({ backend, name: "cron/x", ttlMs: 5000, afterResponse, onError }),
        (c) => c.text("done"),
      );
      const res = await app.request("/cron", { method: "POST" });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("done");
      expect(onError).toHaveBeenCalledWith(expect.any(TransportError), expect.anything());
    },
  );

  it("parks the term after the response by default, through executionCtx.waitUntil on Workers", async () => {
    const { backend, app } = setup();
    const waited: Promise<unknown>[] = [];
    const executionCtx = {
      waitUntil: (p: Promise<unknown>) => waited.push(p),
      passThroughOnException() {},
      props: {},
    };
    const res = await app.request(
      "/cron/report",
      { method: "POST", headers: { "x-instance": "a" } },
      {},
      executionCtx,
    );
    expect(res.status).toBe(200);
    expect(waited).toHaveLength(1);
    await Promise.all(waited);
    expect(await backend.leader("cron/report", { signal: new AbortController().signal })).toMatchObject({
      holder: "a",
      parked: true,
    });
  });

  it("parks also when the handler threw, while Hono's onError answers", async () => {
    const { clock, backend } = setup();
    const app = new Hono();
    app.onError((_error, c) => c.text("handler failed", 500));
    app.post("/job", requireLeader({ backend, clock, name: "cron/job", ttlMs: 5000, holder: "eu" }), () => {
      throw new RangeError("job failed");
    });
    const res = await app.request("/job", { method: "POST" });
    expect(res.status).toBe(500);
    expect(await res.text()).toBe("handler failed");
    expect(await backend.leader("cron/job", { signal: new AbortController().signal })).toMatchObject({
      holder: "eu",
      parked: true,
    });
  });

  it('sends nothing with afterResponse: "hold": the term stays busy, even for its own holder, until it expires', async () => {
    const clock = fakeClock();
    const backend = memoryBackend({ clock, startRevision: START });
    const park = vi.spyOn(backend, "park");
    const ran = vi.fn();
    const app = new Hono();
    app.post(
      "/cron",
      requireLeader({ backend, clock, name: "cron/x", ttlMs: 5000, holder: "eu", afterResponse: "hold" }),
      (c) => {
        ran();
        return c.text("done");
      },
    );
    expect((await app.request("/cron", { method: "POST" })).status).toBe(200);
    expect(park).not.toHaveBeenCalled();
    clock.advance(4000);
    const late = await app.request("/cron", { method: "POST" });
    expect(late.status).toBe(503);
    expect(await late.json()).toMatchObject({ holder: "eu", busy: true });
    clock.advance(1000);
    expect((await app.request("/cron", { method: "POST" })).status).toBe(200);
    expect(ran).toHaveBeenCalledTimes(2);
  });
});

describe("leaseMiddleware", () => {
  it("runs the handler for every request with its LeaseState; doIfLeader applies only for the holder", async () => {
    const clock = fakeClock();
    const backend = memoryBackend({ clock, startRevision: START });
    const app = new Hono();
    app.get(
      "/work",
      leaseMiddleware({ backend, clock, name: "w", ttlMs: 3000, holder: (c) => c.req.query("h") ?? "" }),
      async (c) => {
        const outcome = await c.var.leaseHandle.doIfLeader([{ type: "put", key: "k", value: "v" }]);
        return c.json({
          isLeader: c.var.lease.isLeader,
          holder: c.var.lease.holder,
          applied: outcome.applied,
        });
      },
    );
    expect(await (await app.request("/work?h=a")).json()).toEqual({
      isLeader: true,
      holder: "a",
      applied: true,
    });
    expect(await (await app.request("/work?h=b")).json()).toEqual({
      isLeader: false,
      holder: "a",
      applied: false,
    });
  });

  it("types c.var and c.env for the handler, and sets them at run time", async () => {
    const backend = memoryBackend();
    const app = new Hono<{ Bindings: { REGION: string } }>();
    app.get("/", leaseMiddleware({ backend, name: "n", ttlMs: 3000, holder: "a" }), (c) => {
      expectTypeOf(c.var.lease).toEqualTypeOf<LeaseState>();
      expectTypeOf(c.var.leaseHandle).toEqualTypeOf<LeaseVariables["leaseHandle"]>();
      expectTypeOf(c.env.REGION).toEqualTypeOf<string>();
      return c.json({
        region: c.env.REGION,
        isLeader: c.var.lease.isLeader,
        handleHolder: c.var.leaseHandle.holder,
      });
    });
    const res = await app.request("/", {}, { REGION: "eu" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ region: "eu", isLeader: true, handleHolder: "a" });
  });

  it("builds the backend from the request's bindings", async () => {
    type Bindings = { LEASEHOLD_ETCD_ENDPOINTS?: string };
    const app = new Hono<{ Bindings: Bindings }>();
    const onError = vi.fn();
    app.get(
      "/",
      leaseMiddleware<Bindings>({ backend: (c) => etcdFromEnv(c.env), name: "n", ttlMs: 3000, onError }),
      (c) => c.text("unreachable"),
    );
    const res = await app.request("/", {}, {});
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      error: "lease-error",
      code: "INVALID_ARGUMENT",
      retryable: false,
      field: "LEASEHOLD_ETCD_ENDPOINTS",
    });
    expect(onError).toHaveBeenCalledWith(expect.any(InvalidArgumentError), expect.anything());
  });
});

describe("errors become HTTP responses at the middleware only", () => {
  const cases: [LeaseError, number, string | null][] = [
    [new LeaseTimeoutError("POST http://127.0.0.11:2379/v3/kv/txn timed out"), 503, "1"],
    [new TransportError("connect ECONNREFUSED"), 503, "1"],
    [new HttpStatusError(503, "unavailable"), 503, "1"],
    [new LeaseLostError("gone"), 503, "1"],
    [new HttpStatusError(404, "not found"), 502, null],
    [new MalformedResponseError("bad json"), 502, null],
    [new AuthError("password user:s3cret rejected"), 502, null],
    [new UnsupportedError("no atomic guard"), 500, null],
  ];

  it.each(cases)("%s → %d without the error's message", async (error, status, retryAfter) => {
    const onError = vi.fn();
    const app = new Hono();
    const handler = vi.fn();
    app.get("/", requireLeader({ backend: failingBackend(error), name: "n", ttlMs: 3000, onError }), handler);
    const res = await app.request("/");
    expect(res.status).toBe(status);
    expect(res.headers.get("retry-after")).toBe(retryAfter);
    const text = await res.text();
    expect(JSON.parse(text) as LeaseErrorBody).toEqual({
      error: "lease-error",
      code: error.code,
      retryable: error.retryable,
    });
    expect(text).not.toContain(error.message);
    expect(text).not.toContain("s3cret");
    expect(handler).not.toHaveBeenCalled();
    expect(onError).toHaveBeenCalledWith(error, expect.anything());
  });

  it("lets errors that are not LeaseErrors through to Hono's error handler", async () => {
    const app = new Hono();
    const seen = vi.fn();
    app.onError((error, c) => {
      seen(error);
      return c.text("app error", 500);
    });
    app.get(
      "/",
      requireLeader({ backend: failingBackend(new RangeError("bug")), name: "n", ttlMs: 3000 }),
      (c) => c.text("unreachable"),
    );
    const res = await app.request("/");
    expect(await res.text()).toBe("app error");
    expect(seen).toHaveBeenCalledWith(expect.any(RangeError));
  });

  it("maps errors thrown by a handler when the app's onError uses leaseErrorResponse", async () => {
    const app = new Hono();
    app.onError((error, c) => (isLeaseError(error) ? leaseErrorResponse(c, error) : c.text("other", 500)));
    app.get("/", leaseMiddleware({ backend: memoryBackend(), name: "n", ttlMs: 3000 }), async () => {
      throw new HttpStatusError(500, "etcd exploded");
    });
    const res = await app.request("/");
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: "lease-error", code: "HTTP", retryable: true });
  });

  it("classifies every error code", () => {
    // Keyed by code: a code added to LeaseErrorCode fails to compile here until it is classified.
    const byCode: Record<LeaseErrorCode, [LeaseError, 500 | 502 | 503][]> = {
      INVALID_ARGUMENT: [[new InvalidArgumentError("ttlMs", "must be positive"), 500]],
      UNSUPPORTED: [[new UnsupportedError("no atomic guard"), 500]],
      LEASE_LOST: [[new LeaseLostError("gone"), 503]],
      TIMEOUT: [[new LeaseTimeoutError("timed out"), 503]],
      TRANSPORT: [[new TransportError("reset"), 503]],
      HTTP: [
        [new HttpStatusError(500, "internal"), 503],
        [new HttpStatusError(503, "unavailable"), 503],
        [new HttpStatusError(404, "not found"), 502],
        [new HttpStatusError(429, "slow down"), 503],
        [new HttpStatusError(501, "not implemented"), 502],
      ],
      MALFORMED_RESPONSE: [[new MalformedResponseError("bad json"), 502]],
      AUTH: [[new AuthError("denied"), 502]],
    };
    for (const [code, cases] of Object.entries(byCode)) {
      for (const [error, status] of cases) {
        expect(error.code).toBe(code);
        expect(leaseErrorStatus(error)).toBe(status);
      }
    }
  });
});

describe("options are validated once, at creation", () => {
  const backend = memoryBackend();
  it.each([
    [{ backend, name: "/bad", ttlMs: 3000 }, "name"],
    [{ backend, name: "n", ttlMs: 0 }, "ttlMs"],
    [{ backend, name: "n", ttlMs: 1000 }, "ttlMs"],
    [{ backend, name: "n", ttlMs: 3000, requestTimeoutMs: 5000 }, "requestTimeoutMs"],
    [{ backend, name: "n", ttlMs: 3000, holder: "" }, "holder"],
    [{ backend, name: "n", ttlMs: 3000, releaseAfterResponse: true }, "releaseAfterResponse"],
    [{ backend, name: "n", ttlMs: 3000, afterResponse: "keep" }, "afterResponse"],
    [{ backend, name: "n", ttlMs: 3000, afterResponse: true }, "afterResponse"],
    [{ backend, name: "n", ttlMs: 3000, onError: "log" }, "onError"],
    [{ backend: null, name: "n", ttlMs: 3000 }, "backend"],
    [{ backend: () => backend, name: "n", ttlMs: -1 }, "ttlMs"],
  ])("rejects %o naming %s", (options, field) => {
    for (const make of [leaseMiddleware, requireLeader]) {
      expect(() => make(options as never)).toThrow(expect.objectContaining({ field }));
    }
  });

  it("names afterResponse as the replacement of releaseAfterResponse", () => {
    expect(() =>
      requireLeader({ backend, name: "n", ttlMs: 3000, releaseAfterResponse: true } as never),
    ).toThrow(expect.objectContaining({ message: expect.stringContaining('afterResponse: "release"') }));
  });

  it("checks per-request values on each request", async () => {
    const app = new Hono();
    app.get(
      "/:name",
      leaseMiddleware({ backend, name: (c) => c.req.param("name") ?? "", ttlMs: 3000 }),
      (c) => c.text("ok"),
    );
    expect((await app.request("/ok")).status).toBe(200);
    const res = await app.request("/a%20b");
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ code: "INVALID_ARGUMENT", field: "name" });
  });
});
