/**
 * `startElector`: the explicit long-running loop for services that stay up (the core has no background timers
 * of its own). It campaigns for a lease until it wins, keeps the term renewed, tells the caller when a term
 * begins and ends, campaigns again after a loss, and hands the term on when stopped.
 */
import type { LeaderInfo } from "./backend.ts";
import { systemClock } from "./clock.ts";
import { awaitBarrier, TermHistory } from "./elector-barrier.ts";
import { canQueue, campaign as queue } from "./elector-campaign.ts";
import { type ElectorOptions, electorSettings } from "./elector-options.ts";

export type { ElectorOptions } from "./elector-options.ts";

import { type TransferOptions, transferTerm } from "./elector-transfer.ts";
import { InvalidArgumentError, LeaseLostError } from "./errors.ts";
import { type ElectorEvent, type ElectorEventBody, withRenewEvents } from "./events.ts";
import type { Lease, LeaseState } from "./lease.ts";
import { observe } from "./observe.ts";
import { keepTerm, type TermEnd } from "./term.ts";

/** How `transfer()` ended the term it aborts: made, to `toHolder`, or ended by `error` (in doubt, or lost). */
type TransferEnd = { toHolder: string } | { error: unknown };

export interface Elector {
  /** The lease's local view (no I/O). */
  state(): LeaseState;
  /**
   * Stops the loop and waits for it to end (an ongoing claim or renewal is aborted), then hands the term on
   * with one round trip:
   * - default: parks it (`lease.park()`), so that the next elector or lease handle with the same `holder` (a
   *   restarted service) resumes it with its claim: same term and fencing token, no gap. Other holders find it
   *   held until it expires, one TTL after its last renewal;
   * - `release: true`: releases it (`lease.release()`), so that any other participant can take over at once.
   *   Without a held term this ends the holder's parked term, if any.
   *
   * `onDemoted` is called with `stopped` if a term was held. An observer (`campaign: false`) only stops
   * observing.
   * @throws {LeaseTimeoutError | TransportError | HttpStatusError | MalformedResponseError | AuthError} the park or
   *   release failed; the loop has stopped all the same, and the term ends by its TTL.
   */
  stop(options?: { release?: boolean }): Promise<void>;
  /**
   * Hands the term this elector leads to the queued candidate of `toHolder` (another elector of the same lease
   * name, campaigning by queueing): only it may lead for `windowMs` (default: the lease's TTL); if it does not
   * take the term by then, whoever is first in the queue leads. Resolves once the store has ended this term
   * (etcd: 3 round trips, see `CampaignBackend.transfer`); `onDemoted` then gets `transferred`, and this elector
   * queues again, behind the target. The target leads with a larger fencing token; the candidates queued ahead
   * of it queue again behind it.
   * @throws {LeaseLostError} this elector does not lead now.
   * @throws {InvalidArgumentError} `toHolder` or `windowMs` is invalid, or (field `toHolder`) no such candidate
   *   is queued, more than one is, or a candidate that is not leasehold's (a Go candidate, `etcdctl elect`) is
   *   queued ahead of it: the term goes on.
   * @throws {UnsupportedError} the backend cannot transfer (`capabilities.transfer`: ZooKeeper, `etcd()`
   *   without the watch), or the lease is not a handle from `createLease`.
   * @throws {LeaseTimeoutError | TransportError | HttpStatusError | MalformedResponseError | AuthError} the
   *   outcome is in doubt: the term was released all the same (its lease revoked, best effort), and
   *   `onDemoted` gets `lost` with this error, not `transferred`.
   */
  transfer(toHolder: string, options?: TransferOptions): Promise<void>;
}

/**
 * The local view of an observer: the observed term, never leader; its time left bounded, as of the reading, by
 * the holder's TTL and the store's expiry slack.
 */
