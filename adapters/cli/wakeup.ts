/**
 * What wakes `run --wait` between two claims: `observe()` of the lease (a watch, or polling), which wakes it
 * on a change that makes a claim worth trying: the lease free, or this holder's own term parked. A change that
 * comes while a claim is in flight is kept, so that the next wait ends at once: that claim may have read the
 * store before the change.
 */
import { type LeaderInfo, type Lease, type ObserveMode, observe } from "../../src/backend-kit.ts";

/** True when a claim by `holder` could win against `leader`: nobody holds the lease, or its own term is parked. */
function claimable(leader: LeaderInfo | null, holder: string): boolean {
  return leader === null || (leader.parked && leader.holder === holder);
}

export interface WakeupOptions {
  /** Interval of `observe()`'s `leader()` reads while it polls, in ms (an integer from 10 up). */
  pollIntervalMs: number;
  /** Hears every mode `observe()` enters, with its reason in words. */
  onMode(mode: ObserveMode, reason: string): void;
}

/** Follows `lease` with `observe()` until `signal` aborts; {@link Wakeup.wait} sleeps until a change is worth a claim. */
export class Wakeup {
  #pending = false;
  #wake: (() => void) | undefined;
  #failure: unknown;
  readonly #signal: AbortSignal;
  readonly #following: Promise<void>;

  constructor(lease: Lease, signal: AbortSignal, options: WakeupOptions) {
    this.#signal = signal;
    this.#following = this.#follow(lease, options).catch((error: unknown) => {
      this.#failure = error;
      this.#fire();
    });
  }

  async #follow(lease: Lease, { pollIntervalMs, onMode }: WakeupOptions): Promise<void> {
    for await (const event of observe(lease, { signal: this.#signal, pollIntervalMs })) {
      if (event.type === "mode") onMode(event.mode, event.reason);
      else if (event.type === "change" && claimable(event.leader, lease.holder)) this.#fire();
    }
  }

  #fire(): void {
    this.#pending = true;
    this.#wake?.();
  }

  /**
   * Resolves after `ms` ms, on a change worth a claim (at once if one came since the last wait), or when the
   * signal aborts.
   * @throws the error that ended the observation when it was not a leasehold error (a bug, not a store failure).
   */
  async wait(ms: number): Promise<void> {
    if (!this.#pending && !this.#signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#signal.removeEventListener("abort", done);
          this.#wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        this.#signal.addEventListener("abort", done);
        this.#wake = done;
      });
    }
    this.#pending = false;
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Resolves once the observation has ended (after the signal aborted). */
  closed(): Promise<void> {
    return this.#following;
  }
}
