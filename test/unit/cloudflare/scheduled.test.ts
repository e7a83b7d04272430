import { setImmediate } from "node:timers/promises";
import { describe, expect, it, vi } from "vitest";
import {
  type LeaderOnlyScheduledOptions,
  type LeaderRun,
  leaderOnlyScheduled,
} from "../../../adapters/cloudflare/index.ts";
import {
  type FakeClock,
  fakeClock,
  type MemoryBackend,
  memoryBackend,
} from "../../../adapters/testing/index.ts";
import {
  type Backend,
  InvalidArgumentError,
  LeaseLostError,
  type LeaseState,
  type TermRef,
  TransportError,
} from "../../../src/backend-kit.ts";

const START = 2n ** 60n;
const signal = () => new AbortController().signal;

function controller(cron = "*/5 * * * *") {
  return { scheduledTime: 1_700_000_000_000, cron, noRetry: vi.fn() };
}

function executionContext() {
  const pending: Promise<unknown>[] = [];
  return { pending, waitUntil: (p: Promise<unknown>) => void pending.push(p) };
}

/** Lets the promise callbacks queued by a clock advance run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await setImmediate();
}

/** A deferred: lets a test decide when a handler finishes. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

function setup() {
  const clock = fakeClock();
  const backend = memoryBackend({ clock, startRevision: START });
  return { clock, backend };
}

/** Wraps `backend` so that the test learns every term a claim took, hold mark included. */
function recordingTerms(backend: Backend) {
  const terms: TermRef[] = [];
  const wrapped: Backend = {
    ...backend,
    async claim(req, ctx) {
      const outcome = await backend.claim(req, ctx);
      if (outcome.held) {
        const { holder, leaseId, token } = outcome.leader;
        terms.push({ name: req.name, holder, leaseId, token, ttlMs: req.ttlMs, hold: outcome.hold });
      }
      return outcome;
    },
  };
  return { terms, wrapped };
}

const current = (backend: MemoryBackend, name = "cron/job") => backend.leader(name, { signal: signal() });

/**
 * One invocation on `backend` (lease `cron/job`, TTL 3 s unless `options` say otherwise) whose handler runs until
 * the test calls `finish()`; `run` is its LeaderRun once it leads.
 */
async function runningInvocation(
  backend: Backend,
  clock: FakeClock,
  options: Partial<LeaderOnlyScheduledOptions<unknown>> = {},
) {
  const done = gate();
  const ctx = executionContext();
  let run: LeaderRun | undefined;
  const scheduled = leaderOnlyScheduled(
    { backend: () => backend, clock, name: "cron/job", ttlMs: 3000, ...options },
    async (_c, _e, _x, r) => {
      run = r;
      await done.opened;
    },
  );
  const result = scheduled(controller(), {}, ctx);
  await settle();
  return {
    run: run as LeaderRun,
    ctx,
    finish: async () => {
      done.open();
      await result;
    },
  };
}