function observedState(lease: Lease, leader: LeaderInfo | null): LeaseState {
  const ttlMs = leader?.ttlMs ?? null;
  return {
    name: lease.name,
    isLeader: false,
    busy: false,
    holder: leader?.holder ?? null,
    token: leader?.token ?? null,
    leaseId: leader?.leaseId ?? null,
    leaseIdHex: leader ? BigInt.asUintN(64, BigInt(leader.leaseId)).toString(16) : null,
    validUntil: null,
    ttlMs,
    ttlLeftMs: ttlMs === null ? null : ttlMs + (lease.backend.capabilities.expirySlackMs ?? 0),
    ...(leader?.value === undefined ? {} : { value: leader.value }),
  };
}

/**
 * Starts campaigning for `options.lease` at once and keeps going until `stop()`, then {@link keepTerm} while
 * it leads. On a backend that queues (`capabilities.campaign`: etcd through `etcdWithWatch`, the memory
 * backend) it campaigns by queueing (src/elector-campaign.ts): a candidate of its own, led in turn, woken by a
 * watch of its predecessor. Otherwise it polls: `claim()` every `retryIntervalMs` while another holder leads (or a claim
 * fails), woken early by the observation when the lease frees (with `Backend.observe`). It also observes the
 * lease (`observe()`) when `onLeaderChange`, a barrier or `lockDelayMs` is set, for an observer
 * (`campaign: false`), and whenever the backend can watch. The callback contract: docs/elector.md.
 * @throws {InvalidArgumentError} a bad option (`lease`, `renewIntervalMs`, `retryIntervalMs`, `campaign`,
 *   `barrier`, `lockDelayMs`).
 */
