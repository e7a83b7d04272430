/**
 * The elector's events for operators (`ElectorOptions.onEvent`): one typed event per claim, renewal, election,
 * demotion, loss, observe mode change and survived error, each with how long it took, so that metrics and logs
 * need no wrapper around the lease. Plain data: no I/O, no dependency (docs/elector.md turns them into gauges).
 */
import type { Clock } from "./clock.ts";
import type { Lease } from "./lease.ts";
import type { ObserveMode } from "./observe.ts";

interface Base {
  /** The lease name. */
  name: string;
  /** This participant's holder. */
  holder: string;
  /** How long what the event reports took, in ms on the elector's clock (see each type). */
  durationMs: number;
}

/**
 * A campaign round ended: `durationMs` from its start (a queued candidate's whole wait) to the answer.
 * `queued` is true when it campaigned by queueing (`Backend.campaign`), false for one try-claim; `requests` is
 * the number of backend calls it made: 1 for a try-claim (on etcd one round trip, or two to take a free lease);
 * for a queued campaign every try-claim, enqueue, step (one round trip each on etcd), wait for a predecessor
 * (one watch stream) and withdrawal. `leader` and `token` are the term it found (its own when `isLeader`; null when free);
 * `busy` as in `LeaseState`.
 */
export interface ClaimEvent extends Base {
  type: "claim";
  queued: boolean;
  isLeader: boolean;
  busy: boolean;
  leader: string | null;
  token: bigint | null;
  requests: number;
}

/** One renewal of the held term: `ok` false when it failed (the error is also an `error` event). */
export interface RenewEvent extends Base {
  type: "renew";
  ok: boolean;
  /** Backend calls: 1 (etcd: one `POST /v3/lease/keepalive`). */
  requests: number;
  /** The term's local validity end after it (epoch ms), or null after a failure. */
  validUntil: number | null;
}

/** `onElected` is about to be called: `durationMs` from the campaign's start; `barrierMs` spent in the barrier. */
export interface ElectedEvent extends Base {
  type: "elected";
  token: bigint;
  barrierMs: number;
}

/** A term ended by a loss (`lost`) or by running out of validity (`expired`): `durationMs` is the term's length. */
export interface LostEvent extends Base {
  type: "lost";
  reason: "lost" | "expired";
  token: bigint;
  error: unknown;
}

/** `onDemoted` returned (any end, `stopped` included): `durationMs` is the term's length. */
export interface DemotedEvent extends Base {
  type: "demoted";
  reason: "lost" | "expired" | "stopped" | "transferred";
  token: bigint;
}

/** The elector's observation switched mode (a watch lost and polling, or the watch back): `durationMs` 0. */
export interface ObserveModeEvent extends Base {
  type: "observe";
  mode: ObserveMode;
  reason: string;
}

/** A failure the elector survived, in `during`; `durationMs` is how long the failed step took. */
export interface ErrorEvent extends Base {
  type: "error";
  during: "claim" | "renew" | "observe" | "callback" | "barrier";
  error: unknown;
}

export type ElectorEvent =
  | ClaimEvent
  | RenewEvent
  | ElectedEvent
  | LostEvent
  | DemotedEvent
  | ObserveModeEvent
  | ErrorEvent;

/** An event as the elector emits it, before its name and holder are added. */
export type ElectorEventBody = ElectorEvent extends infer E
  ? E extends ElectorEvent
    ? Omit<E, "name" | "holder">
    : never
  : never;

/** `lease` as `keepTerm` drives it, emitting a `renew` event per renewal. */
export function withRenewEvents(
  lease: Lease,
  clock: Clock,
  emit: (event: ElectorEventBody) => void,
): Pick<Lease, "name" | "state" | "renew"> {
  return {
    name: lease.name,
    state: () => lease.state(),
    renew: async (options) => {
      const sentAt = clock.now();
      try {
        const state = await lease.renew(options);
        emit({
          type: "renew",
          ok: true,
          requests: 1,
          validUntil: state.validUntil,
          durationMs: clock.now() - sentAt,
        });
        return state;
      } catch (error) {
        emit({ type: "renew", ok: false, requests: 1, validUntil: null, durationMs: clock.now() - sentAt });
        throw error;
      }
    },
  };
}