describe("leaderOnlyScheduled", () => {
  it("runs the handler on exactly one of several concurrent invocations", async () => {
    const { clock, backend } = setup();
    const runs: LeaderRun[] = [];
    const skipped: LeaseState[] = [];
    const scheduled = leaderOnlyScheduled(
      {
        backend: () => backend,
        clock,
        name: "cron/job",
        ttlMs: 10_000,
        onNotLeader: (state) => skipped.push(state),
      },
      async (_controller, _env, _ctx, run) => {
        runs.push(run);
        await run.lease.doIfLeader([{ type: "put", key: "journal", value: run.lease.holder }]);
      },
    );
    await Promise.all(Array.from({ length: 6 }, () => scheduled(controller(), {}, executionContext())));
    expect(runs).toHaveLength(1);
    expect(skipped).toHaveLength(5);
    const winner = runs[0]?.lease.holder;
    expect(winner).toMatch(/^cron-[0-9a-f-]{36}$/);
    expect(runs[0]?.state).toMatchObject({ isLeader: true, token: START + 1n });
    for (const state of skipped) {
      expect(state).toMatchObject({ isLeader: false, busy: false, holder: winner, token: START + 1n });
    }
    expect(new TextDecoder().decode(backend.get("journal")?.value)).toBe(winner);
  });

  it("renews the lease every TTL/3 while the handler runs, and stops when it returns", async () => {
    const { clock, backend } = setup();
    const renew = vi.spyOn(backend, "renew");
    const { run, ctx, finish } = await runningInvocation(backend, clock);
    for (let i = 0; i < 9; i++) {
      clock.advance(1000);
      await settle();
    }
    expect(renew).toHaveBeenCalledTimes(9);
    expect(run.signal.aborted).toBe(false);
    expect(run.lease.state().isLeader).toBe(true);
    expect((await current(backend))?.holder).toBe(run.lease.holder);

    await finish();
    await Promise.all(ctx.pending);
    clock.advance(3000);
    await settle();
    expect(renew).toHaveBeenCalledTimes(9);
    expect(await current(backend)).toBeNull();
  });

  it("aborts run.signal when a renewal finds the lease gone", async () => {
    const { clock, backend } = setup();
    const { terms, wrapped } = recordingTerms(backend);
    const { run, finish } = await runningInvocation(wrapped, clock, { renewIntervalMs: 500 });
    expect(terms).toHaveLength(1);
    // The store drops the term behind the invocation's back (an operator's revoke).
    await backend.release(terms[0] as TermRef, { signal: signal() });
    clock.advance(500);
    await settle();
    expect(run.signal.aborted).toBe(true);
    expect(run.signal.reason).toBeInstanceOf(LeaseLostError);
    await finish();
  });

  it("retries a renewal that failed transiently while the term is still valid", async () => {
    const { clock, backend } = setup();
    let failures = 1;
    const flaky: Backend = {
      ...backend,
      async renew(term, ctx) {
        if (failures-- > 0) throw new TransportError("connection reset");
        return backend.renew(term, ctx);
      },
    };
    const { run, finish } = await runningInvocation(flaky, clock);
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      await settle();
    }
    expect(run.signal.aborted).toBe(false);
    expect(run.lease.state().isLeader).toBe(true);
    await finish();
  });

  it("aborts run.signal once transient failures outlast the term", async () => {
    const { clock, backend } = setup();
    const down: Backend = {
      ...backend,
      async renew() {
        throw new TransportError("connection refused");
      },
    };
    const { run, finish } = await runningInvocation(down, clock);
    for (let i = 0; i < 2; i++) {
      clock.advance(1000);
      await settle();
    }
    expect(run.signal.aborted).toBe(false);
    clock.advance(1000);
    await settle();
    expect(run.signal.aborted).toBe(true);
    expect(run.signal.reason).toBeInstanceOf(TransportError);
    await finish();
  });

  it("parks through ctx.waitUntil by default: the next invocation of the same holder resumes the term", async () => {
    const { clock, backend } = setup();
    const states: LeaseState[] = [];
    const scheduled = leaderOnlyScheduled(
      { backend: () => backend, clock, name: "cron/job", ttlMs: 10_000, holder: "eu" },
      async (_c, _e, _x, run) => {
        states.push(run.state);
      },
    );
    const first = executionContext();
    await scheduled(controller(), {}, first);
    expect(first.pending).toHaveLength(1);
    await Promise.all(first.pending);
    expect(await current(backend)).toMatchObject({ holder: "eu", token: START + 1n, parked: true });

    clock.advance(9000);
    const second = executionContext();
    await scheduled(controller(), {}, second);
    await Promise.all(second.pending);
    expect(states.map((s) => s.token)).toEqual([START + 1n, START + 1n]);
    expect(backend.leaseCount()).toBe(1);
    // Resumed with a renewal: the parked term outlives the first run's TTL.
    clock.advance(9000);
    expect(await current(backend)).toMatchObject({ holder: "eu", token: START + 1n, parked: true });
  });

  it.each([
    { afterRun: "park", term: { holder: "eu", parked: true }, leases: 1 },
    { afterRun: "release", term: null, leases: 0 },
  ] as const)(
    "hands on with afterRun: $afterRun through ctx.waitUntil also when the handler throws, rejecting with its error",
    async ({ afterRun, term, leases }) => {
      const { clock, backend } = setup();
      const scheduled = leaderOnlyScheduled(
        { backend: () => backend, clock, name: "cron/job", ttlMs: 10_000, holder: "eu", afterRun },
        async () => {
          throw new RangeError("job failed");
        },
      );
      const ctx = executionContext();
      await expect(scheduled(controller(), {}, ctx)).rejects.toThrow(RangeError);
      expect(ctx.pending).toHaveLength(1);
      await Promise.all(ctx.pending);
      if (term) expect(await current(backend)).toMatchObject(term);
      else expect(await current(backend)).toBeNull();
      expect(backend.leaseCount()).toBe(leases);
    },
  );

  it("keeps a parked term from other holders until it expires", async () => {
    const { clock, backend } = setup();
    const ran: string[] = [];
    const skipped: LeaseState[] = [];
    const scheduled = leaderOnlyScheduled(
      {
        backend: () => backend,
        clock,
        name: "cron/job",
        ttlMs: 10_000,
        holder: (_c, env: { REGION: string }) => env.REGION,
        onNotLeader: (state) => skipped.push(state),
      },
      async (_c, env) => {
        ran.push(env.REGION);
      },
    );
    const run = async (REGION: string) => {
      const ctx = executionContext();
      await scheduled(controller(), { REGION }, ctx);
      await Promise.all(ctx.pending);
    };
    await run("eu");
    await run("us");
    expect(ran).toEqual(["eu"]);
    expect(skipped).toEqual([
      expect.objectContaining({
        isLeader: false,
        busy: false,
        holder: "eu",
        token: START + 1n,
        ttlMs: 10_000,
      }),
    ]);
    clock.advance(10_000);
    await run("us");
    expect(ran).toEqual(["eu", "us"]);
    expect((await current(backend))?.token).toBeGreaterThan(START + 1n);
  });

  it("runs the handler once for a duplicated delivery: the other invocation of the holder finds its term busy", async () => {
    const { clock, backend } = setup();
    const done = gate();
    const handler = vi.fn(async () => done.opened);
    const skipped: LeaseState[] = [];
    const scheduled = leaderOnlyScheduled(
      {
        backend: () => backend,
        clock,
        name: "cron/job",
        ttlMs: 10_000,
        holder: "eu",
        onNotLeader: (state) => skipped.push(state),
      },
      handler,
    );
    const first = scheduled(controller(), {}, executionContext());
    await settle();
    await scheduled(controller(), {}, executionContext());
    expect(handler).toHaveBeenCalledTimes(1);
    expect(skipped).toEqual([
      expect.objectContaining({
        isLeader: false,
        busy: true,
        holder: "eu",
        token: START + 1n,
        ttlMs: 10_000,
      }),
    ]);
    done.open();
    await first;
  });

  it('sends nothing with afterRun: "hold": a late duplicate of the same holder finds the term busy until it expires', async () => {
    const { clock, backend } = setup();
    const handler = vi.fn();
    const onNotLeader = vi.fn();
    const scheduled = leaderOnlyScheduled(
      {
        backend: () => backend,
        clock,
        name: "cron/job",
        ttlMs: 10_000,
        holder: "eu",
        afterRun: "hold",
        onNotLeader,
      },
      handler,
    );
    const ctx = executionContext();
    await scheduled(controller(), {}, ctx);
    expect(handler).toHaveBeenCalledTimes(1);
    expect(ctx.pending).toHaveLength(0);
    expect(await current(backend)).toMatchObject({ holder: "eu", parked: false });
    clock.advance(9000);
    await scheduled(controller(), {}, ctx);
    expect(handler).toHaveBeenCalledTimes(1);
    expect(onNotLeader).toHaveBeenCalledWith(
      expect.objectContaining({ isLeader: false, busy: true, holder: "eu" }),
      expect.anything(),
      {},
    );
    clock.advance(1000);
    await scheduled(controller(), {}, ctx);
    expect(handler).toHaveBeenCalledTimes(2);
    expect((await current(backend))?.token).toBeGreaterThan(START + 1n);
  });

  it("uses a holder derived from the event when given one", async () => {
    const { clock, backend } = setup();
    const handler = vi.fn();
    const scheduled = leaderOnlyScheduled(
      {
        backend: () => backend,
        clock,
        name: "cron/job",
        ttlMs: 10_000,
        holder: (c, env: { REGION: string }) => `${env.REGION}:${c.cron}`,
      },
      handler,
    );
    await scheduled(controller("0 * * * *"), { REGION: "eu" }, executionContext());
    expect((await current(backend))?.holder).toBe("eu:0 * * * *");
  });

  it("does not run the handler when the claim fails, and rejects with the typed error", async () => {
    const { backend } = setup();
    const broken: Backend = {
      ...backend,
      async claim() {
        throw new TransportError("connection refused");
      },
    };
    const handler = vi.fn();
    const scheduled = leaderOnlyScheduled({ backend: () => broken, name: "cron/job", ttlMs: 3000 }, handler);
    await expect(scheduled(controller(), {}, executionContext())).rejects.toBeInstanceOf(TransportError);
    expect(handler).not.toHaveBeenCalled();
  });

  it("reads the etcd configuration from the env bindings by default", async () => {
    const handler = vi.fn();
    const scheduled = leaderOnlyScheduled({ name: "cron/job", ttlMs: 3000 }, handler);
    await expect(scheduled(controller(), { OTHER: "x" }, executionContext())).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      field: "LEASEHOLD_ETCD_ENDPOINTS",
    });
    await expect(
      scheduled(controller(), { LEASEHOLD_ETCD_ENDPOINTS: "http://127.0.0.1:1" }, executionContext()),
    ).rejects.toMatchObject({ code: "TRANSPORT" });
    expect(handler).not.toHaveBeenCalled();
  });
});

