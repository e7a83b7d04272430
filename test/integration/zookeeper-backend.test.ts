/**
 * The ZooKeeper backend on a real ZooKeeper 3.8 through leasehold-zk-gateway, beyond the shared conformance
 * suite: the znode layout and exact 64-bit values, the key and version mapping, the commit-time re-checks
 * of the atomic guard (changes injected between the read and the multi), extension detection and the
 * non-atomic fallback, and the requests a renew costs.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { undiciTransport } from "../../adapters/node/index.ts";
import { zookeeper } from "../../adapters/zookeeper/index.ts";
import { ZkSession } from "../../packages/zk-gateway/src/zk.ts";
import {
  type Backend,
  bytesToText,
  createLease,
  decodeHolderRecord,
  fetchTransport,
  type HttpRequest,
  InvalidArgumentError,
  type LeaseOptions,
  MalformedResponseError,
  type Transport,
  UnsupportedError,
} from "../../src/backend-kit.ts";

const url = inject("zkGatewayUrl");
const plainUrl = inject("zkPlainGatewayUrl");
const base = fetchTransport();
let zk: ZkSession;
const run = Math.random().toString(36).slice(2, 8);
let n = 0;
const fresh = (what: string) => `${what}-${run}-${n++}`;

beforeAll(async () => {
  zk = await ZkSession.open(inject("zkConnectString"), { sessionTimeoutMs: 10_000, callTimeoutMs: 5000 });
});
afterAll(() => zk.close());

/** A transport that counts requests and can run `beforeMulti` just before a multi request is sent. */
function spyTransport() {
  const seen: HttpRequest[] = [];
  const spy = {
    seen,
    beforeMulti: undefined as (() => Promise<void>) | undefined,
    async request(req: HttpRequest) {
      seen.push(req);
      if (req.url.includes("/leasehold/v1/multi") && spy.beforeMulti) {
        const hook = spy.beforeMulti;
        spy.beforeMulti = undefined;
        await hook();
      }
      return base.request(req);
    },
  };
  return spy satisfies Transport;
}

const ctx = () => ({ signal: AbortSignal.timeout(5000) });

const lease = (backend: Backend, holder: string, extra: Partial<LeaseOptions> = {}) =>
  createLease({ backend, name: "jobs/nightly", holder, ttlMs: 10_000, ...extra });

