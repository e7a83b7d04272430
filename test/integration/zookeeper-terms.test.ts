/**
 * Claim protocol v2 on a real ZooKeeper 3.8 through leasehold-zk-gateway, at the Backend level and through
 * lease handles: a term belongs to one handle (a second live handle of the same holder is busy), the park /
 * resume hand-off keeps the term (same czxid and session, no new session), racing duplicates, the store
 * refusing a parked or superseded invocation's late transaction (with the extension and without), a crashed
 * busy term blocking its holder until its session expires, and releaseParked against a concurrent resume.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { zookeeper } from "../../adapters/zookeeper/index.ts";
import { ZkSession } from "../../packages/zk-gateway/src/zk.ts";
import {
  type Backend,
  type ClaimOutcome,
  createLease,
  fetchTransport,
  type HttpRequest,
  type LeaseOptions,
  normalizeTxn,
  systemClock,
  type TermRef,
  type Transport,
} from "../../src/backend-kit.ts";

const url = inject("zkGatewayUrl");
const plainUrl = inject("zkPlainGatewayUrl");
const base = fetchTransport();
let zk: ZkSession;
const run = Math.random().toString(36).slice(2, 8);
let n = 0;
const fresh = (what: string) => `${what}-${run}-${n++}`;
const NAME = "jobs/nightly";
const TTL = 10_000;

beforeAll(async () => {
  zk = await ZkSession.open(inject("zkConnectString"), { sessionTimeoutMs: 10_000, callTimeoutMs: 5000 });
});
afterAll(() => zk.close());

const ctx = () => ({ signal: AbortSignal.timeout(5000) });
let claims = 0n;
/** A fresh claim ID in [2^62, 2^63), above JS number precision. */
const claimId = () => 2n ** 62n + 1_000_003n * ++claims;

/**
 * A transport that records requests and can run `beforeMulti` just before a multi request is sent, or
 * `beforeWrite` just before a versioned write of a znode (`PUT` or `DELETE` with `?version=`).
 */
function spyTransport() {
  const seen: HttpRequest[] = [];
  const spy = {
    seen,
    beforeMulti: undefined as (() => Promise<void>) | undefined,
    beforeWrite: undefined as (() => Promise<void>) | undefined,
    async request(req: HttpRequest) {
      seen.push(req);
      const multi = req.url.includes("/leasehold/v1/multi");
      const write = req.url.includes("/znodes/v1/") && req.url.includes("version=");
      const hook = multi ? spy.beforeMulti : write ? spy.beforeWrite : undefined;
      if (hook) {
        if (multi) spy.beforeMulti = undefined;
        else spy.beforeWrite = undefined;
        await hook();
      }
      return base.request(req);
    },
  };
  return spy satisfies Transport;
}

const lease = (backend: Backend, holder: string, extra: Partial<LeaseOptions> = {}) =>
  createLease({ backend, name: NAME, holder, ttlMs: TTL, ...extra });

/** Claims through the Backend directly, so that the test knows the hold. */
async function claimTerm(backend: Backend, holder: string, ttlMs = TTL): Promise<TermRef> {
  const outcome = await backend.claim({ name: NAME, holder, ttlMs, claimId: claimId() }, ctx());
  if (!outcome.held) throw new Error(`not held: ${JSON.stringify(outcome.leader, (_, v) => String(v))}`);
  return termOf(outcome);
}

function termOf(outcome: Extract<ClaimOutcome, { held: true }>): TermRef {
  const { holder, leaseId, token, value } = outcome.leader;
  return {
    name: NAME,
    holder,
    leaseId,
    token,
    hold: outcome.hold,
    ttlMs: TTL,
    ...(value === undefined ? {} : { value }),
  };
}

const putTxn = (term: TermRef, key: string, value: string) => ({
  term,
  ...normalizeTxn([{ type: "put", key, value }], [], ["version"]),
});

async function record(prefix: string) {
  const { data, stat } = await zk.getData(`/${prefix}/jobs^nightly`);
  return { stat, record: JSON.parse((data as Buffer).toString()) };
}

