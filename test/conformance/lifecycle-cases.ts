/** Conformance cases of a term's life after the claim: renew, expiry, release, and fencing tokens across terms. */
import { describe, expect, it } from "vitest";
import { LeaseLostError } from "../../src/index.ts";
import type { SuiteContext } from "./context.ts";
import { recording } from "./wrap.ts";

export function lifecycleCases({ target, fresh, lease, call, ttlMs }: SuiteContext): void {
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

    it("a fresh handle ends only its holder's parked term: never a busy one, never another holder's", async () => {
      const { backend } = fresh();
      const a = lease(backend, "a");
      const held = await a.claim();
      await lease(backend, "a").release();
      await lease(backend, "b").release();
      const busy = { holder: "a", token: held.token, leaseId: held.leaseId, parked: false };
      expect(await lease(backend, "z").leader()).toMatchObject(busy);
      expect(await a.renew()).toMatchObject({ isLeader: true, token: held.token });
      await a.park();
      await lease(backend, "b").release();
      expect(await lease(backend, "z").leader()).toMatchObject({ ...busy, parked: true });
      await lease(backend, "a").release();
      expect(await lease(backend, "z").leader()).toBeNull();
      expect((await lease(backend, "b").claim()).isLeader).toBe(true);
    });

    it("succeeds when the term is already gone", async () => {
      const { backend } = fresh();
      const spy = recording(backend);
      const a = lease(spy.backend, "a");
      await a.claim();
      await backend.release(spy.lastTerm(), call());
      await expect(a.release()).resolves.toBeUndefined();
      expect(a.state().isLeader).toBe(false);
      await expect(lease(backend, "a").release()).resolves.toBeUndefined();
      expect(await a.leader()).toBeNull();
    });
  });

  describe("fencing tokens", () => {
    it("strictly increase across successive terms, and a resumed term keeps its token", async () => {
      const { backend } = fresh();
      const tokens: bigint[] = [];
      for (const holder of ["a", "b", "a", "c", "b"]) {
        const h = lease(backend, holder);
        const s = await h.claim();
        expect(s.isLeader).toBe(true);
        tokens.push(s.token as bigint);
        await h.park();
        const next = lease(backend, holder);
        expect(await next.claim()).toMatchObject({ isLeader: true, token: s.token });
        await next.release();
      }
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1] as bigint);
    });
  });
}
