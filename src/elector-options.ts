/** The elector's options (`startElector`), and their rules, checked once at the start. */
import type { LeaderInfo } from "./backend.ts";
import type { Clock } from "./clock.ts";
import type { Barrier } from "./elector-barrier.ts";
import { InvalidArgumentError } from "./errors.ts";
import type { ElectorEvent } from "./events.ts";
import type { Lease, LeaseState } from "./lease.ts";
import type { TermEnd } from "./term.ts";

export interface ElectorOptions {
  /**
   * The lease to campaign for; the elector is its only user while it runs. A stable `holder` lets a restarted
   * service resume the term the previous run parked with `stop()`. Two electors with the same holder never
   * both lead: the second finds the term busy and follows until the first stops.
   */
  lease: Lease;
  /**
   * Called once per term when this participant leads, after the barrier (`barrier`, `lockDelayMs`). `signal`
   * aborts exactly when that term ends, with a reason that says how: `lost`, a `LeaseLostError` (the store no
   * longer has the lease) or the non-retryable error that ended it; `expired`, the last renewal's error (or a
   * `LeaseLostError` when there was none) once the local `validUntil` passed; `stopped`, the `AbortError` of
   * `stop()`. Long work should stop then, and its writes should go through `lease.doIfLeader`, which will not
   * commit after the term. The term is renewed while it runs. It may return a promise: see `onDemoted`. The
   * contract in full: docs/elector.md.
   */
  onElected?: (state: LeaseState, signal: AbortSignal) => unknown;
  /**
   * Called when a term ends, with how it ended (see {@link TermEnd}: `transferred` after
   * {@link Elector.transfer}), always after that term's `onElected` has
   * returned or thrown, and after the promise it returned has settled; only then does the elector campaign
   * again. An `onElected` that ignores its signal therefore delays this, and the next campaign. A term that
   * ended during its barrier, before `onElected`, gets neither callback.
   */
  onDemoted?: (end: TermEnd) => unknown;
  /**
   * Called with every error the loop meets and survives, as it happens: every failed claim or campaign step
   * (a queued candidate retries at its next renewal), every failed renewal during a term (the term goes on until
   * its `validUntil`), a failed barrier check, a failed observation, and callbacks that threw.
   */
  onError?: (error: unknown) => unknown;
  /**
   * Called with the current term after every change `observe()` reports (null when the lease is free): for
   * every participant, leaders, followers, queued candidates and observers alike. Called in order, never twice
   * for one state. A first candidate that has not written its term yet shows as a Go candidate does (its
   * proclaimed value, `ttlMs` null).
   */
  onLeaderChange?: (leader: LeaderInfo | null) => unknown;
  /**
   * `false` makes an observer: it never claims, and gets `onLeaderChange` and `state()` (the observed term,
   * never leader) only. Default `true`.
   */
  campaign?: boolean;
  /**
   * How often the leader renews, and a queued candidate renews its own lease and reads the queue again, in ms.
   * Default: a third of the lease's TTL. Must be below the TTL.
   */
  renewIntervalMs?: number;
  /**
   * How often a polling follower (or a failed claim) tries again, and the poll interval of the observation, in
   * ms. Default: a third of the lease's TTL.
   */
  retryIntervalMs?: number;
  /**
   * What a new leader's `onElected` waits for (see {@link Barrier}): `"clean"`, the previous leader's
   * `onDemoted` returned; `"lease-gone"`, the previous term's store lease is gone; `false` (default), nothing.
   * The term is held and renewed meanwhile. With `"clean"` (or `lockDelayMs`), `stop({ release: true })` parks
   * before it releases (on etcd 4 round trips instead of 1), which is how this elector tells its successor that
   * its `onDemoted` returned: give every participant of one election the same barrier options.
   */
  barrier?: Barrier;
  /**
   * After a previous term that ended without a clean hand-over (it was busy when it ended: a crash, a lost or
   * expired term, or a release that did not park first), a new leader's `onElected` waits until this many ms
   * after that end was seen, as Consul's lock-delay does. Default 0; at most 3 600 000.
   */
  lockDelayMs?: number;
  /** Called with every {@link ElectorEvent}, for metrics and logs. Must not throw (what it throws is dropped). */
  onEvent?: (event: ElectorEvent) => void;
  /** Time source for the waits; pass the lease's own clock in tests. Default: the system clock. */
  clock?: Clock;
}

function interval(value: number | undefined, field: string, ttlMs: number): number {
  const ms = value ?? Math.floor(ttlMs / 3);
  if (typeof ms !== "number" || !(ms > 0 && ms < ttlMs)) {
    throw new InvalidArgumentError(field, `must be a number of ms above 0 and below the TTL (${ttlMs} ms)`);
  }
  return ms;
}

/**
 * The intervals, barrier and lock-delay of an elector, with their defaults.
 * @throws {InvalidArgumentError} naming the field: `renewIntervalMs`, `retryIntervalMs`, `campaign`, `barrier`,
 *   `lockDelayMs`.
 */
export function electorSettings(options: {
  lease: Lease;
  renewIntervalMs?: number;
  retryIntervalMs?: number;
  campaign?: boolean;
  barrier?: Barrier;
  lockDelayMs?: number;
}) {
  const { ttlMs } = options.lease;
  const renewMs = interval(options.renewIntervalMs, "renewIntervalMs", ttlMs);
  const retryMs = interval(options.retryIntervalMs, "retryIntervalMs", ttlMs);
  if (options.campaign !== undefined && typeof options.campaign !== "boolean") {
    throw new InvalidArgumentError("campaign", "must be a boolean");
  }
  const barrier = options.barrier ?? false;
  if (barrier !== false && barrier !== "clean" && barrier !== "lease-gone") {
    throw new InvalidArgumentError("barrier", `must be "clean", "lease-gone" or false`);
  }
  const lockDelayMs = options.lockDelayMs ?? 0;
  if (!Number.isInteger(lockDelayMs) || lockDelayMs < 0 || lockDelayMs > 3_600_000) {
    throw new InvalidArgumentError("lockDelayMs", "must be an integer number of ms from 0 to 3 600 000");
  }
  return { renewMs, retryMs, barrier, lockDelayMs };
}