describe("a term belongs to one handle", () => {
  it("a second live handle of the same holder is busy, not leader, and costs one read", async () => {
    const prefix = fresh("two-handles");
    const first = lease(zookeeper({ url, prefix, extensions: "leasehold-v1" }), "a");
    const held = await first.claim();
    const before = await record(prefix);
    const spy = spyTransport();
    const second = lease(zookeeper({ url, prefix, extensions: "leasehold-v1", transport: spy }), "a");
    const s = await second.claim();
    expect(s).toMatchObject({
      isLeader: false,
      busy: true,
      holder: "a",
      token: held.token,
      leaseId: held.leaseId,
    });
    expect(spy.seen.map((r) => r.method)).toEqual(["GET"]);
    expect((await record(prefix)).stat).toEqual(before.stat);
    const key = fresh("two-handles-key");
    expect(await second.doIfLeader([{ type: "put", key, value: "second" }])).toEqual({
      applied: false,
      reason: "not-leader",
    });
    expect((await first.doIfLeader([{ type: "put", key, value: "first" }])).applied).toBe(true);
    expect((await zk.getData(`/${key}`)).data?.toString()).toBe("first");
    expect(await first.leader()).toMatchObject({ holder: "a", parked: false, ttlMs: TTL });
    // release() without a term never ends a busy term.
    await second.release();
    expect((await first.renew()).isLeader).toBe(true);
  });

  it("park, then a new handle resumes: same token and lease ID, no new session, one versioned set", async () => {
    const prefix = fresh("park");
    const first = lease(zookeeper({ url, prefix, extensions: "leasehold-v1" }), "a");
    const held = await first.claim();
    const busy = await record(prefix);
    await first.park();
    expect(first.state()).toMatchObject({ isLeader: false, busy: false });
    const parked = await record(prefix);
    expect(parked.record).toEqual({ ...busy.record, state: "parked", run: undefined });
    expect(parked.stat.version).toBe(busy.stat.version + 1);
    expect(await first.leader()).toMatchObject({ holder: "a", token: held.token, parked: true });
    expect(await lease(zookeeper({ url, prefix }), "b").claim()).toMatchObject({
      isLeader: false,
      busy: false,
      holder: "a",
    });

    const spy = spyTransport();
    const next = lease(zookeeper({ url, prefix, extensions: "leasehold-v1", transport: spy }), "a");
    const resumed = await next.claim();
    expect(resumed).toMatchObject({ isLeader: true, busy: false, token: held.token, leaseId: held.leaseId });
    expect(spy.seen.map((r) => `${r.method} ${new URL(r.url).pathname.split("/")[1]}`)).toEqual([
      "GET znodes",
      "PUT znodes",
      "PUT sessions",
    ]);
    const after = await record(prefix);
    expect(after.stat.ephemeralOwner).toBe(parked.stat.ephemeralOwner);
    expect(after.record).toMatchObject({ session: busy.record.session, state: "busy" });
    expect(after.record.run).not.toBe(busy.record.run);
    expect((await next.doIfLeader([{ type: "put", key: fresh("resumed"), value: "1" }])).applied).toBe(true);
    // The previous handle parked and holds nothing: it gets the term back only by a new claim, and here finds it busy.
    expect(await first.claim()).toMatchObject({ isLeader: false, busy: true });
  });

  it("duplicates resuming one parked term at once: exactly one resumes, the others are busy and write nothing", async () => {
    for (let round = 0; round < 3; round++) {
      const prefix = fresh("resume-race");
      const first = lease(zookeeper({ url, prefix, extensions: "leasehold-v1" }), "dup");
      const held = await first.claim();
      await first.park();
      const spies = Array.from({ length: 6 }, () => spyTransport());
      const racers = spies.map((spy) =>
        lease(zookeeper({ url, prefix, extensions: "leasehold-v1", transport: spy }), "dup"),
      );
      const states = await Promise.all(racers.map((h) => h.claim()));
      expect(states.filter((s) => s.isLeader)).toHaveLength(1);
      expect(states.filter((s) => s.busy)).toHaveLength(5);
      for (const s of states) expect([s.token, s.leaseId]).toEqual([held.token, held.leaseId]);
      const sent = spies.flatMap((spy) => spy.seen.map((r) => `${r.method} ${new URL(r.url).pathname}`));
      expect(sent.filter((r) => r.startsWith("POST"))).toEqual([]);
      const winner = racers[states.findIndex((s) => s.isLeader)];
      expect((await record(prefix)).record.state).toBe("busy");
      expect((await winner?.doIfLeader([{ type: "put", key: fresh("resume-w"), value: "1" }]))?.applied).toBe(
        true,
      );
    }
  });

  it("ten duplicates racing for a free lease: exactly one leads, exactly one write applies", async () => {
    // A fresh prefix: the racers also race to create the prefix znode.
    const prefix = fresh("race");
    const racers = Array.from({ length: 10 }, () =>
      lease(zookeeper({ url, prefix, extensions: "leasehold-v1" }), "dup"),
    );
    const states = await Promise.all(racers.map((h) => h.claim()));
    expect(states.filter((s) => s.isLeader)).toHaveLength(1);
    expect(states.filter((s) => s.busy)).toHaveLength(9);
    expect(new Set(states.map((s) => s.token))).toEqual(new Set([states.find((s) => s.isLeader)?.token]));
    const key = fresh("race-key");
    const writes = await Promise.all(
      racers.map((h, i) =>
        h.doIfLeader(
          [{ type: "put", key, value: String(i) }],
          [{ key, target: "version", op: "=", value: 0n }],
        ),
      ),
    );
    expect(writes.filter((w) => w.applied)).toHaveLength(1);
    const winner = states.findIndex((s) => s.isLeader);
    const { data, stat } = await zk.getData(`/${key}`);
    expect(data?.toString()).toBe(String(winner));
    expect(stat.version).toBe(0);
    expect((await record(prefix)).stat.czxid).toBe(states[winner]?.token);
  });
});

