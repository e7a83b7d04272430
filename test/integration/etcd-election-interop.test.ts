/**
 * leasehold and etcd's own Go client share elections: `etcdctl elect` (clientv3/concurrency's Election) and
 * leasehold see each other as leaders, wait for each other, and agree on the leader's key and lease.
 */
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import { etcd } from "../../adapters/etcd/index.ts";
import { etcdWithWatch } from "../../adapters/etcd/watch.ts";
import { type EtcdctlProcess, etcdctl, spawnEtcdctl } from "../../scripts/lib/etcdctl.ts";
import { createLease, startElector } from "../../src/index.ts";

const endpoint = inject("etcdEndpoint");
const prefix = `interop-${Date.now()}-${Math.floor(Math.random() * 1e9)}/`;
const backend = etcd({ endpoints: [endpoint], prefix: `${prefix}lease/` });
const running = new Set<EtcdctlProcess>();

afterEach(async () => {
  await Promise.all([...running].map((p) => p.stop()));
  running.clear();
});
afterAll(() => backend.close?.());

function elect(args: readonly string[]): EtcdctlProcess {
  const p = spawnEtcdctl(endpoint, ["elect", ...args]);
  running.add(p);
  return p;
}

interface Kv {
  key: string;
  create_revision: string;
  mod_revision: string;
  lease?: string;
  value?: string;
}

const b64 = (text: string) => Buffer.from(text).toString("base64");

/** The keys from `key` up to `end` (exclusive; just `key` without it), as etcd's JSON gateway reports them. */
async function range(key: string, end?: string): Promise<Kv[]> {
  const res = await fetch(`${endpoint}/v3/kv/range`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key: b64(key), ...(end === undefined ? {} : { range_end: b64(end) }) }),
    signal: AbortSignal.timeout(5000),
  });
  const body = (await res.json()) as { kvs?: Kv[] };
  return (body.kvs ?? []).map((kv) => ({ ...kv, key: Buffer.from(kv.key, "base64").toString() }));
}

