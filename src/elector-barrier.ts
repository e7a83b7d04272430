/**
 * The handover barrier of the elector (`ElectorOptions.barrier`, `lockDelayMs`): what a new leader waits for
 * before its `onElected`, decided from the terms its observation saw (`TermHistory`) and, for `lease-gone`, the
 * store's word that the previous term's lease is gone (`Backend.ttlLeft`).
 */
import type { Backend, LeaderInfo } from "./backend.ts";
import type { Clock } from "./clock.ts";
import { deadlineSignal } from "./http.ts";

/**
 * - `clean`: wait until the previous leader's `onDemoted` has returned: a leasehold elector with this barrier
 *   parks its term before releasing it (and parks on `stop()` anyway), so a previous term seen parked when it
 *   ended ended cleanly. A previous term that ended busy (a crash, a lost or expired term) is waited for as
 *   with `lease-gone`, then `lockDelayMs`.
 * - `lease-gone`: wait until the previous term's store lease is provably gone (`Backend.ttlLeft` says the store
 *   no longer has it; without `ttlLeft`, the previous term's TTL from when its end was seen).
 * - `false`: no wait (but `lockDelayMs` still applies after a term that ended busy).
 */
export type Barrier = "clean" | "lease-gone" | false;

/** A term the observation saw end: `clean` when its last state seen was parked; `endedAt` local epoch ms. */
export interface SeenEnd {
  term: LeaderInfo;
  clean: boolean;
  endedAt: number;
}

/** The terms one elector saw, from its observation: the current one and the last few that ended. */
export class TermHistory {
  readonly #clock: Clock;
  #current: LeaderInfo | null = null;
  #ends: SeenEnd[] = [];
  #changed: (() => void)[] = [];

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  see(leader: LeaderInfo | null): void {
    const current = this.#current;
    if (current && leader?.token !== current.token) {
      this.#ends = [
        ...this.#ends.slice(-7),
        { term: current, clean: current.parked, endedAt: this.#clock.now() },
      ];
    }
    this.#current = leader;
    for (const wake of this.#changed.splice(0)) wake();
  }

  /** The term seen last, or null when the lease was seen free. */
  get current(): LeaderInfo | null {
    return this.#current;
  }

  /** True while the current term seen is older than `token` (the observation has not seen it end yet). */
  behind(token: bigint): boolean {
    return this.#current !== null && this.#current.token < token;
  }

  /** The last term seen to end before the term `token` began. */
  endBefore(token: bigint): SeenEnd | undefined {
    return this.#ends.findLast((end) => end.term.token < token);
  }

  /** Resolves at the next `see()`, or after `ms`. */
  next(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#changed.push(resolve);
      this.#clock.sleep(ms, signal).then(resolve, resolve);
    });
  }
}

export interface BarrierRun {
  barrier: Barrier;
  lockDelayMs: number;
  history: TermHistory;
  backend: Backend;
  clock: Clock;
  /** The new term's token. */
  token: bigint;
  /** How long the observation may lag behind the store (a watch delivery, or a poll interval), in ms. */
  graceMs: number;
  /** TTL assumed for a previous term that did not publish one, in ms. */
  ttlMs: number;
  requestTimeoutMs: number;
  signal: AbortSignal;
  onError(error: unknown): void;
}

/** Resolves once the new term may start its work; rejects with `signal.reason` when the term ends first. */
export async function awaitBarrier(run: BarrierRun): Promise<void> {
  const { history, clock, token, signal } = run;
  if (!run.barrier && run.lockDelayMs === 0) return;
  const until = clock.now() + run.graceMs;
  while (history.behind(token) && clock.now() < until) await history.next(until - clock.now(), signal);
  signal.throwIfAborted();
  // The store says this term leads: an observation still behind it never saw how the last term ended.
  const stale = history.behind(token) ? history.current : null;
  const end = stale ? { term: stale, clean: stale.parked, endedAt: clock.now() } : history.endBefore(token);
  if (!end) return;
  if (run.barrier === "clean" && end.clean) return;
  if (run.barrier) await leaseGone(run, end);
  if (!end.clean) await clock.sleep(end.endedAt + run.lockDelayMs - clock.now(), signal);
}

async function leaseGone(run: BarrierRun, end: SeenEnd): Promise<void> {
  const { backend, clock, signal } = run;
  const ttlMs = end.term.ttlMs ?? run.ttlMs;
  if (!backend.ttlLeft) return clock.sleep(end.endedAt + ttlMs - clock.now(), signal);
  const pollMs = Math.min(1000, Math.max(50, Math.floor(ttlMs / 10)));
  for (;;) {
    try {
      const ctx = { signal: deadlineSignal(run.requestTimeoutMs, signal), timeoutMs: run.requestTimeoutMs };
      const left = await backend.ttlLeft(end.term.leaseId, ctx);
      if (left === null) return;
      await clock.sleep(Math.min(left, pollMs), signal);
    } catch (error) {
      signal.throwIfAborted();
      run.onError(error);
      await clock.sleep(pollMs, signal);
    }
  }
}
