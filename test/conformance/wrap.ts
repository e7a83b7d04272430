/**
 * Backend wrappers for cases that need to see or change what passes between the core and a backend. Every
 * method is forwarded explicitly: backends are class instances, whose methods a spread would not copy.
 */
import type { Backend, TermRef } from "../../src/backend-kit.ts";

/** `inner` with some methods replaced. */
export function delegating(inner: Backend, overrides: Partial<Omit<Backend, "kind">>): Backend {
  return {
    kind: inner.kind,
    get capabilities() {
      return inner.capabilities;
    },
    claim: (req, ctx) => inner.claim(req, ctx),
    renew: (term, ctx) => inner.renew(term, ctx),
    release: (term, ctx) => inner.release(term, ctx),
    park: (term, ctx) => inner.park(term, ctx),
    releaseParked: (name, holder, ctx) => inner.releaseParked(name, holder, ctx),
    leader: (name, ctx) => inner.leader(name, ctx),
    txn: (req, ctx) => inner.txn(req, ctx),
    ...overrides,
  };
}

/**
 * `inner`, remembering the term of the last claim that held: the suite can then end a term behind its
 * handle's back (as when the lease expires while the process is frozen) without waiting for a real TTL.
 */
export function recording(inner: Backend): { backend: Backend; lastTerm(): TermRef } {
  let last: TermRef | null = null;
  const backend = delegating(inner, {
    claim: async (req, ctx) => {
      const outcome = await inner.claim(req, ctx);
      if (outcome.held) {
        const { holder, leaseId, token, value } = outcome.leader;
        last = { name: req.name, holder, leaseId, token, hold: outcome.hold, ttlMs: req.ttlMs };
        if (value !== undefined) last.value = value;
      }
      return outcome;
    },
  });
  return {
    backend,
    lastTerm: () => {
      if (!last) throw new Error("recording backend: no claim has held a term yet");
      return last;
    },
  };
}