/** Waits until the election has `count` candidate keys (`E/` .. `E0`); returns them oldest first. */
async function candidates(e: string, count: number): Promise<Kv[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const kvs = await range(`${e}/`, `${e}0`);
    if (kvs.length >= count) {
      return kvs.sort((a, b) => (BigInt(a.create_revision) < BigInt(b.create_revision) ? -1 : 1));
    }
    if (Date.now() > deadline) throw new Error(`election ${e}: ${kvs.length} candidates, not ${count}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The lease ID (decimal) of a candidate key `E/<hex>`, as clientv3/concurrency names it. */
const leaseOf = (e: string, key: string) => BigInt(`0x${key.slice(e.length + 1)}`).toString();

describe("etcd elections shared with etcdctl elect", () => {
  it("while an etcdctl candidate leads, leasehold does not: it reports that candidate and writes nothing", async () => {
    const name = "jobs/go-leads";
    const e = `${prefix}lease/${name}`;
    const go = elect([e, "p"]);
    const [key, value] = (await go.waitForLines(2, 10_000)) as [string, string];
    expect(key).toMatch(new RegExp(`^${e}/[0-9a-f]+$`));
    expect(value).toBe("p");
    const [kv] = (await range(key)) as [Kv];
    const goLease = leaseOf(e, key);
    expect(kv.lease).toBe(goLease);

    const lease = createLease({ backend, name, holder: "lh", ttlMs: 5000 });
    const state = await lease.claim();
    expect(state).toMatchObject({
      isLeader: false,
      busy: false,
      holder: "p",
      token: BigInt(kv.create_revision),
      leaseId: goLease,
      ttlMs: null,
    });
    expect(await lease.leader()).toEqual({
      holder: "p",
      token: BigInt(kv.create_revision),
      leaseId: goLease,
      ttlMs: null,
      parked: false,
      value: "p",
    });
    // A leasehold holder with the Go candidate's name does not take over its term either.
    expect((await createLease({ backend, name, holder: "p", ttlMs: 5000 }).claim()).isLeader).toBe(false);

    const dataKey = `${prefix}data/go-leads`;
    expect(await lease.doIfLeader([{ type: "put", key: dataKey, value: "x" }])).toEqual({
      applied: false,
      reason: "not-leader",
    });
    expect(await range(dataKey)).toEqual([]);
    expect(await range(key)).toEqual([kv]);
    expect(await range(e)).toEqual([]);

    // etcdctl resigns when stopped; the election is leasehold's at once.
    await go.stop();
    expect((await lease.claim()).isLeader).toBe(true);
    expect((await lease.doIfLeader([{ type: "put", key: dataKey, value: "x" }])).applied).toBe(true);
    await lease.release();
  });

  it("while leasehold leads, etcdctl sees its value and a Go candidate waits until leasehold releases", async () => {
    const name = "jobs/lh-leads";
    const e = `${prefix}lease/${name}`;
    const lease = createLease({ backend, name, holder: "lh", value: "lh-value", ttlMs: 10_000 });
    const state = await lease.claim();
    expect(state.isLeader).toBe(true);
    const hex = BigInt(state.leaseId as string).toString(16);
    const leaseholdKey = `${e}/${hex}`;

    const observer = elect(["-l", e]);
    expect(await observer.waitForLines(2, 10_000)).toEqual([leaseholdKey, "lh-value"]);

    const ttl = await etcdctl(endpoint, ["lease", "timetolive", hex, "--keys"]);
    const shown = new RegExp(
      `^lease ${hex} granted with TTL\\(10s\\), remaining\\((\\d+)s\\), attached keys\\(\\[(.*)\\]\\)`,
    );
    const [, remaining, keys] = shown.exec(ttl) ?? [];
    expect(Number(remaining)).toBeGreaterThan(0);
    expect(Number(remaining)).toBeLessThanOrEqual(10);
    expect(keys?.split(" ").sort()).toEqual([e, leaseholdKey]);

    const waiting = elect([e, "q"]);
    const [first, second] = (await candidates(e, 2)) as [Kv, Kv];
    expect(first.key).toBe(leaseholdKey);
    const goKey = second.key;
    await expect(waiting.waitForLines(1, 1500)).rejects.toThrow(/no 1 lines within/);
    expect((await lease.claim()).isLeader).toBe(true);
    expect((await lease.leader())?.holder).toBe("lh");

    await lease.release();
    expect(await waiting.waitForLines(2, 3000)).toEqual([goKey, "q"]);
    expect(await observer.waitForLines(4, 3000)).toEqual([leaseholdKey, "lh-value", goKey, "q"]);
    expect(await lease.leader()).toMatchObject({ holder: "q", leaseId: leaseOf(e, goKey), ttlMs: null });
  });
});

describe("a queueing elector (etcdWithWatch) in line with etcdctl elect", () => {
  it("waits behind a Go leader, leads after it, and a Go candidate queued behind leads after leasehold", async () => {
    const watching = etcdWithWatch({ endpoints: [endpoint], prefix: `${prefix}queue/` });
    const name = "jobs/in-line";
    const e = `${prefix}queue/${name}`;
    const go = elect([e, "p"]);
    const [goKey] = (await go.waitForLines(2, 10_000)) as [string];
    const elected: string[] = [];
    const elector = startElector({
      lease: createLease({ backend: watching, name, holder: "lh", ttlMs: 5000 }),
      onElected: (s) => {
        elected.push(s.leaseIdHex as string);
      },
    });
    const [, ours] = (await candidates(e, 2)) as [Kv, Kv];
    const behind = elect([e, "q"]);
    const [, , last] = (await candidates(e, 3)) as [Kv, Kv, Kv];
    await new Promise((r) => setTimeout(r, 300));
    expect(elected).toEqual([]);
    expect((await range(goKey)).length).toBe(1);

    await go.stop();
    await expect.poll(() => elected.length, { timeout: 3000, interval: 10 }).toBe(1);
    expect(`${e}/${elected[0]}`).toBe(ours.key);
    await expect(behind.waitForLines(1, 500)).rejects.toThrow(/no 1 lines within/);
    await elector.stop({ release: true });
    expect(await behind.waitForLines(2, 3000)).toEqual([last.key, "q"]);
    await watching.close?.();
  });
});
