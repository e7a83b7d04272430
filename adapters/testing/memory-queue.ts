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
  InvalidArgumentError,
  type LeaderInfo,
  LeaseLostError,
  type TermRef,
} from "../../src/backend-kit.ts";
import type { Transfer } from "./memory-store.ts";

/**
 * A queued candidate: its lease, its create revision (the token it would lead with), its proclaimed value, and
 * its holder (etcd's queue marker: every candidate of this store is leasehold's).
 */
export interface Queued {
  leaseId: string;
  token: bigint;
  value: string;
  holder: string;
}

type Held = Extract<ClaimOutcome, { held: true }>;

/** What the queue needs of the store. */
export interface QueueStore {
  sweep(): void;
  /** The candidates waiting for `name`, oldest first (the store's own list: the queue changes it). */
  queueOf(name: string): Queued[];
  /** The lease and token of `name`'s term, if it has one. */
  termOf(name: string): { leaseId: string; token: bigint } | undefined;
  /** The transfer record of `name` while its window lasts. */
  transferOf(name: string): Transfer | undefined;
  /** Puts `name`'s transfer record on a new lease of `windowMs`. */
  putTransfer(name: string, target: string, windowMs: number): void;
  /** The store's guard of a term (`MemoryStore.holds`). */
  holds(ref: TermRef): boolean;
  /** Ends the lease with its term or candidate (or the transfer record). */
  revoke(leaseId: string): void;
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
      const queued: Queued = {
        leaseId,
        token: store.bump(),
        value: req.value ?? req.holder,
        holder: req.holder,
      };
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
      if (at < 0) throw new LeaseLostError(`lease ${req.name}: candidate ${candidate.leaseId} is gone`);
      // While a transfer's window lasts, only its target leads; the record goes when it does.
      const transfer = store.transferOf(req.name);
      const mine = transfer?.target === candidate.leaseId;
      if (!term && at === 0 && (!transfer || mine)) {
        if (transfer) store.revoke(transfer.leaseId);
        queue.shift();
        return store.lead(req, candidate);
      }
      const ahead = at > 0 ? queue[at - 1]?.leaseId : (term?.leaseId ?? transfer?.leaseId);
      return { held: false, leader: store.leaderOf(req.name), ahead: ahead as string, grantedTtlMs };
    },

    waitGone: (name, ahead, { signal }) => store.waitGone(name, ahead, signal),

    /** As on etcd: the target must be queued; the candidates ahead of it queue again (their step finds them gone). */
    async transfer(ref, { toHolder, windowMs }) {
      store.sweep();
      if (!store.holds(ref)) throw new LeaseLostError(`lease ${ref.name}: this handle no longer leads`);
      const queue = store.queueOf(ref.name);
      const at = queue.findIndex((c) => c.holder === toHolder);
      const target = queue[at];
      const quoted = JSON.stringify(toHolder);
      if (!target) {
        throw new InvalidArgumentError(
          "toHolder",
          `${quoted} is not a queued candidate of lease ${ref.name}`,
        );
      }
      if (queue.some((c, i) => i > at && c.holder === toHolder)) {
        throw new InvalidArgumentError(
          "toHolder",
          `${quoted} is queued more than once for lease ${ref.name}`,
        );
      }
      queue.splice(0, at);
      store.putTransfer(ref.name, target.leaseId, windowMs);
      store.revoke(ref.leaseId);
    },
  };
}