const stores = [
  { what: "with the multi extension", url: () => url, extensions: "leasehold-v1" },
  { what: "SPEC v2 only (non-atomic guard)", url: () => plainUrl, extensions: "none" },
] as const;

for (const store of stores) {
  describe(`the store refuses a late transaction, ${store.what}`, () => {
    const backendOf = (prefix: string, transport?: Transport) =>
      zookeeper({
        url: store.url(),
        prefix,
        extensions: store.extensions,
        ...(transport ? { transport } : {}),
      });

    it("of a parked invocation, and of one superseded by a resume", async () => {
      const prefix = fresh("late");
      const backend = backendOf(prefix);
      const old = await claimTerm(backend, "a");
      await backend.park(old, ctx());
      const key = fresh("late-key");
      expect(await backend.txn(putTxn(old, key, "parked"), ctx())).toEqual({
        applied: false,
        reason: "not-leader",
      });
      const current = await claimTerm(backendOf(prefix), "a");
      expect([current.token, current.leaseId]).toEqual([old.token, old.leaseId]);
      expect(current.hold).not.toBe(old.hold);
      expect(await backend.txn(putTxn(old, key, "superseded"), ctx())).toEqual({
        applied: false,
        reason: "not-leader",
      });
      expect(await zk.exists(`/${key}`)).toBeNull();
      // A late park of the superseded hold leaves the current one alone.
      await backend.park(old, ctx());
      expect((await record(prefix)).record).toMatchObject({ state: "busy", run: current.hold });
      expect(await backend.txn(putTxn(current, key, "current"), ctx())).toMatchObject({ applied: true });
      expect((await zk.getData(`/${key}`)).data?.toString()).toBe("current");
    });

    // Without the extension the check and the writes are separate requests: that is what non-atomic means.
    (store.extensions === "leasehold-v1" ? it : it.skip)(
      "park and resume between the transaction's read and its commit",
      async () => {
        const prefix = fresh("late-commit");
        const spy = spyTransport();
        const backend = backendOf(prefix, spy);
        const old = await claimTerm(backend, "a");
        const other = backendOf(prefix);
        let current: TermRef | undefined;
        spy.beforeMulti = async () => {
          await other.park(old, ctx());
          current = await claimTerm(other, "a");
        };
        const key = fresh("late-commit-key");
        expect(await backend.txn(putTxn(old, key, "late"), ctx())).toEqual({
          applied: false,
          reason: "not-leader",
        });
        expect(await zk.exists(`/${key}`)).toBeNull();
        expect(current?.token).toBe(old.token);
        expect((await record(prefix)).record.run).toBe(current?.hold);
      },
    );
  });
}

