/**
 * Conformance cases of doubt: a claim whose answer was lost is recognised by its retry (taking a free lease or
 * resuming a parked term), bad input is refused before anything is sent, and a garbled, failed or stalled
 * answer is a typed error that never turns into leadership nor takes a term from its invocation.
 */
import { describe, expect, it } from "vitest";
import {
  type Backend,
  createLease,
  HttpStatusError,
  InvalidArgumentError,
  type LeaseState,
  LeaseTimeoutError,
  MalformedResponseError,
  type Transport,
} from "../../src/index.ts";
import type { SuiteContext } from "./context.ts";
import { type Fault, faultyTransport } from "./faults.ts";
import { delegating } from "./wrap.ts";

export function faultCases(c: SuiteContext): void {
  const { target, caps, fresh, lease, key, ttlMs } = c;
  const http = target.baseTransport ? it : it.skip;

  /** `inner`, whose first claim reaches the store but whose answer is lost. */
  const losingFirstAnswer = (inner: Backend): Backend => {
    let lost = false;
    return delegating(inner, {
      claim: async (req, ctx) => {
        const outcome = await inner.claim(req, ctx);
        if (lost) return outcome;
        lost = true;
        throw new LeaseTimeoutError("answer lost (injected)");
      },
    });
  };

  /** A parked term of holder "a" on `prefix`, made through a healthy backend. */
  const parkedTerm = async (prefix: string) => {
    const a = lease(target.makeBackend({ prefix }), "a");
    const s = await a.claim();
    await a.park();
    return s;
  };

  describe("idempotent claim retry", () => {
    it("a claim whose store call completed but whose answer was lost is recognised by the retry", async () => {
      const { backend } = fresh();
      const a = lease(losingFirstAnswer(backend), "a");
      await expect(a.claim()).rejects.toBeInstanceOf(LeaseTimeoutError);
      expect(a.state().isLeader).toBe(false);
      const s = await a.claim();
      expect(s.isLeader).toBe(true);
      expect(await a.leader()).toMatchObject({
        holder: "a",
        leaseId: s.leaseId,
        token: s.token,
        parked: false,
      });
    });

    it("a resume whose answer was lost is recognised by the retry, not reported busy", async () => {
      const { prefix, backend } = fresh();
      const parked = await parkedTerm(prefix);
      const a = lease(losingFirstAnswer(backend), "a");
      await expect(a.claim()).rejects.toBeInstanceOf(LeaseTimeoutError);
      const s = await a.claim();
      expect(s).toMatchObject({ isLeader: true, busy: false, token: parked.token, leaseId: parked.leaseId });
      expect(await lease(backend, "a").claim()).toMatchObject({ isLeader: false, busy: true });
    });

    /** How many requests a claim makes through `prepare`d state; every one of them is then lost in turn. */
    const everyRequestLost = async (prepare: (prefix: string) => Promise<LeaseState | null>) => {
      const base = target.baseTransport as Transport;
      const { prefix } = fresh();
      await prepare(prefix);
      const counter = faultyTransport(base, () => undefined);
      expect((await lease(target.makeBackend({ prefix, transport: counter }), "a").claim()).isLeader).toBe(
        true,
      );
      const requests = counter.count();
      expect(requests).toBeGreaterThan(0);
      for (let lose = 0; lose < requests; lose++) {
        const { prefix: p } = fresh();
        const before = await prepare(p);
        const transport = faultyTransport(base, (_req, i) => (i === lose ? "lose-response" : undefined));
        const a = lease(target.makeBackend({ prefix: p, transport }), "a");
        await expect(a.claim()).rejects.toMatchObject({ retryable: true });
        expect(a.state().isLeader).toBe(false);
        const s = await a.claim();
        expect(s.isLeader).toBe(true);
        if (before) expect(s).toMatchObject({ token: before.token, leaseId: before.leaseId });
        const other = await lease(target.makeBackend({ prefix: p }), "b").claim();
        expect(other).toMatchObject({ isLeader: false, holder: "a", token: s.token, leaseId: s.leaseId });
      }
    };

    http("a claim of a free lease is recognised after losing the answer of any one of its requests", () =>
      everyRequestLost(async () => null),
    );

    http("a resume is recognised after losing the answer of any one of its requests", () =>
      everyRequestLost(parkedTerm),
    );
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
          const { prefix } = fresh();
          const transport = faultyTransport(target.baseTransport as Transport, () => fault);
          const faulty = target.makeBackend({ prefix, transport });
          const opts = { requestTimeoutMs: 300, ...c.guarded };
          const a = lease(faulty, "a", opts);
          await expect(a.claim()).rejects.toBeInstanceOf(errorClass);
          expect(a.state().isLeader).toBe(false);
          await expect(a.leader()).rejects.toBeInstanceOf(errorClass);
          await expect(a.release()).rejects.toBeInstanceOf(errorClass);

          // A held term: a failed claim by another invocation of its holder takes nothing from it.
          const healthy = target.makeBackend({ prefix });
          const b = lease(healthy, "b", opts);
          const held = await b.claim();
          const viaFaulty = lease(faulty, "b", opts);
          await expect(viaFaulty.claim()).rejects.toBeInstanceOf(errorClass);
          expect(viaFaulty.state()).toMatchObject({ isLeader: false, holder: null });
          expect(await lease(healthy, "z", opts).leader()).toMatchObject({
            holder: "b",
            token: held.token,
            leaseId: held.leaseId,
            parked: false,
          });
          expect((await b.doIfLeader([{ type: "put", key: key("still-mine"), value: "b" }])).applied).toBe(
            true,
          );
          expect(await b.renew()).toMatchObject({ isLeader: true, token: held.token });
          if (fault === "http-503") {
            const err = await a.claim().catch((e: unknown) => e);
            expect(err).toMatchObject({ retryable: true, status: 503 });
          }
        },
      );
    }
  });
}
