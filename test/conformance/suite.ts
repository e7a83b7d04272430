/**
 * The backend conformance suite: the lease contract of DESIGN.md ("Semantics"), run unchanged against every
 * backend. Cases that a backend's capability flags exclude are skipped, never weakened.
 */
import { describe, expect, it } from "vitest";
import {
  type Backend,
  bytesToText,
  createLease,
  HttpStatusError,
  InvalidArgumentError,
  LeaseLostError,
  type LeaseOptions,
  LeaseTimeoutError,
  MalformedResponseError,
  UnsupportedError,
} from "../../src/index.ts";
import { type Fault, faultyTransport } from "./faults.ts";
import type { ConformanceTarget } from "./target.ts";

let run = 0;
const runId = Math.random().toString(36).slice(2, 8);

export function runConformance(target: ConformanceTarget): void {
  const fresh = () => {
    const prefix = `conformance-${runId}-${run++}/`;
    const backend = target.makeBackend({ prefix });
    return { prefix, backend };
  };
  const caps = fresh().backend.capabilities;
  const ttlMs = caps.minTtlMs;
  const lease = (backend: Backend, holder: string, extra: Partial<LeaseOptions> = {}) =>
    createLease({ backend, name: "jobs/nightly", holder, ttlMs, clock: target.clock, ...extra });
  const key = (suffix: string) => `conformance-data-${runId}-${run++}/${suffix}`;

  describe(`backend conformance: ${target.name}`, () => {
    describe("claim", () => {
      it("takes a free lease and reports a validity window from the send time", async () => {
        const { backend } = fresh();
        const a = lease(backend, "a");
        const before = target.clock.now();
        const s = await a.claim();
        expect(s.isLeader).toBe(true);
        expect(s.holder).toBe("a");
        expect(typeof s.token).toBe("bigint");
        expect(s.token).toBeGreaterThan(0n);
        expect(s.ttlMs).toBe(ttlMs);
        expect(s.validUntil).toBeGreaterThanOrEqual(before + ttlMs - Math.max(100, ttlMs / 100));
        expect(s.validUntil).toBeLessThanOrEqual(target.clock.now() + ttlMs);
        const current = await a.leader();
        expect(current).toMatchObject({ holder: "a", token: s.token, leaseId: s.leaseId, ttlMs });
      });

      it("reports the current holder when another holds it", async () => {
        const { backend } = fresh();
        const held = await lease(backend, "a", { value: "https://a.example" }).claim();
        const s = await lease(backend, "b").claim();
        expect(s).toMatchObject({ isLeader: false, holder: "a", token: held.token, validUntil: null, ttlMs });
        expect(s.value).toBe("https://a.example");
      });

      it("renews when this handle already holds it, keeping the term", async () => {
        const { backend } = fresh();
        const a = lease(backend, "a");
        const first = await a.claim();
        await target.elapse(500);
        const again = await a.claim();
        expect(again.isLeader).toBe(true);
        expect(again.token).toBe(first.token);
        expect(again.leaseId).toBe(first.leaseId);
        expect(again.validUntil).toBeGreaterThan(first.validUntil as number);
      });

      it("resumes the term from a fresh handle of the same holder (a new invocation)", async () => {
        const { backend } = fresh();
        const first = await lease(backend, "a").claim();
        const resumed = await lease(backend, "a").claim();
        expect(resumed).toMatchObject({
          isLeader: true,
          holder: "a",
          token: first.token,
          leaseId: first.leaseId,
        });
      });

      it("keeps names that share a prefix apart", async () => {
        const { backend } = fresh();
        const mk = (name: string, holder: string) =>
          createLease({ backend, name, holder, ttlMs, clock: target.clock });
        const states = await Promise.all([
          mk("job", "a").claim(),
          mk("jobs", "b").claim(),
          mk("job/x", "c").claim(),
          mk("jo", "d").claim(),
        ]);
        expect(states.map((s) => [s.isLeader, s.holder])).toEqual([
          [true, "a"],
          [true, "b"],
          [true, "c"],
          [true, "d"],
        ]);
        expect((await mk("job", "z").leader())?.holder).toBe("a");
      });

      it("lease IDs and tokens survive exactly (no JS number rounding)", async () => {
        const { backend } = fresh();
        const s = await lease(backend, "a").claim();
        const current = await lease(backend, "b").leader();
        expect(current?.leaseId).toBe(s.leaseId);
        expect(current?.token).toBe(s.token);
        expect(String(BigInt(s.leaseId as string))).toBe(s.leaseId);
      });
    });

    describe("renew", () => {
      it("extends the validity window and keeps the token", async () => {
        const { backend } = fresh();
        const a = lease(backend, "a");
        const first = await a.claim();
        await target.elapse(300);
        const renewed = await a.renew();
        expect(renewed.token).toBe(first.token);
        expect(renewed.validUntil).toBeGreaterThan(first.validUntil as number);
      });

      it("throws LeaseLostError when the handle holds no term", async () => {
        const { backend } = fresh();
        await expect(lease(backend, "a").renew()).rejects.toBeInstanceOf(LeaseLostError);
      });

      it("reports loss after the lease really expired, and another holder takes over", async () => {
        const { backend } = fresh();
        const a = lease(backend, "a");
        const first = await a.claim();
        await target.elapse(ttlMs + target.expirySlackMs);
        expect(a.state().isLeader).toBe(false);
        await expect(a.renew()).rejects.toBeInstanceOf(LeaseLostError);
        expect(a.state()).toMatchObject({ isLeader: false, holder: null, token: null, validUntil: null });
        const b = await lease(backend, "b").claim();
        expect(b.isLeader).toBe(true);
        expect(b.token).toBeGreaterThan(first.token as bigint);
      });
    });

    describe("release", () => {
      it("lets another holder claim at once", async () => {
        const { backend } = fresh();
        const a = lease(backend, "a");
        await a.claim();
        await a.release();
        expect(a.state().isLeader).toBe(false);
        expect(await a.leader()).toBeNull();
        expect((await lease(backend, "b").claim()).isLeader).toBe(true);
      });

      it("releases this holder's term from a fresh handle, and never another holder's", async () => {
        const { backend } = fresh();
        await lease(backend, "a").claim();
        await lease(backend, "b").release();
        expect((await lease(backend, "b").leader())?.holder).toBe("a");
        await lease(backend, "a").release();
        expect(await lease(backend, "b").leader()).toBeNull();
      });

      it("succeeds when the term is already gone", async () => {
        const { backend } = fresh();
        const a = lease(backend, "a");
        await a.claim();
        await lease(backend, "a").release();
        await expect(a.release()).resolves.toBeUndefined();
      });
    });

    describe("fencing tokens", () => {
      it("strictly increase across successive holders", async () => {
        const { backend } = fresh();
        const tokens: bigint[] = [];
        for (const holder of ["a", "b", "a", "c", "b"]) {
          const h = lease(backend, holder);
          const s = await h.claim();
          expect(s.isLeader).toBe(true);
          tokens.push(s.token as bigint);
          await h.release();
        }
        for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1] as bigint);
      });
    });

    describe("doIfLeader", () => {
      const guard = caps.atomicGuard ? it : it.skip;

      guard("applies all ops atomically while the term is held and returns reads", async () => {
        const { backend } = fresh();
        const a = lease(backend, "a");
        await a.claim();
        const k1 = key("one");
        const k2 = key("two");
        const r = await a.doIfLeader([
          { type: "put", key: k1, value: "1" },
          { type: "put", key: k2, value: new Uint8Array([0, 255, 7]) },
          { type: "get", key: k1 },
        ]);
        expect(r.applied).toBe(true);
        if (!r.applied) return;
        expect(r.results.map((x) => x.type)).toEqual(["put", "put", "get"]);
        const read = r.results[2];
        expect(read?.type === "get" && read.kv ? bytesToText(read.kv.value) : null).toBe("1");
        const check = await a.doIfLeader([
          { type: "get", key: k2 },
          { type: "delete", key: k1 },
        ]);
        expect(check.applied).toBe(true);
        if (!check.applied) return;
        const got = check.results[0];
        expect(got?.type === "get" ? Array.from(got.kv?.value ?? []) : null).toEqual([0, 255, 7]);
        expect(check.results[1]).toEqual({ type: "delete", deleted: 1n });
      });

      it("answers not-leader without a term, and writes nothing", async () => {
        const { backend } = fresh();
        const a = lease(backend, "a", caps.atomicGuard ? {} : { allowNonAtomicGuard: true });
        await lease(backend, "b").claim();
        const k = key("nope");
        expect(await a.doIfLeader([{ type: "put", key: k, value: "x" }])).toEqual({
          applied: false,
          reason: "not-leader",
        });
      });

      guard("answers condition-failed when a compare fails, and writes nothing", async () => {
        const { backend } = fresh();
        const a = lease(backend, "a");
        await a.claim();
        const k = key("cas");
        expect((await a.doIfLeader([{ type: "put", key: k, value: "v1" }])).applied).toBe(true);
        // Stores that cannot re-check a value at commit (ZooKeeper) compare versions instead.
        const byValue = caps.compareTargets.includes("value");
        const r = await a.doIfLeader(
          [{ type: "put", key: k, value: "v2" }],
          [
            byValue
              ? { key: k, target: "value", op: "=", value: "something else" }
              : { key: k, target: "version", op: "=", value: 99n },
          ],
        );
        expect(r).toEqual({ applied: false, reason: "condition-failed" });
        const read = await a.doIfLeader([{ type: "get", key: k }]);
        expect(
          read.applied &&
            read.results[0]?.type === "get" &&
            bytesToText(read.results[0].kv?.value ?? new Uint8Array()),
        ).toBe("v1");
        const versioned = await a.doIfLeader(
          [{ type: "put", key: k, value: "v3" }],
          [
            {
              key: k,
              target: caps.compareTargets.includes("modRevision") ? "modRevision" : "version",
              op: ">",
              value: 0n,
            },
          ],
        );
        expect(versioned.applied).toBe(true);
      });

      guard("a stale holder's doIfLeader is refused by the store after another holder claimed", async () => {
        const { backend } = fresh();
        const stale = lease(backend, "a");
        await stale.claim();
        // Another process with the same identity resigns the term; a new holder claims the lease.
        await lease(backend, "a").release();
        const b = lease(backend, "b");
        expect((await b.claim()).isLeader).toBe(true);
        expect(stale.state().isLeader).toBe(true);
        const k = key("fenced");
        expect(await stale.doIfLeader([{ type: "put", key: k, value: "stale" }])).toEqual({
          applied: false,
          reason: "not-leader",
        });
        expect(stale.state().isLeader).toBe(false);
        const read = await b.doIfLeader([{ type: "get", key: k }]);
        expect(read.applied && read.results[0]).toEqual({ type: "get", kv: null });
      });

      guard("a holder that re-claimed after losing its term cannot use the old term", async () => {
        const { backend } = fresh();
        const old = lease(backend, "a");
        const first = await old.claim();
        await lease(backend, "a").release();
        const again = await lease(backend, "a").claim();
        expect(again.token).toBeGreaterThan(first.token as bigint);
        expect((await old.doIfLeader([{ type: "put", key: key("x"), value: "old term" }])).applied).toBe(
          false,
        );
      });

      it("refuses bad ops with InvalidArgumentError before sending anything", async () => {
        const { backend } = fresh();
        const a = lease(backend, "a", { allowNonAtomicGuard: true });
        await a.claim();
        await expect(a.doIfLeader([{ type: "put", key: "", value: "x" }])).rejects.toMatchObject({
          code: "INVALID_ARGUMENT",
          field: "ops[0].key",
        });
        await expect(
          a.doIfLeader(
            [{ type: "nope", key: "k" } as never],
            [{ key: "k", target: "value", op: "=", value: 1n }],
          ),
        ).rejects.toBeInstanceOf(InvalidArgumentError);
      });

      (caps.atomicGuard ? it.skip : it)(
        "refuses doIfLeader unless non-atomic guards are allowed",
        async () => {
          const { backend } = fresh();
          const a = lease(backend, "a");
          await a.claim();
          await expect(a.doIfLeader([{ type: "put", key: key("k"), value: "x" }])).rejects.toBeInstanceOf(
            UnsupportedError,
          );
        },
      );
    });

    describe("idempotent claim retry", () => {
      it("a claim whose store call completed but whose answer was lost is recognised by the retry", async () => {
        const { prefix } = fresh();
        let lost = false;
        const inner = target.makeBackend({ prefix });
        const lossy: Backend = {
          ...inner,
          kind: inner.kind,
          capabilities: inner.capabilities,
          claim: async (req, ctx) => {
            const outcome = await inner.claim(req, ctx);
            if (lost) return outcome;
            lost = true;
            throw new LeaseTimeoutError("answer lost (injected)");
          },
          renew: (t, c) => inner.renew(t, c),
          release: (t, c) => inner.release(t, c),
          leader: (n, c) => inner.leader(n, c),
          txn: (r, c) => inner.txn(r, c),
        };
        const a = lease(lossy, "a");
        await expect(a.claim()).rejects.toBeInstanceOf(LeaseTimeoutError);
        expect(a.state().isLeader).toBe(false);
        const s = await a.claim();
        expect(s.isLeader).toBe(true);
        const current = await a.leader();
        expect(current).toMatchObject({ holder: "a", leaseId: s.leaseId, token: s.token });
      });

      const http = target.baseTransport ? it : it.skip;
      http("a claim is recognised after losing the answer of any one of its requests", async () => {
        const base = target.baseTransport;
        if (!base) return;
        const { prefix } = fresh();
        const counter = faultyTransport(base, () => undefined);
        expect(
          (await lease(target.makeBackend({ prefix, transport: counter }), "probe").claim()).isLeader,
        ).toBe(true);
        const requests = Math.max(1, counter.count());
        for (let lose = 0; lose < requests; lose++) {
          const { prefix: p } = fresh();
          const transport = faultyTransport(base, (_req, i) => (i === lose ? "lose-response" : undefined));
          const a = lease(target.makeBackend({ prefix: p, transport }), "a");
          await expect(a.claim()).rejects.toMatchObject({ retryable: true });
          expect(a.state().isLeader).toBe(false);
          const s = await a.claim();
          expect(s.isLeader).toBe(true);
          const other = await lease(target.makeBackend({ prefix: p }), "b").claim();
          expect(other).toMatchObject({ isLeader: false, holder: "a", token: s.token, leaseId: s.leaseId });
        }
      });
    });

    describe("bad input and faults", () => {
      it("rejects invalid names at creation, naming the field", () => {
        const { backend } = fresh();
        for (const name of ["", "/jobs", "jobs/", "a//b", "a/../b", "a b", "nul\0", "x".repeat(201)]) {
          expect(() => createLease({ backend, name, holder: "a", ttlMs })).toThrow(
            expect.objectContaining({ code: "INVALID_ARGUMENT", field: "name" }),
          );
        }
      });

      it("rejects a TTL below the store's minimum, naming ttlMs", () => {
        const { backend } = fresh();
        const below = caps.minTtlMs - caps.ttlGranularityMs;
        expect(() => createLease({ backend, name: "jobs/x", holder: "a", ttlMs: below })).toThrow(
          expect.objectContaining({ code: "INVALID_ARGUMENT", field: "ttlMs" }),
        );
        for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, "2000" as unknown as number]) {
          expect(() => createLease({ backend, name: "jobs/x", holder: "a", ttlMs: bad })).toThrow(
            InvalidArgumentError,
          );
        }
      });

      const http = target.baseTransport ? it : it.skip;
      const faultCases: [Fault, new (...args: never[]) => Error][] = [
        ["garble", MalformedResponseError],
        ["wrong-shape", MalformedResponseError],
        ["http-503", HttpStatusError],
        ["hang", LeaseTimeoutError],
      ];
      for (const [fault, errorClass] of faultCases) {
        http(
          `${fault}: every operation fails with ${errorClass.name} and nothing reports leadership`,
          async () => {
            const base = target.baseTransport;
            if (!base) return;
            const { prefix } = fresh();
            const transport = faultyTransport(base, () => fault);
            const faulty = target.makeBackend({ prefix, transport });
            const opts = { requestTimeoutMs: 300 };
            const a = lease(faulty, "a", opts);
            await expect(a.claim()).rejects.toBeInstanceOf(errorClass);
            expect(a.state().isLeader).toBe(false);
            await expect(a.leader()).rejects.toBeInstanceOf(errorClass);
            await expect(a.release()).rejects.toBeInstanceOf(errorClass);

            // A held term: a failed renew neither extends nor invents validity, and a failed doIfLeader is an error.
            const healthy = target.makeBackend({ prefix });
            const b = lease(healthy, "b", opts);
            const held = await b.claim();
            const viaFaulty = lease(faulty, "b", opts);
            await expect(viaFaulty.claim()).rejects.toBeInstanceOf(errorClass);
            expect(viaFaulty.state().isLeader).toBe(false);
            expect(b.state().validUntil).toBe(held.validUntil);
            if (fault === "http-503") {
              const err = await a.claim().catch((e: unknown) => e);
              expect(err).toMatchObject({ retryable: true, status: 503 });
            }
          },
        );
      }
    });
  });
}