describe("crash and release", () => {
  it("a crashed busy term blocks its holder until the session expires (2 s TTL)", async () => {
    const prefix = fresh("crash");
    const startedAt = Date.now();
    const crashed = await lease(zookeeper({ url, prefix }), "a", { ttlMs: 2000 }).claim();
    const next = lease(zookeeper({ url, prefix }), "a", { ttlMs: 2000 });
    expect(await next.claim()).toMatchObject({ isLeader: false, busy: true, token: crashed.token });
    await systemClock.sleep(1000);
    expect((await next.claim()).busy).toBe(true);
    let s = await next.claim();
    while (!s.isLeader && Date.now() - startedAt < 4000) {
      await systemClock.sleep(100);
      s = await next.claim();
    }
    expect(s.isLeader).toBe(true);
    expect(s.token).toBeGreaterThan(crashed.token as bigint);
    // Not before the session's expire (2 s after the claim created it), and within the slack after it.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1950);
  });

  it("release() without a term ends this holder's parked term, never a busy one nor another holder's", async () => {
    const prefix = fresh("release-parked");
    const a = lease(zookeeper({ url, prefix }), "a");
    const held = await a.claim();
    await lease(zookeeper({ url, prefix }), "a").release();
    expect(await a.leader()).toMatchObject({ token: held.token, parked: false });
    await a.park();
    await lease(zookeeper({ url, prefix }), "b").release();
    expect(await a.leader()).toMatchObject({ token: held.token, parked: true });
    const { record: parked } = await record(prefix);
    await lease(zookeeper({ url, prefix }), "a").release();
    expect(await a.leader()).toBeNull();
    // Its session is closed too, not left to expire.
    expect((await fetch(`${url}/sessions/v1/${parked.session}`, { method: "PUT" })).status).toBe(404);
  });

  it("a parked term whose session this gateway does not have (as after a restart): no resume, no release", async () => {
    const prefix = fresh("foreign-session");
    // The second gateway stands for a restarted one: same ZooKeeper, other REST sessions.
    const elsewhere = lease(zookeeper({ url: plainUrl, prefix }), "a");
    const held = await elsewhere.claim();
    await elsewhere.park();
    const here = lease(zookeeper({ url, prefix }), "a");
    await expect(here.claim()).rejects.toMatchObject({ code: "LEASE_LOST", retryable: true });
    expect(here.state().isLeader).toBe(false);
    await here.release();
    expect(await here.leader()).toMatchObject({ token: held.token, parked: true });
    expect((await lease(zookeeper({ url: plainUrl, prefix }), "a").claim()).token).toBe(held.token);
  });

  it("park reads again when its term's own transaction moved the version in between, and parks", async () => {
    const prefix = fresh("park-retry");
    const spy = spyTransport();
    const backend = zookeeper({ url, prefix, extensions: "leasehold-v1", transport: spy });
    const term = await claimTerm(backend, "a");
    spy.beforeWrite = async () => {
      const other = zookeeper({ url, prefix, extensions: "leasehold-v1" });
      expect(await other.txn(putTxn(term, fresh("park-retry-key"), "1"), ctx())).toMatchObject({
        applied: true,
      });
    };
    await backend.park(term, ctx());
    expect(spy.seen.filter((r) => r.method === "PUT").length).toBe(2);
    expect((await record(prefix)).record).toMatchObject({ state: "parked" });
    expect(await backend.leader(NAME, ctx())).toMatchObject({ token: term.token, parked: true });
  });

  it("releaseParked refused by a resume and park in between reads again and ends the parked term", async () => {
    const prefix = fresh("release-retry");
    const spy = spyTransport();
    const backend = zookeeper({ url, prefix, transport: spy });
    await backend.park(await claimTerm(zookeeper({ url, prefix }), "a"), ctx());
    spy.beforeWrite = async () => {
      const other = zookeeper({ url, prefix });
      await other.park(await claimTerm(other, "a"), ctx());
    };
    await backend.releaseParked(NAME, "a", ctx());
    expect(spy.seen.filter((r) => r.method === "DELETE" && r.url.includes("/znodes/")).length).toBe(2);
    expect(await backend.leader(NAME, ctx())).toBeNull();
  });

  it("releaseParked racing a resume: the resume wins or loses cleanly, a busy term is never ended", async () => {
    for (let i = 0; i < 8; i++) {
      const prefix = fresh("release-race");
      const backend = zookeeper({ url, prefix, extensions: "leasehold-v1" });
      await backend.park(await claimTerm(backend, "a"), ctx());
      const before = await record(prefix);
      const resumer = lease(zookeeper({ url, prefix, extensions: "leasehold-v1" }), "a");
      const [state] = await Promise.all([
        resumer.claim(),
        zookeeper({ url, prefix }).releaseParked(NAME, "a", ctx()),
      ]);
      // Either it resumed the parked term, or the release came first and it took the free lease anew.
      expect(state.isLeader).toBe(true);
      const now = await record(prefix);
      expect(now.stat.czxid).toBe(state.token);
      expect(now.record.state).toBe("busy");
      expect((await resumer.renew()).isLeader).toBe(true);
      expect((await resumer.doIfLeader([{ type: "put", key: fresh("race-w"), value: "1" }])).applied).toBe(
        true,
      );
      if (state.token === before.stat.czxid) expect(now.record.session).toBe(before.record.session);
    }
  });
});