export function startElector(options: ElectorOptions): Elector {
  const { lease, onElected, onDemoted, onError, onLeaderChange, onEvent, campaign = true } = options;
  if (typeof lease?.claim !== "function") {
    throw new InvalidArgumentError("lease", "must be a Lease from createLease(...)");
  }
  const { renewMs, retryMs, barrier, lockDelayMs } = electorSettings(options);
  const clock = options.clock ?? systemClock;
  const { backend } = lease;
  const queued = canQueue(lease);
  const stopping = new AbortController();
  const { signal } = stopping;
  const emit = (body: ElectorEventBody) => {
    try {
      onEvent?.({ ...body, name: lease.name, holder: lease.holder } as ElectorEvent);
    } catch {
      // An event hook that throws must not change the election.
    }
  };
  const report = (
    error: unknown,
    during: "claim" | "renew" | "observe" | "callback" | "barrier",
    since?: number,
  ) => {
    emit({ type: "error", during, error, durationMs: since === undefined ? 0 : clock.now() - since });
    try {
      onError?.(error);
    } catch {
      // An error handler that throws has nowhere left to report to.
    }
  };
  /** Runs a callback; resolves once it has returned or thrown, and any promise it returned has settled. */
  const call = async (fn: (() => unknown) | undefined): Promise<void> => {
    try {
      await fn?.();
    } catch (error) {
      report(error, "callback");
    }
  };

  /** Aborted to cut a polling follower's retry wait short when the lease frees. */
  let wake = null as AbortController | null;
  let observed: LeaderInfo | null = null;
  const history = new TermHistory(clock);
  const watching =
    onLeaderChange || !campaign || backend.observe || barrier || lockDelayMs > 0
      ? (async () => {
          const pollIntervalMs = Math.max(10, Math.round(retryMs));
          for await (const event of observe(lease, { signal, clock, pollIntervalMs })) {
            if (event.type === "mode")
              emit({ type: "observe", mode: event.mode, reason: event.reason, durationMs: 0 });
            if (event.type === "error") report(event.error, "observe");
            if (event.type !== "change") continue;
            const leader = event.leader;
            observed = leader;
            history.see(leader);
            call(onLeaderChange && (() => onLeaderChange(leader)));
            if (leader === null || (leader.parked && leader.holder === lease.holder)) wake?.abort();
          }
        })().catch((error: unknown) => report(error, "observe"))
      : Promise.resolve();

  const renewing = withRenewEvents(lease, clock, emit);
  /** The term being led: aborted (with the target) once a transfer has ended it. */
  let leading: AbortController | null = null;

  /** One term: the barrier, then onElected while keepTerm renews; onDemoted once onElected has settled. */
  const lead = async (elected: LeaseState, campaignedAt: number) => {
    const electedAt = clock.now();
    const term = new AbortController();
    const token = elected.token as bigint;
    const running = (async () => {
      const barrierAt = clock.now();
      try {
        await awaitBarrier({
          barrier,
          lockDelayMs,
          history,
          backend,
          clock,
          token,
          graceMs: 2 * retryMs,
          ttlMs: lease.ttlMs,
          requestTimeoutMs: Math.min(5000, lease.ttlMs),
          signal: term.signal,
          onError: (error) => report(error, "barrier"),
        });
      } catch {
        // The term ended during the barrier: it never began for the application.
        return false;
      }
      const durationMs = clock.now() - campaignedAt;
      emit({ type: "elected", token, barrierMs: clock.now() - barrierAt, durationMs });
      await call(onElected && (() => onElected(lease.state(), term.signal)));
      return true;
    })();
    const transferred = new AbortController();
    leading = transferred;
    const kept = await keepTerm(
      renewing,
      renewMs,
      clock,
      AbortSignal.any([signal, transferred.signal]),
      (error) => report(error, "renew"),
    );
    leading = null;
    // A transfer ends the term as `transferred` only when it was made; in doubt, the term was released: lost.
    const handOver = transferred.signal.aborted ? (transferred.signal.reason as TransferEnd) : null;
    const end: TermEnd =
      handOver === null
        ? kept
        : "error" in handOver
          ? { reason: "lost", error: handOver.error }
          : { reason: "transferred", toHolder: handOver.toHolder };
    term.abort(
      end.reason === "stopped"
        ? signal.reason
        : end.reason === "transferred"
          ? new LeaseLostError(`lease ${lease.name}: transferred to ${JSON.stringify(end.toHolder)}`)
          : end.error,
    );
    if (end.reason === "lost" || end.reason === "expired") {
      emit({
        type: "lost",
        reason: end.reason,
        error: end.error,
        token,
        durationMs: clock.now() - electedAt,
      });
    }
    if (!(await running)) return;
    await call(onDemoted && (() => onDemoted(end)));
    emit({ type: "demoted", reason: end.reason, token, durationMs: clock.now() - electedAt });
  };

  const loop = (async () => {
    while (campaign && !signal.aborted) {
      const campaignedAt = clock.now();
      let state: LeaseState | undefined;
      let requests = 0;
      try {
        state = queued
          ? await queue(lease, {
              clock,
              signal,
              renewIntervalMs: renewMs,
              requestTimeoutMs: Math.min(5000, lease.ttlMs),
              onError: (e) => report(e, "claim"),
              onRequest: () => requests++,
            })
          : await lease.claim({ signal });
        emit({
          type: "claim",
          queued,
          isLeader: state.isLeader,
          busy: state.busy,
          leader: state.holder,
          token: state.token,
          durationMs: clock.now() - campaignedAt,
          requests: queued ? requests : 1,
        });
      } catch (error) {
        if (!signal.aborted) report(error, "claim", campaignedAt);
      }
      if (state?.isLeader) {
        await lead(state, campaignedAt);
        continue;
      }
      wake = new AbortController();
      try {
        await clock.sleep(retryMs, AbortSignal.any([signal, wake.signal]));
      } catch {
        if (signal.aborted) return;
      }
      wake = null;
    }
  })();

  return {
    state: () => (campaign ? lease.state() : observedState(lease, observed)),
    async stop(stopOptions = {}) {
      stopping.abort();
      await Promise.all([loop, watching]);
      if (!campaign) return;
      if (!stopOptions.release) return lease.park();
      // Parked first, the term tells a successor's barrier or lock-delay that its onDemoted has returned.
      if (barrier === "clean" || lockDelayMs > 0) await lease.park();
      await lease.release();
    },
    async transfer(toHolder, transferOptions = {}) {
      const term = leading;
      if (!term)
        throw new LeaseLostError(`lease ${lease.name}: this elector does not lead; nothing to transfer`);
      await transferTerm(lease, toHolder, transferOptions, (error) =>
        term.abort(error === undefined ? { toHolder } : { error }),
      );
    },
  };
}
