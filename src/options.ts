/** Validation of `createLease` options: every rule is checked once, at creation, before anything is sent. */
import type { Backend, BackendCapabilities } from "./backend.ts";
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
   * and the store. Default: 1% of the TTL, at least 100 ms. At most half the TTL.
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

/** A number of ms from `min` to `max` inclusive, else an error stating `rule`. */
function ms(value: unknown, field: string, min: number, max: number, rule: string): number {
  if (typeof value !== "number" || !(value >= min && value <= max))
    throw new InvalidArgumentError(field, rule);
  return value;
}

/** @throws {InvalidArgumentError} naming the first option that breaks a rule. */
export function resolveOptions(options: LeaseOptions): ResolvedOptions {
  const backend = options?.backend;
  if (typeof backend?.claim !== "function") {
    throw new InvalidArgumentError("backend", "must be a Backend such as etcd(...)");
  }
  const name = validateName(options.name);
  const holder = validateHolder(options.holder);
  return { ...resolveLeaseRules(options, backend.capabilities, backend.kind), backend, name, holder };
}

/** The lease options that helpers taking `name` and `holder` per call (or per request) check up front. */
export type LeaseRuleOptions = Omit<LeaseOptions, "backend" | "name" | "holder"> &
  Partial<Pick<LeaseOptions, "name" | "holder">>;

/**
 * Checks lease options against a store's capabilities without a backend instance, as `createLease` does: for
 * helpers (Hono middleware, Workers `scheduled`) that create their leases later, per request or invocation.
 * `name` and `holder` are checked when given. `kind` names the store in messages (e.g. "etcd").
 * @throws {InvalidArgumentError} naming the first option that breaks a rule.
 */
export function validateLeaseOptions(
  options: LeaseRuleOptions,
  capabilities: BackendCapabilities,
  kind = "this store",
): void {
  if (options?.name !== undefined) validateName(options.name);
  if (options?.holder !== undefined) validateHolder(options.holder);
  resolveLeaseRules(options, capabilities, kind);
}

function resolveLeaseRules(
  options: LeaseRuleOptions,
  capabilities: BackendCapabilities,
  kind: string,
): Omit<ResolvedOptions, "backend" | "name" | "holder"> {
  const { value, allowNonAtomicGuard = false, clock = systemClock } = options ?? {};
  const { minTtlMs, maxTtlMs, ttlGranularityMs } = capabilities;

  const requested = ms(
    options.ttlMs,
    "ttlMs",
    Number.MIN_VALUE,
    Number.MAX_VALUE,
    "must be a positive number of ms",
  );
  const ttlMs = ms(
    Math.ceil(requested / ttlGranularityMs) * ttlGranularityMs,
    "ttlMs",
    minTtlMs,
    maxTtlMs,
    `must be from ${minTtlMs} to ${maxTtlMs} ms on ${kind}`,
  );
  if (value !== undefined && (typeof value !== "string" || value.length > MAX_VALUE_LENGTH)) {
    throw new InvalidArgumentError("value", `must be a string of at most ${MAX_VALUE_LENGTH} characters`);
  }
  const driftMarginMs = ms(
    options.driftMarginMs ?? Math.max(100, Math.ceil(ttlMs / 100)),
    "driftMarginMs",
    0,
    ttlMs / 2,
    "must be a number of ms from 0 to half of ttlMs",
  );
  const requestTimeoutMs = ms(
    options.requestTimeoutMs ?? Math.min(10_000, Math.max(500, Math.floor(ttlMs / 3))),
    "requestTimeoutMs",
    Number.MIN_VALUE,
    ttlMs,
    "must be a positive number of ms, at most ttlMs",
  );
  if (typeof allowNonAtomicGuard !== "boolean") {
    throw new InvalidArgumentError("allowNonAtomicGuard", "must be a boolean");
  }
  if (typeof clock?.now !== "function" || typeof clock.sleep !== "function") {
    throw new InvalidArgumentError("clock", "must have now() and sleep(ms)");
  }
  return { ttlMs, value, driftMarginMs, requestTimeoutMs, allowNonAtomicGuard, clock };
}
