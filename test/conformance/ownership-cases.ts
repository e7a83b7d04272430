/**
 * Conformance cases of term ownership (docs/design.md, "Claim protocol v2"): a term belongs to one handle, not
 * to a holder name; sequential invocations hand it over with park and resume; a claim that loses costs the
 * store nothing; a crashed invocation's term blocks its holder until the lease expires.
 */
import { describe, expect, it } from "vitest";
import type { LeaseState } from "../../src/index.ts";
import type { SuiteContext } from "./context.ts";
import { faultyTransport } from "./faults.ts";

const notLeader = { applied: false, reason: "not-leader" };

export function ownershipCases(c: SuiteContext): void {
  const { target, fresh, lease, key, guarded, ttlMs } = c;

  describe("ownership", () => {
    it("two live handles of one holder: the second is busy, and only the first's doIfLeader applies", async () => {
      const { backend } = fresh();
      const first = lease(backend, "a", guarded);
      const second = lease(backend, "a", guarded);
      const held = await first.claim();
      expect(held.isLeader).toBe(true);
      const busy = await second.claim();
      expect(busy).toMatchObject({
        isLeader: false,
        busy: true,
        holder: "a",
        token: held.token,
        leaseId: held.leaseId,
        validUntil: null,
      });
      const k = key("owner");
      const [mine, theirs] = await Promise.all([
        first.doIfLeader([{ type: "put", key: k, value: "first" }]),
        second.doIfLeader([{ type: "put", key: k, value: "second" }]),
      ]);
      expect(mine.applied).toBe(true);
      expect(theirs).toEqual(notLeader);
      expect(await second.claim()).toMatchObject({ isLeader: false, busy: true, token: held.token });
      const read = await first.doIfLeader([{ type: "get", key: k }]);
      expect(read.applied && read.results[0]?.type === "get" && read.results[0].kv?.value).toEqual(
        new TextEncoder().encode("first"),
      );
      expect(first.state()).toMatchObject({ isLeader: true, busy: false, token: held.token });
    });

    it("park, then resume by a new handle: the same term, leading with no gap; the parked handle is not leader", async () => {
      const { backend } = fresh();
      const run1 = lease(backend, "a", guarded);
      const first = await run1.claim();
      await run1.park();
      expect(run1.state()).toMatchObject({ isLeader: false, validUntil: null });
      expect(await run1.doIfLeader([{ type: "put", key: key("late"), value: "x" }])).toEqual(notLeader);
      expect(await run1.leader()).toMatchObject({
        holder: "a",
        token: first.token,
        leaseId: first.leaseId,
        parked: true,
      });
      // No gap: while parked, the term still keeps every other holder out.
      expect(await lease(backend, "b").claim()).toMatchObject({
        isLeader: false,
        busy: false,
        holder: "a",
        token: first.token,
      });
      const run2 = lease(backend, "a", guarded);
      const resumed = await run2.claim();
      expect(resumed).toMatchObject({
        isLeader: true,
        busy: false,
        holder: "a",
        token: first.token,
        leaseId: first.leaseId,
      });
      expect(await run2.leader()).toMatchObject({ token: first.token, parked: false });
      expect((await run2.doIfLeader([{ type: "put", key: key("resumed"), value: "y" }])).applied).toBe(true);
      expect(run1.state().isLeader).toBe(false);
      expect(await run1.claim()).toMatchObject({ isLeader: false, busy: true, token: first.token });
    });

    it("ten duplicates of one holder racing for a free lease: exactly one leads, at most one write applies", async () => {
      const { prefix } = fresh();
      const handles = Array.from({ length: 10 }, () => lease(target.makeBackend({ prefix }), "a", guarded));
      const states = await Promise.all(handles.map((h) => h.claim()));
      const winner = states.findIndex((s) => s.isLeader);
      expect(states.filter((s) => s.isLeader)).toHaveLength(1);
      const { token, leaseId } = states[winner] as LeaseState;
      for (const s of states.filter((x) => !x.isLeader)) {
        expect(s).toMatchObject({ busy: true, holder: "a", token, leaseId });
      }
      const k = key("once");
      const outcomes = await Promise.all(
        handles.map((h, i) =>
          h.doIfLeader(
            [{ type: "put", key: k, value: String(i) }],
            [{ key: k, target: "version", op: "=", value: 0n }],
          ),
        ),
      );
      expect(outcomes.filter((o) => o.applied)).toHaveLength(1);
      expect(outcomes[winner]?.applied).toBe(true);
      const read = await handles[winner]?.doIfLeader([{ type: "get", key: k }]);
      expect(read?.applied && read.results[0]?.type === "get" && read.results[0].kv?.value).toEqual(
        new TextEncoder().encode(String(winner)),
      );
      if (target.footprint) expect((await target.footprint(prefix)).leases).toBe(1);
    });

    const { footprint, baseTransport } = target;
    (footprint || baseTransport ? it : it.skip)(
      "a losing claim leaves nothing behind: held by another holder, busy by its own, parked by another",
      async () => {
        const { prefix, backend } = fresh();
        const counter = baseTransport ? faultyTransport(baseTransport, () => undefined) : null;
        const observed = counter ? target.makeBackend({ prefix, transport: counter }) : backend;
        const losing = async (holder: string): Promise<LeaseState> => {
          const before = footprint ? await footprint(prefix) : null;
          const sent = counter?.count() ?? 0;
          const s = await lease(observed, holder).claim();
          if (counter) expect(counter.count() - sent).toBe(1);
          if (footprint) expect(await footprint(prefix)).toEqual(before);
          return s;
        };
        const a = lease(backend, "a");
        const held = await a.claim();
        expect(await losing("b")).toMatchObject({
          isLeader: false,
          busy: false,
          holder: "a",
          token: held.token,
        });
        expect(await losing("a")).toMatchObject({
          isLeader: false,
          busy: true,
          holder: "a",
          token: held.token,
        });
        await a.park();
        expect(await losing("b")).toMatchObject({
          isLeader: false,
          busy: false,
          holder: "a",
          token: held.token,
        });
        expect(await a.leader()).toMatchObject({ holder: "a", token: held.token, parked: true });
      },
    );

    it("a crashed busy term blocks its own holder until its lease expires; then the holder leads with a new term", async () => {
      const { backend } = fresh();
      // This handle stands for an invocation that crashed: it never parks, releases nor renews again.
      const crashed = await lease(backend, "a").claim();
      expect(await lease(backend, "a").claim()).toMatchObject({
        isLeader: false,
        busy: true,
        holder: "a",
        token: crashed.token,
      });
      await lease(backend, "a").release();
      expect(await lease(backend, "z").leader()).toMatchObject({
        holder: "a",
        token: crashed.token,
        parked: false,
      });
      await target.elapse(ttlMs + target.expirySlackMs);
      const next = await lease(backend, "a").claim();
      expect(next).toMatchObject({ isLeader: true, busy: false, holder: "a" });
      expect(next.token).toBeGreaterThan(crashed.token as bigint);
      expect(next.leaseId).not.toBe(crashed.leaseId);
    });
  });
}
