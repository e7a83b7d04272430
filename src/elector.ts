/**
 * `startElector`: the explicit long-running loop for services that stay up (the core has no background timers
 * of its own). It campaigns for a lease until it wins, keeps the term renewed, tells the caller when a term
 * begins and ends, campaigns again after a loss, and hands the term on when stopped.
 */
import type { LeaderInfo } from "./backend.ts";
import { type Clock, systemClock } from "./clock.ts";
import { InvalidArgumentError } from "./errors.ts";
import type { Lease, LeaseState } from "./lease.ts";
import { observe } from "./observe.ts";
import { keepTerm, type TermEnd } from "./term.ts";

export interface ElectorOptions {
  /**
   * The lease to campaign for; the elector is its only user while it runs. A stable `holder` lets a restarted
   * service resume the term the previous run parked with `stop()`. Two electors with the same holder never
   * both lead: the second finds the term busy and follows until the first stops.
   */
  lease: Lease;
  /**
   * Called when this participant becomes leader. `signal` aborts when that term ends; its reason says how: the
   * term's error (`LeaseLostError`, or the last renewal's error when validity ran out) or, on `stop()`, an
   * `AbortError`. Long work should stop then, and its writes should go through `lease.doIfLeader`, which will not
   * commit after the term. The term is renewed while it runs. It may return a promise: see `onDemoted`.
   */
  onElected?: (state: LeaseState, signal: AbortSignal) => unknown;
  /**
   * Called when a term ends, with how it ended (see {@link TermEnd}), always after that term's `onElected` has
   * returned or thrown, and after the promise it returned has settled; only then does the elector campaign
   * again. An `onElected` that ignores its signal therefore delays this, and the next campaign.
   */
  onDemoted?: (end: TermEnd) => unknown;
  /**
   * Called with every error the loop meets and survives, as it happens: failed claims, every failed renewal
   * during a term (the term goes on until its `validUntil`), and callbacks that threw.
   */
  onError?: (error: unknown) => unknown;
  /**
   * Called with the current term after every change `observe()` reports (null when the lease is free): for
   * every participant, leaders, followers and observers alike. Called in order, never twice for one state.
   */
  onLeaderChange?: (leader: LeaderInfo | null) => unknown;
  /**
   * `false` makes an observer: it never claims, and gets `onLeaderChange` and `state()` (the observed term,
   * never leader) only. Default `true`.
   */
  campaign?: boolean;
  /** How often the leader renews, in ms. Default: a third of the lease's TTL. Must be below the TTL. */
  renewIntervalMs?: number;
  /** How often a follower (or a failed claim) tries again, in ms. Default: a third of the lease's TTL. */
  retryIntervalMs?: number;
  /** Time source for the waits; pass the lease's own clock in tests. Default: the system clock. */
  clock?: Clock;
}

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
}

function interval(value: number | undefined, field: string, ttlMs: number): number {
  const ms = value ?? Math.floor(ttlMs / 3);
  if (typeof ms !== "number" || !(ms > 0 && ms < ttlMs)) {
    throw new InvalidArgumentError(field, `must be a number of ms above 0 and below the TTL (${ttlMs} ms)`);
  }
  return ms;
}

/** The local view of an observer: the observed term, never leader. */
function observedState(lease: Lease, leader: LeaderInfo | null): LeaseState {
  return {
    name: lease.name,
    isLeader: false,
    busy: false,
    holder: leader?.holder ?? null,
    token: leader?.token ?? null,
    leaseId: leader?.leaseId ?? null,
    leaseIdHex: leader ? BigInt.asUintN(64, BigInt(leader.leaseId)).toString(16) : null,
    validUntil: null,
    ttlMs: leader?.ttlMs ?? null,
    ...(leader?.value === undefined ? {} : { value: leader.value }),
  };
}

/**
 * Starts campaigning for `options.lease` at once and keeps going until `stop()`: `claim()` every
 * `retryIntervalMs` while another holder leads (or a claim fails), then {@link keepTerm} while this one does.
 * It also observes the lease (`observe()`) when `onLeaderChange` is set, for an observer (`campaign: false`),
 * and whenever the backend can watch (`Backend.observe`, e.g. `etcdWithWatch`): a follower then claims as soon
 * as the lease frees (or its holder's term is parked), one watch delivery after the release, not at its next
 * retry.
 * @throws {InvalidArgumentError} a bad option (`lease`, `renewIntervalMs`, `retryIntervalMs`).
 */
export function startElector(options: ElectorOptions): Elector {
  const { lease, onElected, onDemoted, onError, onLeaderChange, campaign = true } = options;
  if (typeof lease?.claim !== "function") {
    throw new InvalidArgumentError("lease", "must be a Lease from createLease(...)");
  }
  const renewMs = interval(options.renewIntervalMs, "renewIntervalMs", lease.ttlMs);
  const retryMs = interval(options.retryIntervalMs, "retryIntervalMs", lease.ttlMs);
  const clock = options.clock ?? systemClock;
  const stopping = new AbortController();
  const { signal } = stopping;
  const report = (error: unknown) => {
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
      report(error);
    }
  };

  if (typeof campaign !== "boolean") throw new InvalidArgumentError("campaign", "must be a boolean");

  /** Aborted to cut a follower's retry wait short when the lease frees. */
  let wake = null as AbortController | null;
  let observed: LeaderInfo | null = null;
  const watching =
    onLeaderChange || !campaign || lease.backend.observe
      ? (async () => {
          const pollIntervalMs = Math.max(10, Math.round(retryMs));
          for await (const event of observe(lease, { signal, clock, pollIntervalMs })) {
            if (event.type !== "change") continue;
            const leader = event.leader;
            observed = leader;
            call(onLeaderChange && (() => onLeaderChange(leader)));
            if (leader === null || (leader.parked && leader.holder === lease.holder)) wake?.abort();
          }
        })().catch(report)
      : Promise.resolve();

  const loop = (async () => {
    while (campaign && !signal.aborted) {
      let state: LeaseState | undefined;
      try {
        state = await lease.claim({ signal });
      } catch (error) {
        if (!signal.aborted) report(error);
      }
      if (state?.isLeader) {
        const term = new AbortController();
        const elected = state;
        const leading = call(onElected && (() => onElected(elected, term.signal)));
        const end = await keepTerm(lease, renewMs, clock, signal, report);
        term.abort(end.reason === "stopped" ? signal.reason : end.error);
        await leading;
        await call(onDemoted && (() => onDemoted(end)));
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
      if (stopOptions.release) await lease.release();
      else await lease.park();
    },
  };
}
