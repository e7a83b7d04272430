/**
 * Queued campaigns in the memory backend (`Backend.campaign`), as on etcd: each candidate on a lease of its own
 * at a revision of its own, first-come first-led; the first leads once no term is left before it.
 */
import {
  type CampaignBackend,
  type CampaignStep,
  type Candidate,
  type ClaimOutcome,
  type ClaimRequest,
  type LeaderInfo,
  LeaseLostError,
} from "../../src/backend-kit.ts";

/** A queued candidate: its lease, its create revision (the token it would lead with), its proclaimed value. */
export interface Queued {
  leaseId: string;
  token: bigint;
  value: string;
}

type Held = Extract<ClaimOutcome, { held: true }>;

/** What the queue needs of the store. */
export interface QueueStore {
  sweep(): void;
  /** The candidates waiting for `name`, oldest first (the store's own list: the queue changes it). */
  queueOf(name: string): Queued[];
  /** The lease and token of `name`'s term, if it has one. */
  termOf(name: string): { leaseId: string; token: bigint } | undefined;
  /** A new revision of the store. */
  bump(): bigint;
  grant(leaseId: string, name: string, ttlMs: number): void;
  /** @throws {LeaseLostError} the store no longer has the lease. */
  keepAlive(leaseId: string, name: string): number;
  /** The held outcome of `name`'s current term (its lease renewed). */
  held(name: string): Held;
  /** Makes `candidate`, first in line, the busy term of `req.name`; tells the watches. */
  lead(req: ClaimRequest, candidate: Candidate): Held;
  leaderOf(name: string): LeaderInfo | null;
  changed(name: string): void;
  waitGone(name: string, leaseId: string, signal: AbortSignal): Promise<void>;
}

export function memoryQueue(store: QueueStore): CampaignBackend {
  return {
    async enqueue(req) {
      store.sweep();
      const leaseId = req.claimId.toString();
      const own = store.queueOf(req.name).find((c) => c.leaseId === leaseId);
      const term = store.termOf(req.name);
      const token = own?.token ?? (term?.leaseId === leaseId ? term.token : undefined);
      if (token !== undefined) return { leaseId, token, grantedTtlMs: store.keepAlive(leaseId, req.name) };
      store.grant(leaseId, req.name, req.ttlMs);
      const queued: Queued = { leaseId, token: store.bump(), value: req.value ?? req.holder };
      store.queueOf(req.name).push(queued);
      store.changed(req.name);
      return { leaseId, token: queued.token, grantedTtlMs: req.ttlMs };
    },

    async step(req, candidate): Promise<CampaignStep> {
      store.sweep();
      const grantedTtlMs = store.keepAlive(candidate.leaseId, req.name);
      const term = store.termOf(req.name);
      const queue = store.queueOf(req.name);
      const at = queue.findIndex((c) => c.leaseId === candidate.leaseId);
      // An earlier try of this step led, and its answer was lost.
      if (term?.leaseId === candidate.leaseId) return store.held(req.name);
      if (!term && at === 0) {
        queue.shift();
        return store.lead(req, candidate);
      }
      const ahead = at > 0 ? queue[at - 1]?.leaseId : term?.leaseId;
      if (ahead === undefined) {
        throw new LeaseLostError(`lease ${req.name}: candidate ${candidate.leaseId} is gone`);
      }
      return { held: false, leader: store.leaderOf(req.name), ahead, grantedTtlMs };
    },

    waitGone: (name, ahead, { signal }) => store.waitGone(name, ahead, signal),
  };
}
