/**
 * Conformance cases of `doIfLeader` and of the store's own guard: ops commit atomically only under the term's
 * current hold, so a stale, parked or superseded invocation is refused by the store, not only locally.
 */
import { describe, expect, it } from "vitest";
import {
  bytesToText,
  InvalidArgumentError,
  type NormalizedOp,
  type TermRef,
  type TxnOutcome,
  toBytes,
  UnsupportedError,
} from "../../src/backend-kit.ts";
import { LEASE_NAME, type SuiteContext } from "./context.ts";
import { recording } from "./wrap.ts";

const notLeader = { applied: false, reason: "not-leader" };

/** The text of the value a single-get outcome read, or null when the key is absent or nothing applied. */
const readText = (outcome: TxnOutcome | undefined): string | null => {
  const result = outcome?.applied ? outcome.results[0] : undefined;
  return result?.type === "get" && result.kv ? bytesToText(result.kv.value) : null;
};

export function guardCases(c: SuiteContext): void {
  const { target, caps, fresh, lease, key, call, claimId, ttlMs } = c;
  const guard = caps.atomicGuard ? it : it.skip;

  describe("doIfLeader", () => {
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
      const a = lease(backend, "a", c.guarded);
      const b = lease(backend, "b", c.guarded);
      await b.claim();
      const k = key("nope");
      expect(await a.doIfLeader([{ type: "put", key: k, value: "x" }])).toEqual(notLeader);
      expect(readText(await b.doIfLeader([{ type: "get", key: k }]))).toBeNull();
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
      expect(readText(await a.doIfLeader([{ type: "get", key: k }]))).toBe("v1");
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

    guard(
      "a stale handle's doIfLeader is refused by the store after its term ended and another claimed",
      async () => {
        const { backend } = fresh();
        const spy = recording(backend);
        const stale = lease(spy.backend, "a");
        await stale.claim();
        // The term ends behind the handle's back, as when its lease expires while the process is frozen.
        await backend.release(spy.lastTerm(), call());
        const b = lease(backend, "b");
        expect((await b.claim()).isLeader).toBe(true);
        expect(stale.state().isLeader).toBe(true);
        const k = key("fenced");
        expect(await stale.doIfLeader([{ type: "put", key: k, value: "stale" }])).toEqual(notLeader);
        expect(stale.state().isLeader).toBe(false);
        expect(readText(await b.doIfLeader([{ type: "get", key: k }]))).toBeNull();
      },
    );

    guard("a holder that re-claimed after losing its term cannot use the old term", async () => {
      const { backend } = fresh();
      const spy = recording(backend);
      const old = lease(spy.backend, "a");
      const first = await old.claim();
      await backend.release(spy.lastTerm(), call());
      const again = await lease(backend, "a").claim();
      expect(again.isLeader).toBe(true);
      expect(again.token).toBeGreaterThan(first.token as bigint);
      expect(await old.doIfLeader([{ type: "put", key: key("x"), value: "old term" }])).toEqual(notLeader);
    });

    guard("the store refuses the late write of a parked hold, and of a superseded term", async () => {
      const { backend } = fresh();
      const k = key("late");
      const put = (value: string): NormalizedOp[] => [
        { type: "put", key: toBytes(k), value: toBytes(value) },
      ];
      const get: NormalizedOp[] = [{ type: "get", key: toBytes(k) }];
      const claim = async (holder: string): Promise<TermRef> => {
        const outcome = await backend.claim({ name: LEASE_NAME, holder, ttlMs, claimId: claimId() }, call());
        if (!outcome.held) throw new Error(`the claim of ${holder} did not hold: ${JSON.stringify(outcome)}`);
        const { leaseId, token } = outcome.leader;
        return { name: LEASE_NAME, holder, leaseId, token, hold: outcome.hold, ttlMs };
      };
      const txn = (term: TermRef, ops: NormalizedOp[]) => backend.txn({ term, ops, compares: [] }, call());

      const parked = await claim("a");
      expect((await txn(parked, put("busy"))).applied).toBe(true);
      await backend.park(parked, call());
      expect(await txn(parked, put("parked"))).toEqual(notLeader);
      const resumed = await claim("a");
      expect(resumed).toMatchObject({ token: parked.token, leaseId: parked.leaseId });
      expect(resumed.hold).not.toBe(parked.hold);
      expect(await txn(parked, put("parked, after the resume"))).toEqual(notLeader);
      expect((await txn(resumed, put("resumed"))).applied).toBe(true);

      // The resumed invocation stops renewing: its lease expires and another holder takes a new term.
      await target.elapse(ttlMs + target.expirySlackMs);
      const next = await claim("b");
      expect(next.token).toBeGreaterThan(resumed.token);
      expect(await txn(resumed, put("superseded"))).toEqual(notLeader);
      expect(readText(await txn(next, get))).toBe("resumed");
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

    (caps.atomicGuard ? it.skip : it)("refuses doIfLeader unless non-atomic guards are allowed", async () => {
      const { backend } = fresh();
      const a = lease(backend, "a");
      await a.claim();
      await expect(a.doIfLeader([{ type: "put", key: key("k"), value: "x" }])).rejects.toBeInstanceOf(
        UnsupportedError,
      );
    });
  });
}
