/**
 * `observe`: an async iterable of a lease's leader changes, for participants that never lead (dashboards,
 * followers waiting for a handover) as much as for candidates. It follows the backend's store watch when the
 * backend has one (`Backend.observe`: etcd's `/v3/watch`), and polls `leader()` otherwise (ZooKeeper) or while
 * a watch cannot be kept.
 *
 * What counts as a change: any difference in the reported {@link LeaderInfo}, or between a term and none: a new
 * term (a new fencing token), a term ending (free, `leader: null`), a park or a resume (`parked` flips), a new
 * holder, value, TTL or lease ID. The first change event is the state at the start. Equal readings are never
 * repeated. In `watch` mode every store revision that touched the lease is seen in order, so no change is
 * missed; in `poll` mode only the state at each poll is seen: terms shorter than the poll interval can go
 * unseen, and several changes between two polls arrive as one.
 */
import type { Backend, LeaderInfo } from "./backend.ts";
import { type Clock, systemClock } from "./clock.ts";
import { InvalidArgumentError, isLeaseError, type LeaseError } from "./errors.ts";
import { withDeadline } from "./http.ts";
import { checkLeader } from "./leader-check.ts";
import type { Lease } from "./lease.ts";
import { validateName } from "./names.ts";

/** How the changes are learnt: `watch`, from a store watch; `poll`, by reading `leader()` every interval. */
export type ObserveMode = "watch" | "poll";

/**
 * A leader change. `leader` is the term after it, or null when the lease is free; `revision` is the store
 * revision it was seen at in `watch` mode (etcd revision), null in `poll` mode.
 */
export interface LeaderChange {
  type: "change";
  leader: LeaderInfo | null;
  mode: ObserveMode;
  revision: bigint | null;
}

/**
 * The mode changed (the first event of every observation says which mode it starts in). `reason` says why, in
 * words; `error` is the failure that ended a watch, when one did.
 */
export interface ObserveModeChange {
  type: "mode";
  mode: ObserveMode;
  reason: string;
  error?: LeaseError;
}

/**
 * A failed poll, or a failed attempt to watch again while polling. The last change may be stale until the next
 * change event: treat the leader as unknown meanwhile.
 */
export interface ObserveError {
  type: "error";
  mode: ObserveMode;
  error: LeaseError;
}

export type ObserveEvent = LeaderChange | ObserveModeChange | ObserveError;

export interface ObserveOptions {
  /** Ends the observation: the iterable then returns (no error). Breaking out of `for await` ends it too. */
  signal?: AbortSignal;
  /** Interval between two `leader()` reads in `poll` mode, in ms. Default 1000; 10 to 3 600 000. */
  pollIntervalMs?: number;
  /** How long `poll` mode lasts before the backend's watch is tried again, in ms. Default 30 000; 10 to 3 600 000. */
  watchRetryMs?: number;
  /**
   * How often a silent watch is checked against a read of the store, in ms: a watch found behind it for longer
   * than `requestTimeoutMs` (a dead connection, a proxy holding the stream back) turns into polling. Default
   * 30 000; 10 to 3 600 000.
   */
  watchCheckMs?: number;
  /** Deadline of each request (a poll, the watch's first read and stream open), in ms. Default 5000; 10 to 600 000. */
  requestTimeoutMs?: number;
  /** Times the polls; tests pass `fakeClock()`. Default: the system clock. */
  clock?: Clock;
}

function duration(value: number | undefined, field: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 10 || value > max) {
    throw new InvalidArgumentError(field, `must be an integer number of ms from 10 to ${max}`);
  }
  return value;
}

/** True when the two readings are the same state of the lease (see the module doc for what a change is). */
function sameState(a: LeaderInfo | null, b: LeaderInfo | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.token === b.token &&
    a.holder === b.holder &&
    a.leaseId === b.leaseId &&
    a.parked === b.parked &&
    a.value === b.value &&
    a.ttlMs === b.ttlMs
  );
}

/**
 * Observes the leader of a lease: `observe(backend, name, options?)`, or `observe(lease, options?)` for a
 * lease handle's backend and name (a function rather than a `Lease` method, so that code which never observes
 * does not carry it in its bundle). An async iterable of {@link ObserveEvent}s that ends only when
 * `options.signal` aborts or the consumer stops iterating. Failures never end it: a watch that cannot be kept
 * turns into polling (a `mode` event), a failed poll is an `error` event. Every reported term passes the same
 * checks as `leader()`; one that fails them ends the watch (then polling reports the errors).
 *
 * ```ts
 * for await (const event of observe(lease, { signal })) {
 *   if (event.type === "change") console.log(event.leader?.holder ?? "free", event.mode);
 * }
 * ```
 * @throws {InvalidArgumentError} at the call, for a bad `name` or option (nothing is sent).
 * @throws the consumer sees any non-leasehold error a backend throws (a bug), not a guess.
 */
