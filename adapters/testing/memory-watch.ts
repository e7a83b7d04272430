/**
 * The memory backend's watches, as on etcd: `watchTerm` follows one lease name's term (every write or end of it,
 * expiry included), `waitGone` waits for one lease to go (or to hold nothing of the lease name any more). Both wake on the store's change notices and on the
 * injected clock reaching a lease's deadline, so that a fake clock drives expiry without real waiting.
 */
import type { Clock, ObservedTerm } from "../../src/backend-kit.ts";

/** What the watches read from the store. */
export interface WatchSource {
  clock: Clock;
  /** Expires the leases whose deadline the clock has passed. */
  sweep(): void;
  /** Calls `notice` with the name of every term or candidate written or ended; returns its unsubscribe. */
  subscribe(notice: (name: string) => void): () => void;
  /** When lease `leaseId` expires (epoch ms on the clock), or undefined when the store no longer has it. */
  expiresAt(leaseId: string): number | undefined;
  /** True while lease `leaseId` holds `name`'s term, a queued candidate of it or its transfer record. */
  live(name: string, leaseId: string): boolean;
  /** The term of `name` as `leader()` reports it, at the store's current revision. */
  reading(name: string): ObservedTerm;
}

/** Resolves on the next change notice for `name`, at `deadline` on the clock (when given), or when `signal` aborts. */
async function nextChange(
  source: WatchSource,
  name: string,
  deadline: number | undefined,
  signal: AbortSignal,
) {
  const waiting = new AbortController();
  const until = AbortSignal.any([signal, waiting.signal]);
  let unsubscribe: (() => void) | undefined;
  await new Promise<void>((resolve) => {
    unsubscribe = source.subscribe((changed) => {
      if (changed === name) resolve();
    });
    until.addEventListener("abort", () => resolve(), { once: true });
    // A renewal meanwhile moves the deadline: the caller then waits for the new one.
    if (deadline !== undefined)
      source.clock.sleep(deadline - source.clock.now(), until).then(resolve, resolve);
  });
  waiting.abort();
  unsubscribe?.();
}

/** The term of `name` at the start, then after every write or end of it, each at its revision, none missed. */
export async function* watchTerm(source: WatchSource, name: string, signal: AbortSignal) {
  const seen: ObservedTerm[] = [];
  let wake: (() => void) | undefined;
  const unsubscribe = source.subscribe((changed) => {
    if (changed !== name) return;
    seen.push(source.reading(name));
    wake?.();
  });
  try {
    source.sweep();
    yield source.reading(name);
    while (!signal.aborted) {
      const next = seen.shift();
      if (next) {
        yield next;
        continue;
      }
      const leaseId = source.reading(name).leader?.leaseId;
      const deadline = leaseId === undefined ? undefined : source.expiresAt(leaseId);
      const waiting = new AbortController();
      const until = AbortSignal.any([signal, waiting.signal]);
      await new Promise<void>((resolve) => {
        wake = resolve;
        until.addEventListener("abort", () => resolve(), { once: true });
        if (deadline !== undefined) {
          // Expiry ends the term: the sweep's notice reports it. A renewal meanwhile moves the deadline.
          source.clock.sleep(deadline - source.clock.now(), until).then(() => {
            source.sweep();
            resolve();
          }, resolve);
        }
      });
      wake = undefined;
      waiting.abort();
    }
  } finally {
    unsubscribe();
  }
}

/** Resolves once lease `leaseId` is gone (revoked or expired on the clock); rejects when `signal` aborts. */
export async function waitGone(source: WatchSource, name: string, leaseId: string, signal: AbortSignal) {
  for (;;) {
    source.sweep();
    signal.throwIfAborted();
    const deadline = source.expiresAt(leaseId);
    if (deadline === undefined || !source.live(name, leaseId)) return;
    await nextChange(source, name, deadline, signal);
  }
}
