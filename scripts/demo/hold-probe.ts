/**
 * A pass-through Backend that reports the hold mark and claim ID of the claim an invocation won. The Lease API
 * keeps the hold to itself (it is the store's business); the demo writes it into each journal entry so that
 * the verification can check, from etcd's history alone, that the write committed under that very hold.
 */
import type { Backend } from "../../src/index.ts";

export interface WonClaim {
  /** The hold mark the backend returned (etcd: the term record's mod revision, decimal). */
  hold: string;
  /** The claim's ID, decimal: what the term record names as its `run`. */
  run: string;
}

export function probeHolds(backend: Backend, onWon: (won: WonClaim) => void): Backend {
  return {
    kind: backend.kind,
    capabilities: backend.capabilities,
    async claim(req, ctx) {
      const outcome = await backend.claim(req, ctx);
      if (outcome.held) onWon({ hold: outcome.hold, run: req.claimId.toString() });
      return outcome;
    },
    renew: (term, ctx) => backend.renew(term, ctx),
    release: (term, ctx) => backend.release(term, ctx),
    park: (term, ctx) => backend.park(term, ctx),
    releaseParked: (name, holder, ctx) => backend.releaseParked(name, holder, ctx),
    leader: (name, ctx) => backend.leader(name, ctx),
    txn: (req, ctx) => backend.txn(req, ctx),
    close: () => backend.close?.() ?? Promise.resolve(),
  };
}
