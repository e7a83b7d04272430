/**
 * The example Worker inside workerd, against the real etcd from the global setup. Who ran the job is read back
 * from what the job wrote to etcd (its guarded journal write), not from logs.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { etcdFromEnv } from "../../adapters/etcd/index.ts";
import { CRON_LEASE, HTTP_LEASE } from "../../example/leases.ts";
import { JOURNAL_PREFIX } from "../../example/report.ts";
import worker from "../../example/worker.ts";
import { createLease } from "../../src/index.ts";

interface JournalEntry {
  token: bigint;
  holder: string;
  trigger: string;
  /** How many runs wrote the entry: its etcd version (a run of the same term rewrites the same key). */
  runs: number;
}

/** Reads every journal entry of `lease` with one etcd range request (`POST /v3/kv/range` over the prefix). */
async function journal(lease: string): Promise<JournalEntry[]> {
  const prefix = new TextEncoder().encode(`${JOURNAL_PREFIX}${lease}/`);
  const end = prefix.slice();
  end[end.length - 1] = (end[end.length - 1] ?? 0) + 1;
  const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
  const res = await fetch(`${env.LEASEHOLD_ETCD_ENDPOINTS}/v3/kv/range`, {
    method: "POST",
    body: JSON.stringify({ key: b64(prefix), range_end: b64(end) }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { kvs?: { key: string; value: string; version: string }[] };
  return (body.kvs ?? []).map((kv) => {
    const [token, holder] = atob(kv.key).slice(prefix.length).split("/");
    const value = JSON.parse(atob(kv.value)) as { trigger: string; holder: string };
    expect(value.holder).toBe(holder);
    return {
      token: BigInt(token ?? ""),
      holder: holder ?? "",
      trigger: value.trigger,
      runs: Number(kv.version),
    };
  });
}

/** The lease's current holder, fencing token and whether its term is parked, read from etcd. */
async function currentHolder(lease: string) {
  const info = await createLease({
    backend: etcdFromEnv({ ...env }),
    name: lease,
    holder: "reader",
    ttlMs: 30_000,
  }).leader();
  return info && { holder: info.holder, token: info.token, parked: info.parked };
}

/** `count` concurrent cron events for the same tick, each with its own execution context. */
async function cronTick(count: number, bindings: Cloudflare.Env = env) {
  const controller = () => createScheduledController({ cron: "*/5 * * * *", scheduledTime: Date.now() });
  const contexts = Array.from({ length: count }, () => createExecutionContext());
  const runs = await Promise.allSettled(contexts.map((ctx) => worker.scheduled(controller(), bindings, ctx)));
  await Promise.all(contexts.map((ctx) => waitOnExecutionContext(ctx)));
  return runs;
}

/** Ends `holder`'s parked term (the same as letting its TTL pass, without the wait). */
async function endParkedTerm(lease: string, holder: string) {
  // Spread: etcdFromEnv takes a string-indexed record, which an interface such as Cloudflare.Env is not.
  await createLease({ backend: etcdFromEnv({ ...env }), name: lease, holder, ttlMs: 30_000 }).release();
}

describe("scheduled: leaderOnlyScheduled in workerd", () => {
  it("runs the job once for a duplicated delivery, resumes the parked term on the next tick, and fails over", async () => {
    const here = env.CRON_HOLDER;
    const elsewhere = { ...env, CRON_HOLDER: `${here}-b` };
    // Two deliveries of one tick at once, one holder: the second finds the term busy and skips.
    const first = await cronTick(2);
    expect(first.map((r) => r.status)).toEqual(["fulfilled", "fulfilled"]);
    const afterFirst = await journal(CRON_LEASE);
    expect(afterFirst).toEqual([{ token: expect.any(BigInt), holder: here, trigger: "cron", runs: 1 }]);
    const term1 = afterFirst[0] as JournalEntry;
    expect(await currentHolder(CRON_LEASE)).toEqual({ holder: here, token: term1.token, parked: true });

    // The next tick of the same deployment resumes the parked term: same token, one more run.
    await cronTick(1);
    expect(await journal(CRON_LEASE)).toEqual([{ ...term1, runs: 2 }]);

    // Another deployment finds the term held while it is parked for this one.
    await cronTick(2, elsewhere);
    expect(await journal(CRON_LEASE)).toEqual([{ ...term1, runs: 2 }]);

    await endParkedTerm(CRON_LEASE, here);
    await cronTick(2, elsewhere);
    const afterFailover = await journal(CRON_LEASE);
    expect(afterFailover).toHaveLength(2);
    const term2 = afterFailover.find((e) => e.token !== term1.token) as JournalEntry;
    expect(term2).toMatchObject({ holder: elsewhere.CRON_HOLDER, trigger: "cron", runs: 1 });
    expect(term2.token).toBeGreaterThan(term1.token);
    expect(await currentHolder(CRON_LEASE)).toEqual({
      holder: elsewhere.CRON_HOLDER,
      token: term2.token,
      parked: true,
    });
  });

  it("does not run the job when etcd cannot be reached, and fails the event with a typed error", async () => {
    const runs = await cronTick(1, { ...env, LEASEHOLD_ETCD_ENDPOINTS: "http://127.0.0.1:9" });
    expect(runs[0]).toMatchObject({ status: "rejected", reason: { code: "TRANSPORT" } });
  });
});

describe("fetch: requireLeader on the example's cron endpoint in workerd", () => {
  const post = () => exports.default.fetch("https://example.test/cron/report", { method: "POST" });

  it("answers 200 to the one request that leads and 503 + Retry-After naming the holder to the others", async () => {
    const responses = await Promise.all(Array.from({ length: 5 }, post));
    const ok = responses.filter((r) => r.status === 200);
    const busy = responses.filter((r) => r.status === 503);
    expect(ok).toHaveLength(1);
    expect(busy).toHaveLength(4);
    const leader = (await ok[0]?.json()) as { ran: boolean; holder: string; token: string };
    expect(leader.ran).toBe(true);
    for (const res of busy) {
      // The 30 s TTL plus etcd's 500 ms of expiry slack, rounded up: an upper bound.
      expect(res.headers.get("retry-after")).toBe("31");
      expect(await res.json()).toEqual({
        error: "not-leader",
        lease: HTTP_LEASE,
        holder: leader.holder,
        token: leader.token,
        busy: false,
        retryAfterSeconds: 31,
      });
    }
    expect(await journal(HTTP_LEASE)).toEqual([
      { token: BigInt(leader.token), holder: leader.holder, trigger: "http", runs: 1 },
    ]);
    // afterResponse "hold": the term stays busy, so a later call within the TTL is refused too.
    expect(await currentHolder(HTTP_LEASE)).toEqual({
      holder: leader.holder,
      token: BigInt(leader.token),
      parked: false,
    });

    const later = await post();
    expect(later.status).toBe(503);
    expect(((await later.json()) as { holder: string }).holder).toBe(leader.holder);
  });

  it("answers 503 with a typed error body, not leadership, when etcd cannot be reached", async () => {
    const res = await worker.fetch(
      new Request("https://example.test/cron/report", { method: "POST" }),
      { ...env, LEASEHOLD_ETCD_ENDPOINTS: "http://127.0.0.1:9" },
      createExecutionContext(),
    );
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toEqual({ error: "lease-error", code: "TRANSPORT", retryable: true });
  });
});
