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
  const body = (await res.json()) as { kvs?: { key: string; value: string }[] };
  return (body.kvs ?? []).map((kv) => {
    const [token, holder] = atob(kv.key).slice(prefix.length).split("/");
    const value = JSON.parse(atob(kv.value)) as { trigger: string; holder: string };
    expect(value.holder).toBe(holder);
    return { token: BigInt(token ?? ""), holder: holder ?? "", trigger: value.trigger };
  });
}

/** The lease's current holder and fencing token, read from etcd. */
async function currentHolder(lease: string) {
  const info = await createLease({
    backend: etcdFromEnv({ ...env }),
    name: lease,
    holder: "reader",
    ttlMs: 30_000,
  }).leader();
  return info && { holder: info.holder, token: info.token };
}

/** `count` concurrent cron events for the same tick, each with its own execution context. */
async function cronTick(count: number, bindings: Cloudflare.Env = env) {
  const controller = () => createScheduledController({ cron: "*/5 * * * *", scheduledTime: Date.now() });
  const contexts = Array.from({ length: count }, () => createExecutionContext());
  const runs = await Promise.allSettled(contexts.map((ctx) => worker.scheduled(controller(), bindings, ctx)));
  await Promise.all(contexts.map((ctx) => waitOnExecutionContext(ctx)));
  return runs;
}

/** Ends the current term as its holder would (the same as letting its TTL pass, without the wait). */
async function endTerm(lease: string, holder: string) {
  // Spread: etcdFromEnv takes a string-indexed record, which an interface such as Cloudflare.Env is not.
  await createLease({ backend: etcdFromEnv({ ...env }), name: lease, holder, ttlMs: 30_000 }).release();
}

describe("scheduled: leaderOnlyScheduled in workerd", () => {
  it("runs the job on exactly one of several concurrent invocations per term", async () => {
    const first = await cronTick(6);
    expect(first.map((r) => r.status)).toEqual(Array(6).fill("fulfilled"));
    const afterFirst = await journal(CRON_LEASE);
    expect(afterFirst).toHaveLength(1);
    const term1 = afterFirst[0] as JournalEntry;
    expect(term1.trigger).toBe("cron");
    expect(await currentHolder(CRON_LEASE)).toEqual({ holder: term1.holder, token: term1.token });

    // The lease is kept after the run: duplicates of the same tick arriving later do not run the job again.
    await cronTick(3);
    expect(await journal(CRON_LEASE)).toHaveLength(1);

    await endTerm(CRON_LEASE, term1.holder);
    await cronTick(6);
    const afterSecond = await journal(CRON_LEASE);
    expect(afterSecond).toHaveLength(2);
    const term2 = afterSecond.find((e) => e.token !== term1.token) as JournalEntry;
    expect(term2.token).toBeGreaterThan(term1.token);
    expect(term2.holder).not.toBe(term1.holder);
    expect(await currentHolder(CRON_LEASE)).toEqual({ holder: term2.holder, token: term2.token });
  });

  it("does not run the job when etcd cannot be reached, and fails the event with a typed error", async () => {
    const runs = await cronTick(1, { LEASEHOLD_ETCD_ENDPOINTS: "http://127.0.0.1:9" });
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
      expect(res.headers.get("retry-after")).toBe("30");
      expect(await res.json()).toEqual({
        error: "not-leader",
        lease: HTTP_LEASE,
        holder: leader.holder,
        token: leader.token,
        retryAfterSeconds: 30,
      });
    }
    expect(await journal(HTTP_LEASE)).toEqual([
      { token: BigInt(leader.token), holder: leader.holder, trigger: "http" },
    ]);

    const later = await post();
    expect(later.status).toBe(503);
    expect(((await later.json()) as { holder: string }).holder).toBe(leader.holder);
  });

  it("answers 503 with a typed error body, not leadership, when etcd cannot be reached", async () => {
    const res = await worker.fetch(
      new Request("https://example.test/cron/report", { method: "POST" }),
      { LEASEHOLD_ETCD_ENDPOINTS: "http://127.0.0.1:9" },
      createExecutionContext(),
    );
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toEqual({ error: "lease-error", code: "TRANSPORT", retryable: true });
  });
});