export function observe(
  backend: Backend,
  name: string,
  options?: ObserveOptions,
): AsyncGenerator<ObserveEvent, void, undefined>;
export function observe(
  lease: Lease,
  options?: ObserveOptions,
): AsyncGenerator<ObserveEvent, void, undefined>;
export function observe(
  target: Backend | Lease,
  nameOrOptions?: string | ObserveOptions,
  maybeOptions?: ObserveOptions,
): AsyncGenerator<ObserveEvent, void, undefined> {
  const lease = typeof nameOrOptions === "string" ? null : (target as Lease);
  const backend = lease ? lease.backend : (target as Backend);
  const name = validateName(lease ? lease.name : nameOrOptions);
  const options = ((lease ? nameOrOptions : maybeOptions) ?? {}) as ObserveOptions;
  return run(backend, name, {
    clock: options.clock ?? systemClock,
    pollMs: duration(options.pollIntervalMs, "pollIntervalMs", 1000, 3_600_000),
    retryMs: duration(options.watchRetryMs, "watchRetryMs", 30_000, 3_600_000),
    checkMs: duration(options.watchCheckMs, "watchCheckMs", 30_000, 3_600_000),
    timeoutMs: duration(options.requestTimeoutMs, "requestTimeoutMs", 5000, 600_000),
    signal: options.signal,
  });
}

interface Settings {
  clock: Clock;
  pollMs: number;
  retryMs: number;
  checkMs: number;
  timeoutMs: number;
  signal: AbortSignal | undefined;
}

async function* run(backend: Backend, name: string, s: Settings): AsyncGenerator<ObserveEvent> {
  const stop = new AbortController();
  const signal = s.signal ? AbortSignal.any([s.signal, stop.signal]) : stop.signal;
  let mode: ObserveMode | undefined;
  let last: LeaderInfo | null | undefined;
  const changed = (leader: LeaderInfo | null, revision: bigint | null): LeaderChange | null => {
    if (leader) checkLeader(leader, backend.kind);
    if (last !== undefined && sameState(last, leader)) return null;
    last = leader;
    return { type: "change", leader, mode: mode as ObserveMode, revision };
  };
  const enter = (next: ObserveMode, reason: string, error?: LeaseError): ObserveModeChange | null => {
    if (mode === next) return null;
    mode = next;
    return error ? { type: "mode", mode, reason, error } : { type: "mode", mode, reason };
  };
  try {
    while (!signal.aborted) {
      let lost: LeaseError | undefined;
      if (backend.observe) {
        try {
          for await (const term of backend.observe(name, {
            signal,
            requestTimeoutMs: s.timeoutMs,
            checkIntervalMs: s.checkMs,
          })) {
            const entered = enter("watch", `following the ${backend.kind} watch`);
            if (entered) yield entered;
            const change = changed(term.leader, term.revision);
            if (change) yield change;
          }
        } catch (error) {
          if (!isLeaseError(error) && !signal.aborted) throw error;
          lost = error as LeaseError;
        }
        if (signal.aborted) return;
      }
      const reason = lost
        ? `the ${backend.kind} watch was lost (${lost.message}); polling every ${s.pollMs} ms`
        : backend.observe
          ? `the ${backend.kind} watch ended; polling every ${s.pollMs} ms`
          : `${backend.kind} has no watch; polling every ${s.pollMs} ms`;
      const entered = enter("poll", reason, lost);
      if (entered) yield entered;
      else if (lost) yield { type: "error", mode: "poll", error: lost };
      yield* poll(backend, name, s, signal, changed);
    }
  } finally {
    stop.abort();
  }
}

/** Polls until it is time to try the watch again (never, for a backend without one) or `signal` aborts. */
async function* poll(
  backend: Backend,
  name: string,
  s: Settings,
  signal: AbortSignal,
  changed: (leader: LeaderInfo | null, revision: null) => LeaderChange | null,
): AsyncGenerator<ObserveEvent> {
  const until = backend.observe ? s.clock.now() + s.retryMs : Number.POSITIVE_INFINITY;
  while (!signal.aborted) {
    try {
      const leader = await withDeadline(s.timeoutMs, signal, (deadline) =>
        backend.leader(name, { signal: deadline, timeoutMs: s.timeoutMs }),
      );
      const change = changed(leader, null);
      if (change) yield change;
    } catch (error) {
      if (signal.aborted) return;
      if (!isLeaseError(error)) throw error;
      yield { type: "error", mode: "poll", error };
    }
    await s.clock.sleep(s.pollMs, signal).catch(() => undefined);
    if (s.clock.now() >= until) return;
  }
}
