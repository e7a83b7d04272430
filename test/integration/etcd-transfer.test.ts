/**
 * `Elector.transfer` on a real etcd, where the conformance suite cannot reach: a candidate that is not
 * leasehold's (`etcdctl elect`, clientv3/concurrency) queued ahead of the target makes the transfer refused
 * (nothing written, the term goes on, the Go candidate keeps its place); and a leader whose last step (the
 * revoke of its own lease) never reaches etcd (answered without being sent), as if it crashed right after the
 * transfer txn: the target leads at once all the same.
 */
import { afterAll, afterEach, expect, inject, it } from "vitest";
import { etcdWithWatch } from "../../adapters/etcd/watch.ts";
import { type EtcdctlProcess, spawnEtcdctl } from "../../scripts/lib/etcdctl.ts";
import {
  type Backend,
  createLease,
  fetchTransport,
  InvalidArgumentError,
  type LeaseState,
  startElector,
  type Transport,
} from "../../src/index.ts";

const endpoint = inject("etcdEndpoint");
const TTL_MS = 2000;
const backends: Backend[] = [];
const running = new Set<EtcdctlProcess>();
afterEach(async () => {
  await Promise.all([...running].map((p) => p.stop()));
  running.clear();
});
afterAll(() => Promise.all(backends.map((b) => b.close?.())));

function election(tag: string, transport?: Transport) {
  const prefix = `transfer-${tag}-${Date.now()}-${Math.floor(Math.random() * 1e9)}/`;
  const backend = etcdWithWatch({ endpoints: [endpoint], prefix, ...(transport ? { transport } : {}) });
  backends.push(backend);
  return { prefix, backend };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(check: () => T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await sleep(10);
  }
}

it("refuses a transfer past an etcdctl candidate queued ahead of the target; the term and the queue go on", async () => {
  const { prefix, backend } = election("foreign");
  const name = "jobs/x";
  const elected: string[] = [];
  const start = (who: string) =>
    startElector({
      lease: createLease({ backend, name, holder: who, ttlMs: TTL_MS }),
      onElected: () => elected.push(who),
    });
  const a = start("a");
  await until(() => (elected.length === 1 ? true : undefined));
  const go = spawnEtcdctl(endpoint, ["elect", `${prefix}${name}`, "go"]);
  running.add(go);
  await sleep(500);
  const b = start("b");
  await sleep(300);
  const refused = await a.transfer("b").catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(InvalidArgumentError);
  expect((refused as InvalidArgumentError).field).toBe("toHolder");
  expect(String((refused as Error).message)).toMatch(/not leasehold's/);
  expect(a.state().isLeader).toBe(true);
  // The Go candidate is next, as it was: it leads once a resigns.
  await a.stop({ release: true });
  expect(await go.waitForLines(2, 5000)).toEqual([expect.stringMatching(`^${prefix}${name}/`), "go"]);
  expect(elected).toEqual(["a"]);
  await go.stop();
  await until(() => (elected.length === 2 ? true : undefined));
  expect(elected[1]).toBe("b");
  await b.stop({ release: true });
});

it("a leader whose revoke after the transfer txn is lost: the target leads at once, not when the old lease expires", async () => {
  const base = fetchTransport();
  let dropRevoke = false;
  const transport: Transport = {
    request: (req) =>
      dropRevoke && new URL(req.url).pathname === "/v3/lease/revoke"
        ? Promise.resolve({ status: 200, headers: {}, body: "{}" })
        : base.request(req),
  };
  const { backend } = election("crash", transport);
  const name = "jobs/y";
  const elected: { who: string; token: bigint; at: number }[] = [];
  const leases = new Map<string, ReturnType<typeof createLease>>();
  const start = (who: string) => {
    const lease = createLease({ backend, name, holder: who, ttlMs: TTL_MS });
    leases.set(who, lease);
    return startElector({
      lease,
      onElected: (s: LeaseState) => elected.push({ who, token: s.token as bigint, at: Date.now() }),
    });
  };
  const a = start("a");
  await until(() => (elected.length === 1 ? true : undefined));
  const old = createLease({ backend, name, holder: "a", ttlMs: TTL_MS });
  const b = start("b");
  await sleep(300);
  dropRevoke = true;
  const at = Date.now();
  await a.transfer("b");
  const next = await until(() => elected[1]);
  expect(next.who).toBe("b");
  expect(next.token).toBeGreaterThan(elected[0]?.token as bigint);
  // Well before the old leader's lease (still alive, not revoked) could expire.
  expect(next.at - at).toBeLessThan(TTL_MS / 2);
  dropRevoke = false;
  // A write guarded by the old term (its candidate key and hold) is refused: the term record is b's now.
  expect(await old.claim()).toMatchObject({ isLeader: false, holder: "b" });
  expect(
    await leases.get("b")?.doIfLeader([{ type: "put", key: "transfer-data/k", value: "b" }]),
  ).toMatchObject({
    applied: true,
  });
  await a.stop({ release: true });
  await b.stop({ release: true });
});
