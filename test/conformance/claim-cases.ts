/** Conformance cases of `claim` by one handle per holder: taking, reporting, renewing, names and exact IDs. */
import { describe, expect, it } from "vitest";
import { createLease } from "../../src/index.ts";
import type { SuiteContext } from "./context.ts";

export function claimCases({ target, fresh, lease, ttlMs }: SuiteContext): void {
  describe("claim", () => {
    it("takes a free lease and reports a validity window from the send time", async () => {
      const { backend } = fresh();
      const a = lease(backend, "a");
      const before = target.clock.now();
      const s = await a.claim();
      expect(s).toMatchObject({ isLeader: true, busy: false, holder: "a", ttlMs });
      expect(typeof s.token).toBe("bigint");
      expect(s.token).toBeGreaterThan(0n);
      expect(s.validUntil).toBeGreaterThanOrEqual(before + ttlMs - Math.max(100, ttlMs / 100));
      expect(s.validUntil).toBeLessThanOrEqual(target.clock.now() + ttlMs);
      const current = await a.leader();
      expect(current).toMatchObject({
        holder: "a",
        token: s.token,
        leaseId: s.leaseId,
        ttlMs,
        parked: false,
      });
    });

    it("reports the current holder when another holds it", async () => {
      const { backend } = fresh();
      const held = await lease(backend, "a", { value: "https://a.example" }).claim();
      const s = await lease(backend, "b").claim();
      expect(s).toMatchObject({
        isLeader: false,
        busy: false,
        holder: "a",
        token: held.token,
        leaseId: held.leaseId,
        validUntil: null,
        ttlMs,
      });
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

    // Names that nest at "/" ("job", "job/x") share an election on etcd (docs/design.md); these only share
    // a string prefix, or sit at the edges of "job"'s candidate range ("job/" .. "job0"), and must stay apart.
    it("keeps names that share a string prefix apart", async () => {
      const { backend } = fresh();
      const mk = (name: string, holder: string) =>
        createLease({ backend, name, holder, ttlMs, clock: target.clock });
      const names = ["job", "jobs", "jo", "job-x", "job.x", "job0"];
      const handles = names.map((name, i) => mk(name, `h${i}`));
      const states = await Promise.all(handles.map((h) => h.claim()));
      expect(states.map((s) => [s.isLeader, s.holder])).toEqual(names.map((_, i) => [true, `h${i}`]));
      expect(new Set(states.map((s) => s.leaseId)).size).toBe(names.length);
      await handles[0]?.release();
      const after = await Promise.all(names.map((name) => mk(name, "z").leader()));
      expect(after.map((l) => l?.holder ?? null)).toEqual([
        null,
        ...names.slice(1).map((_, i) => `h${i + 1}`),
      ]);
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
}