describe("layout and exact values", () => {
  it("keeps one ephemeral leader znode per lease, holding the holder record, the REST session and the term state", async () => {
    const prefix = fresh("layout");
    const backend = zookeeper({ url, prefix, extensions: "leasehold-v1" });
    const claimId = 2n ** 62n + 12_345n;
    const outcome = await backend.claim(
      { name: "jobs/nightly", holder: "worker-1", ttlMs: 10_000, value: "https://worker-1.example", claimId },
      ctx(),
    );
    const { data, stat } = await zk.getData(`/${prefix}/jobs^nightly`);
    expect(stat.ephemeralOwner).toBeGreaterThan(2n ** 53n);
    expect(outcome).toMatchObject({
      held: true,
      hold: claimId.toString(),
      leader: { leaseId: stat.ephemeralOwner.toString(), token: stat.czxid, parked: false },
    });
    expect(decodeHolderRecord(data as Buffer, "test")).toEqual({
      holder: "worker-1",
      ttlMs: 10_000,
      value: "https://worker-1.example",
      state: "busy",
      run: "4611686018427400249",
    });
    const record = JSON.parse((data as Buffer).toString());
    expect(Object.keys(record)).toEqual(["holder", "ttlMs", "value", "session", "state", "run"]);
    expect(record.session).toMatch(/^[A-Za-z0-9_-]{76}$/);
  });

  it("fails closed on a leader znode leasehold did not write", async () => {
    const prefix = fresh("foreign");
    await zk.create(`/${prefix}`, null, { ephemeral: false, sequence: false });
    await zk.create(`/${prefix}/jobs^nightly`, Buffer.from("not a record"), {
      ephemeral: false,
      sequence: false,
    });
    const a = lease(zookeeper({ url, prefix }), "a");
    await expect(a.claim()).rejects.toBeInstanceOf(MalformedResponseError);
    expect(a.state().isLeader).toBe(false);
    await expect(a.leader()).rejects.toBeInstanceOf(MalformedResponseError);
  });

  it("refuses names and keys ZooKeeper cannot store, and writes under the lease prefix", async () => {
    const prefix = fresh("names");
    const backend = zookeeper({ url, prefix, extensions: "leasehold-v1" });
    await expect(
      createLease({ backend, name: "jobs/\u{1d400}", holder: "a", ttlMs: 5000 }).claim(),
    ).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      field: "name",
    });
    const a = lease(backend, "a");
    await a.claim();
    await expect(a.doIfLeader([{ type: "put", key: "/abs", value: "x" }])).rejects.toMatchObject({
      field: "ops[0].key",
    });
    await expect(
      a.doIfLeader([{ type: "put", key: `${prefix}/jobs^nightly`, value: "x" }]),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe("transactions: keys, versions, revisions", () => {
  it.each(["leasehold-v1", "none"] as const)(
    "a put of a key that an earlier put created as a parent, and a delete under it (%s)",
    async (extensions) => {
      const backend = zookeeper({
        url: extensions === "none" ? plainUrl : url,
        prefix: fresh("nest"),
        extensions,
      });
      const a = lease(backend, "a", { allowNonAtomicGuard: true });
      await a.claim();
      const top = fresh("top");
      const r = await a.doIfLeader([
        { type: "put", key: `${top}/child`, value: "c" },
        { type: "put", key: top, value: "t" },
        { type: "delete", key: `${top}/gone` },
        { type: "get", key: top },
      ]);
      expect(
        r.applied && r.results[3]?.type === "get" && bytesToText(r.results[3].kv?.value ?? new Uint8Array()),
      ).toBe("t");
      expect((await zk.getData(`/${top}`)).data?.toString()).toBe("t");
      expect((await zk.getData(`/${top}/child`)).data?.toString()).toBe("c");
    },
  );

  it("maps key k to znode /k, version to ZooKeeper's version + 1, revisions to czxid and mzxid", async () => {
    const backend = zookeeper({ url, prefix: fresh("kv"), extensions: "leasehold-v1" });
    const a = lease(backend, "a");
    await a.claim();
    const key = `${fresh("data")}/deep/key`;
    const missing = [{ key, target: "version", op: "=", value: 0n }] as const;
    const put = await a.doIfLeader(
      [
        { type: "put", key, value: "v1" },
        { type: "get", key },
      ],
      [...missing],
    );
    const stat1 = await zk.exists(`/${key}`);
    expect(put).toEqual({
      applied: true,
      results: [
        { type: "put" },
        {
          type: "get",
          kv: {
            key: new TextEncoder().encode(key),
            value: new TextEncoder().encode("v1"),
            createRevision: stat1?.czxid,
            modRevision: stat1?.mzxid,
            version: 1n,
          },
        },
      ],
    });
    expect(await a.doIfLeader([{ type: "put", key, value: "v2" }], [...missing])).toEqual({
      applied: false,
      reason: "condition-failed",
    });
    const second = await a.doIfLeader(
      [
        { type: "put", key, value: "v2" },
        { type: "get", key },
      ],
      [{ key, target: "version", op: "=", value: 1n }],
    );
    const stat2 = await zk.exists(`/${key}`);
    expect(second.applied && second.results[1]).toMatchObject({
      kv: { version: 2n, createRevision: stat1?.czxid, modRevision: stat2?.mzxid },
    });
    expect((await zk.getData(`/${key}`)).data?.toString()).toBe("v2");
    const removed = await a.doIfLeader([
      { type: "delete", key },
      { type: "get", key },
      { type: "delete", key },
    ]);
    expect(removed.applied && removed.results).toEqual([
      { type: "delete", deleted: 1n },
      { type: "get", kv: null },
      { type: "delete", deleted: 0n },
    ]);
    expect(await zk.exists(`/${key}`)).toBeNull();
  });

  it("refuses to delete a znode with children, applying nothing", async () => {
    const a = lease(zookeeper({ url, prefix: fresh("tree"), extensions: "leasehold-v1" }), "a");
    await a.claim();
    const parent = fresh("parent");
    await a.doIfLeader([{ type: "put", key: `${parent}/child`, value: "c" }]);
    const other = fresh("other");
    await expect(
      a.doIfLeader([
        { type: "put", key: other, value: "x" },
        { type: "delete", key: parent },
      ]),
    ).rejects.toBeInstanceOf(UnsupportedError);
    expect(await zk.exists(`/${other}`)).toBeNull();
  });
});

describe("the atomic guard re-checks at commit", () => {
  it("a compared key changed between the read and the multi: planned again, then condition-failed", async () => {
    const spy = spyTransport();
    const a = lease(
      zookeeper({ url, prefix: fresh("cas"), extensions: "leasehold-v1", transport: spy }),
      "a",
    );
    await a.claim();
    const key = fresh("cas-key");
    await a.doIfLeader([{ type: "put", key, value: "mine" }]);
    spy.beforeMulti = async () => {
      await zk.setData(`/${key}`, Buffer.from("theirs"), -1);
    };
    const r = await a.doIfLeader(
      [{ type: "put", key, value: "overwritten?" }],
      [{ key, target: "version", op: "=", value: 1n }],
    );
    expect(r).toEqual({ applied: false, reason: "condition-failed" });
    expect((await zk.getData(`/${key}`)).data?.toString()).toBe("theirs");
    expect(spy.seen.filter((req) => req.url.includes("/leasehold/v1/multi"))).toHaveLength(2);
  });

  it("the term ended between the read and the multi: not-leader, nothing written", async () => {
    const spy = spyTransport();
    const prefix = fresh("ended");
    const a = lease(zookeeper({ url, prefix, extensions: "leasehold-v1", transport: spy }), "a");
    const s = await a.claim();
    const key = fresh("ended-key");
    spy.beforeMulti = async () => {
      // The term's session ends (as when it expires), and someone else takes the lease.
      const { data } = await zk.getData(`/${prefix}/jobs^nightly`);
      const { session } = JSON.parse((data as Buffer).toString());
      expect((await fetch(`${url}/sessions/v1/${session}`, { method: "DELETE" })).status).toBe(204);
      expect((await lease(zookeeper({ url, prefix }), "b").claim()).isLeader).toBe(true);
    };
    expect(await a.doIfLeader([{ type: "put", key, value: "late" }])).toEqual({
      applied: false,
      reason: "not-leader",
    });
    expect(await zk.exists(`/${key}`)).toBeNull();
    expect((await a.leader())?.token).toBeGreaterThan(s.token as bigint);
  });

  it("a key read as missing must still be missing at commit", async () => {
    const spy = spyTransport();
    const a = lease(
      zookeeper({ url, prefix: fresh("absent"), extensions: "leasehold-v1", transport: spy }),
      "a",
    );
    await a.claim();
    const key = `${fresh("absent-key")}/x`;
    spy.beforeMulti = async () => {
      await zk.create(`/${key.split("/")[0]}`, null, { ephemeral: false, sequence: false });
      await zk.create(`/${key}`, Buffer.from("appeared"), { ephemeral: false, sequence: false });
    };
    const r = await a.doIfLeader(
      [{ type: "put", key: fresh("flag"), value: "1" }],
      [{ key, target: "version", op: "=", value: 0n }],
    );
    expect(r).toEqual({ applied: false, reason: "condition-failed" });
  });
});

describe("extension detection and the non-atomic fallback", () => {
  it("auto: capabilities are one frozen object, atomicGuard true before and after detection", async () => {
    const spy = spyTransport();
    const backend = zookeeper({ url, prefix: fresh("auto"), transport: spy });
    const caps = backend.capabilities;
    expect(caps.atomicGuard).toBe(true);
    expect(Object.isFrozen(caps)).toBe(true);
    const a = lease(backend, "a");
    await a.claim();
    expect(backend.capabilities).toBe(caps);
    expect((await a.doIfLeader([{ type: "put", key: fresh("auto-key"), value: "1" }])).applied).toBe(true);
    expect(backend.capabilities).toBe(caps);
    expect(spy.seen.filter((req) => req.url.endsWith("/leasehold/v1"))).toHaveLength(1);
  });

  it("auto against a SPEC v2-only gateway: doIfLeader refuses, also with allowNonAtomicGuard, and writes nothing", async () => {
    const spy = spyTransport();
    const backend = zookeeper({ url: plainUrl, prefix: fresh("plain"), transport: spy });
    const caps = backend.capabilities;
    const key = fresh("never");
    for (const extra of [{}, { allowNonAtomicGuard: true }]) {
      const a = lease(backend, "a", extra);
      expect((await a.claim()).isLeader).toBe(true);
      await expect(a.doIfLeader([{ type: "put", key, value: "1" }])).rejects.toBeInstanceOf(UnsupportedError);
      await a.park();
    }
    expect(backend.capabilities).toBe(caps);
    expect(caps.atomicGuard).toBe(true);
    expect(await zk.exists(`/${key}`)).toBeNull();
    expect(spy.seen.filter((req) => req.url.includes(key))).toEqual([]);
  });

  it('extensions: "none": atomicGuard false from the start; doIfLeader runs non-atomically when allowed', async () => {
    const backend = zookeeper({ url: plainUrl, prefix: fresh("plain"), extensions: "none" });
    expect(backend.capabilities.atomicGuard).toBe(false);
    const strict = lease(backend, "a");
    await strict.claim();
    await expect(strict.doIfLeader([{ type: "put", key: fresh("k"), value: "1" }])).rejects.toBeInstanceOf(
      UnsupportedError,
    );
    await strict.park();
    const loose = lease(backend, "a", { allowNonAtomicGuard: true });
    expect((await loose.claim()).isLeader).toBe(true);
    const key = `${fresh("loose")}/k`;
    const r = await loose.doIfLeader(
      [
        { type: "put", key, value: "1" },
        { type: "get", key },
        { type: "put", key, value: "2" },
      ],
      [{ key, target: "version", op: "=", value: 0n }],
    );
    expect(r.applied).toBe(true);
    expect(
      r.applied && r.results[1]?.type === "get" && bytesToText(r.results[1].kv?.value ?? new Uint8Array()),
    ).toBe("1");
    expect((await zk.getData(`/${key}`)).data?.toString()).toBe("2");
  });

  it('extensions: "leasehold-v1" against a gateway without it fails with UnsupportedError, never non-atomically', async () => {
    const a = lease(zookeeper({ url: plainUrl, prefix: fresh("forced"), extensions: "leasehold-v1" }), "a");
    await a.claim();
    const key = fresh("forced-key");
    await expect(a.doIfLeader([{ type: "put", key, value: "1" }])).rejects.toBeInstanceOf(UnsupportedError);
    expect(await zk.exists(`/${key}`)).toBeNull();
  });
});

describe("round trips", () => {
  it("renew is one heartbeat; a fresh backend instance first reads the leader znode once", async () => {
    const prefix = fresh("renew");
    const spy = spyTransport();
    const backend = zookeeper({ url, prefix, extensions: "leasehold-v1", transport: spy });
    const a = lease(backend, "a");
    const s = await a.claim();
    spy.seen.length = 0;
    await a.renew();
    expect(
      spy.seen.map((r) => `${r.method} ${new URL(r.url).pathname.split("/").slice(1, 3).join("/")}`),
    ).toEqual(["PUT sessions/v1"]);
    const other = spyTransport();
    const fresh2 = zookeeper({ url, prefix, extensions: "leasehold-v1", transport: other });
    const { data } = await zk.getData(`/${prefix}/jobs^nightly`);
    const term = {
      name: "jobs/nightly",
      holder: "a",
      leaseId: s.leaseId as string,
      token: s.token as bigint,
      ttlMs: 10_000,
      hold: JSON.parse((data as Buffer).toString()).run,
    };
    expect(await fresh2.renew(term, ctx())).toEqual({ grantedTtlMs: 10_000 });
    expect(other.seen.map((r) => r.method)).toEqual(["GET", "PUT"]);
    expect(await fresh2.renew(term, ctx())).toEqual({ grantedTtlMs: 10_000 });
    expect(other.seen.map((r) => r.method)).toEqual(["GET", "PUT", "PUT"]);
  });

  it("claim: 1 request when the lease is held (by another, or busy), 3 to resume, 4 to take a free one; park: 2 (fetch does not pipeline)", async () => {
    const prefix = fresh("rt");
    await lease(zookeeper({ url, prefix }), "warm-up").claim();
    const handle = (holder: string) => {
      const spy = spyTransport();
      const backend = zookeeper({ url, prefix, extensions: "leasehold-v1", transport: spy });
      const h = createLease({ backend, name: "free", holder, ttlMs: 10_000 });
      const requests = () => spy.seen.map((r) => `${r.method} ${new URL(r.url).pathname.split("/")[1]}`);
      return { h, spy, requests };
    };
    const first = handle("a");
    expect((await first.h.claim()).isLeader).toBe(true);
    expect(first.requests()).toEqual(["GET znodes", "POST sessions", "POST znodes", "GET znodes"]);
    const busy = handle("a");
    expect(await busy.h.claim()).toMatchObject({ isLeader: false, busy: true, holder: "a" });
    expect(busy.requests()).toEqual(["GET znodes"]);
    const other = handle("b");
    expect(await other.h.claim()).toMatchObject({ isLeader: false, busy: false, holder: "a" });
    expect(other.requests()).toEqual(["GET znodes"]);
    first.spy.seen.length = 0;
    await first.h.park();
    expect(first.requests()).toEqual(["GET znodes", "PUT znodes"]);
    const next = handle("a");
    expect((await next.h.claim()).isLeader).toBe(true);
    expect(next.requests()).toEqual(["GET znodes", "PUT znodes", "PUT sessions"]);
  });

  it("a free claim pipelines the create and its read on undici (3 round trips), a resume its set and heartbeat (2)", async () => {
    const undici = undiciTransport();
    const sent: string[] = [];
    const transport: Transport = {
      request: (req) => {
        sent.push(req.method);
        return undici.request(req);
      },
      pipeline: (reqs) => {
        sent.push(`[${reqs.map((r) => r.method).join(" ")}]`);
        return undici.pipeline?.(reqs) ?? [];
      },
    };
    try {
      const prefix = fresh("pipelined");
      await lease(zookeeper({ url, prefix }), "warm-up").claim();
      const handle = () =>
        createLease({
          backend: zookeeper({ url, prefix, extensions: "leasehold-v1", transport }),
          name: "free",
          holder: "a",
          ttlMs: 10_000,
        });
      const first = handle();
      const s = await first.claim();
      expect(s.isLeader).toBe(true);
      expect(sent).toEqual(["GET", "POST", "[POST GET]"]);
      expect(s.token).toBe((await zk.exists(`/${prefix}/free`))?.czxid);
      await first.park();
      sent.length = 0;
      expect(await handle().claim()).toMatchObject({ isLeader: true, token: s.token, leaseId: s.leaseId });
      expect(sent).toEqual(["GET", "[PUT PUT]"]);
    } finally {
      await undici.close?.();
    }
  });
});
