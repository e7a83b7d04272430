/** Validation of `createLease` options: every rule is checked once, at creation, before anything is sent. */
import type { Backend } from "./backend.ts";
import { type Clock, systemClock } from "./clock.ts";
import { InvalidArgumentError } from "./errors.ts";
import { validateHolder, validateName } from "./names.ts";

export interface LeaseOptions {
  /** The store: `etcd(...)`, `zookeeper(...)`, or `memoryBackend(...)` in tests. */
  backend: Backend;
  /** Lease name, e.g. `jobs/nightly-report`; see `validateName` for the rules. */
  name: string;
  /** This participant's identity: stable across invocations (to resume its own term), or random per run. */
  holder: string;
  /**
   * Lease TTL in milliseconds. Rounded UP to the store's granularity (whole seconds for etcd and ZooKeeper);
   * must be at least the store's minimum (etcd: 2000 ms).
   */
  ttlMs: number;
  /** Optional metadata published with a successful claim (e.g. this instance's URL), at most 4096 characters. */
  value?: string;
  /**
   * Safety margin in ms subtracted from every validity window to absorb clock-rate drift between this machine
   * and the store. Default: 1% of the TTL, at least 100 ms. Must be below half the TTL.
   */
  driftMarginMs?: number;
  /**
   * Deadline in ms for each call (claim, renew, release, leader, doIfLeader), covering all its round trips.
   * Default: a third of the TTL, between 500 ms and 10 000 ms. Must not exceed the TTL.
   */
  requestTimeoutMs?: number;
  /**
   * Allows `doIfLeader` on a backend whose guard is not atomic (`capabilities.atomicGuard === false`): the
   * leadership check and the write are then separate requests, and a write can land after the lease moved.
   * Default false: such a backend's `doIfLeader` throws `UnsupportedError`.
   */
  allowNonAtomicGuard?: boolean;
  /** Time source; defaults to the system clock. Tests pass `fakeClock()` from `leasehold/testing`. */
  clock?: Clock;
}

export interface ResolvedOptions {
  backend: Backend;
  name: string;
  holder: string;
  ttlMs: number;
  value: string | undefined;
  driftMarginMs: number;
  requestTimeoutMs: number;
  allowNonAtomicGuard: boolean;
  clock: Clock;
}

export const MAX_VALUE_LENGTH = 4096;

function positiveNumber(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(field, "must be a positive finite number of milliseconds");
  }
  return value;
}

/** @throws {InvalidArgumentError} naming the first option that breaks a rule. */
export function resolveOptions(options: LeaseOptions): ResolvedOptions {
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError("options", "must be an object");
  }
  const { backend } = options;
  if (typeof backend !== "object" || backend === null || typeof backend.claim !== "function") {
    throw new InvalidArgumentError("backend", "must be a Backend, e.g. etcd({ endpoints: [...] })");
  }
  const caps = backend.capabilities;
  const name = validateName(options.name);
  const holder = validateHolder(options.holder);

  const requested = positiveNumber(options.ttlMs, "ttlMs");
  const ttlMs = Math.ceil(requested / caps.ttlGranularityMs) * caps.ttlGranularityMs;
  if (ttlMs < caps.minTtlMs) {
    throw new InvalidArgumentError("ttlMs", `must be at least ${caps.minTtlMs} ms on ${backend.kind}`);
  }
  if (ttlMs > caps.maxTtlMs) {
    throw new InvalidArgumentError("ttlMs", `must be at most ${caps.maxTtlMs} ms on ${backend.kind}`);
  }

  const value = options.value;
  if (value !== undefined && (typeof value !== "string" || value.length > MAX_VALUE_LENGTH)) {
    throw new InvalidArgumentError("value", `must be a string of at most ${MAX_VALUE_LENGTH} characters`);
  }

  const driftMarginMs = options.driftMarginMs ?? Math.max(100, Math.ceil(ttlMs / 100));
  if (typeof driftMarginMs !== "number" || !(driftMarginMs >= 0) || driftMarginMs >= ttlMs / 2) {
    throw new InvalidArgumentError(
      "driftMarginMs",
      "must be a number of ms, at least 0 and below half of ttlMs",
    );
  }

  const requestTimeoutMs =
    options.requestTimeoutMs === undefined
      ? Math.min(10_000, Math.max(500, Math.floor(ttlMs / 3)))
      : positiveNumber(options.requestTimeoutMs, "requestTimeoutMs");
  if (requestTimeoutMs > ttlMs) {
    throw new InvalidArgumentError(
      "requestTimeoutMs",
      "must not exceed ttlMs (a request must not outlive the lease)",
    );
  }

  const allowNonAtomicGuard = options.allowNonAtomicGuard ?? false;
  if (typeof allowNonAtomicGuard !== "boolean") {
    throw new InvalidArgumentError("allowNonAtomicGuard", "must be a boolean");
  }
  const clock = options.clock ?? systemClock;
  if (typeof clock.now !== "function" || typeof clock.sleep !== "function") {
    throw new InvalidArgumentError("clock", "must have now() and sleep(ms)");
  }
  return { backend, name, holder, ttlMs, value, driftMarginMs, requestTimeoutMs, allowNonAtomicGuard, clock };
}
