import { setImmediate } from "node:timers/promises";
import { describe, expect, it, vi } from "vitest";
import { type LeaderRun, leaderOnlyScheduled } from "../../adapters/cloudflare/index.ts";
import { fakeClock, type MemoryBackend, memoryBackend } from "../../adapters/testing/index.ts";
import {
  type Backend,
  InvalidArgumentError,
  LeaseLostError,
  type LeaseState,
  TransportError,
} from "../../src/index.ts";

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

const current = (backend: MemoryBackend, name = "cron/job") => backend.leader(name, { signal: signal() });

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
      expect(state).toMatchObject({ isLeader: false, holder: winner, token: START + 1n });
    }
    expect(new TextDecoder().decode(backend.get("journal")?.value)).toBe(winner);
  });

  it("renews the lease every TTL/3 while the handler runs, and stops when it returns", async () => {
    const { clock, backend } = setup();
    const done = gate();
    const renew = vi.spyOn(backend, "renew");
    let run: LeaderRun | undefined;
    const scheduled = leaderOnlyScheduled(
      { backend: () => backend, clock, name: "cron/job", ttlMs: 3000 },
      async (_c, _e, _x, r) => {
        run = r;
        await done.opened;
      },
    );
    const result = scheduled(controller(), {}, executionContext());
    await settle();
    for (let i = 0; i < 9; i++) {
      clock.advance(1000);
      await settle();
    }
    expect(renew).toHaveBeenCalledTimes(9);
    expect(run?.signal.aborted).toBe(false);
    expect(run?.lease.state().isLeader).toBe(true);
    expect((await current(backend))?.holder).toBe(run?.lease.holder);

    done.open();
    await result;
    clock.advance(3000);
    await settle();
    expect(renew).toHaveBeenCalledTimes(9);
    expect(await current(backend)).toBeNull();
  });

  it("aborts run.signal when a renewal finds the lease gone", async () => {
    const { clock, backend } = setup();
    const done = gate();
    let run: LeaderRun | undefined;
    const scheduled = leaderOnlyScheduled(
      { backend: () => backend, clock, name: "cron/job", ttlMs: 3000, renewIntervalMs: 500 },
      async (_c, _e, _x, r) => {
        run = r;
        await done.opened;
      },
    );
    const result = scheduled(controller(), {}, executionContext());
    await settle();
    const held = await current(backend);
    if (!held) throw new Error("not claimed");
    await backend.release({ name: "cron/job", ...held }, { signal: signal() });
    clock.advance(500);
    await settle();
    expect(run?.signal.aborted).toBe(true);
    expect(run?.signal.reason).toBeInstanceOf(LeaseLostError);
    done.open();
    await result;
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
    const done = gate();
    let run: LeaderRun | undefined;
    const scheduled = leaderOnlyScheduled(
      { backend: () => flaky, clock, name: "cron/job", ttlMs: 3000 },
      async (_c, _e, _x, r) => {
        run = r;
        await done.opened;
      },
    );
    const result = scheduled(controller(), {}, executionContext());
    await settle();
    clock.advance(1000);
    await settle();
    clock.advance(1000);
    await settle();
    clock.advance(1000);
    await settle();
    expect(run?.signal.aborted).toBe(false);
    expect(run?.lease.state().isLeader).toBe(true);
    done.open();
    await result;
  });

  it("aborts run.signal once transient failures outlast the term", async () => {
    const { clock, backend } = setup();
    const down: Backend = {
      ...backend,
      async renew() {
        throw new TransportError("connection refused");
      },
    };
    const done = gate();
    let run: LeaderRun | undefined;
    const scheduled = leaderOnlyScheduled(
      { backend: () => down, clock, name: "cron/job", ttlMs: 3000 },
      async (_c, _e, _x, r) => {
        run = r;
        await done.opened;
      },
    );
    const result = scheduled(controller(), {}, executionContext());
    await settle();
    for (let i = 0; i < 2; i++) {
      clock.advance(1000);
      await settle();
    }
    expect(run?.signal.aborted).toBe(false);
    clock.advance(1000);
    await settle();
    expect(run?.signal.aborted).toBe(true);
    expect(run?.signal.reason).toBeInstanceOf(TransportError);
    done.open();
    await result;
  });

  it('releases through ctx.waitUntil with afterRun: "release", also when the handler throws', async () => {
    const { clock, backend } = setup();
    const scheduled = leaderOnlyScheduled(
      { backend: () => backend, clock, name: "cron/job", ttlMs: 10_000, afterRun: "release" },
      async () => {
        throw new RangeError("job failed");
      },
    );
    const ctx = executionContext();
    await expect(scheduled(controller(), {}, ctx)).rejects.toThrow(RangeError);
    expect(ctx.pending).toHaveLength(1);
    await Promise.all(ctx.pending);
    expect(await current(backend)).toBeNull();
    expect(backend.leaseCount()).toBe(0);
  });

  it('keeps the lease by default (afterRun: "keep") so a late duplicate does not run again', async () => {
    const { clock, backend } = setup();
    const handler = vi.fn();
    const onNotLeader = vi.fn();
    const scheduled = leaderOnlyScheduled(
      { backend: () => backend, clock, name: "cron/job", ttlMs: 10_000, onNotLeader },
      handler,
    );
    const ctx = executionContext();
    await scheduled(controller(), {}, ctx);
    expect(handler).toHaveBeenCalledTimes(1);
    expect(ctx.pending).toHaveLength(0);
    await scheduled(controller(), {}, ctx);
    expect(handler).toHaveBeenCalledTimes(1);
    expect(onNotLeader).toHaveBeenCalledTimes(1);
    clock.advance(10_000);
    await scheduled(controller(), {}, ctx);
    expect(handler).toHaveBeenCalledTimes(2);
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

  it("rejects a handler that is not a function", () => {
    expect(() => leaderOnlyScheduled({ name: "n", ttlMs: 3000 }, "run" as never)).toThrow(
      InvalidArgumentError,
    );
  });
});