describe("options are validated once, at creation", () => {
  const backend = () => memoryBackend();
  it.each([
    [{ name: "a//b", ttlMs: 3000 }, "name"],
    [{ name: "n", ttlMs: 1000 }, "ttlMs"],
    [{ name: "n", ttlMs: Number.NaN }, "ttlMs"],
    [{ name: "n", ttlMs: 3000, afterRun: "drop" }, "afterRun"],
    [{ name: "n", ttlMs: 3000, afterRun: "park", backend }, null],
    [{ name: "n", ttlMs: 3000, afterRun: "hold", backend }, null],
    [{ name: "n", ttlMs: 3000, renewIntervalMs: 3000 }, "renewIntervalMs"],
    [{ name: "n", ttlMs: 3000, holder: "" }, "holder"],
    [{ name: "n", ttlMs: 3000, backend: "etcd" }, "backend"],
    [{ name: "n", ttlMs: 3000, driftMarginMs: 2000 }, "driftMarginMs"],
    [{ name: "n", ttlMs: 3000, onNotLeader: true }, "onNotLeader"],
    [{ name: "n", ttlMs: 3000, backend }, null],
  ])("checks %o (field %s)", (options, field) => {
    const make = () => leaderOnlyScheduled(options as never, () => {});
    if (field === null) expect(make).not.toThrow();
    else expect(make).toThrow(expect.objectContaining({ field }));
  });

  it('refuses the old afterRun: "keep", naming its replacement "hold"', () => {
    expect(() =>
      leaderOnlyScheduled({ name: "n", ttlMs: 3000, afterRun: "keep" as never }, () => {}),
    ).toThrow(expect.objectContaining({ field: "afterRun", message: expect.stringContaining('"hold"') }));
  });

  it("rejects a handler that is not a function", () => {
    expect(() => leaderOnlyScheduled({ name: "n", ttlMs: 3000 }, "run" as never)).toThrow(
      InvalidArgumentError,
    );
  });
});
