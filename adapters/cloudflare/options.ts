/** Options of `leaderOnlyScheduled`, validated once when the wrapper is created. */
import {
  type Backend,
  type Clock,
  InvalidArgumentError,
  type LeaseOptions,
  type LeaseState,
  systemClock,
  validateHolder,
  validateLeaseOptions,
  validateName,
} from "../../src/backend-kit.ts";
import { type EnvSource, ETCD_CAPABILITIES, etcdFromEnv } from "../etcd/index.ts";
import type { ScheduledControllerLike } from "./workers.ts";

/**
 * How an invocation hands its term on when the handler has finished (or thrown):
 * - `"park"`: ONE guarded write marks the term parked; the next invocation with the same `holder` resumes it
 *   with its claim (same term and fencing token, no gap). Other holders still find it held until it expires,
 *   one TTL after its last renewal.
 * - `"release"`: the term ends at once (etcd: one lease revoke); the next claimant of any holder takes it.
 * - `"hold"`: nothing is sent; the term stays busy until its lease expires (one TTL after its last renewal),
 *   so that no invocation, not even one with the same holder, runs again before then.
 */
export type AfterRun = "park" | "release" | "hold";

const AFTER_RUN: readonly AfterRun[] = ["park", "release", "hold"];

/**
 * Options of {@link leaderOnlyScheduled}. The lease options (`ttlMs`, `value`, `driftMarginMs`,
 * `requestTimeoutMs`, `allowNonAtomicGuard`, `clock`) are those of `createLease`.
 */
export interface LeaderOnlyScheduledOptions<Env> extends Omit<LeaseOptions, "backend" | "holder"> {
  /**
   * Builds the store from the Worker's bindings. Default: `etcdFromEnv(env)` from `leasehold/etcd`, which reads
   * `LEASEHOLD_ETCD_ENDPOINTS` (else `ETCDCTL_ENDPOINTS`) and `LEASEHOLD_ETCD_PREFIX`.
   */
  backend?: (env: Env) => Backend;
  /**
   * This invocation's identity. Default: a new random identity per invocation, so that concurrent invocations
   * (several Workers on one cron, or a retried event) compete and exactly one of them runs the handler.
   */
  holder?: string | ((controller: ScheduledControllerLike, env: Env) => string);
  /**
   * How the term is handed on after the handler, through `ctx.waitUntil`, also when the handler threw (see
   * {@link AfterRun}). Default `"park"`: with a stable `holder`, the next invocation of that holder resumes the
   * term; a late duplicate of the same tick from that holder then runs again, which `"hold"` prevents (keep
   * the TTL below the cron interval with `"hold"`, or the next tick finds the term still busy). With the default
   * random holder nobody resumes a parked term: it blocks every invocation until it expires, like `"hold"`.
   * The old value `"keep"` is refused: it is now `"hold"`.
   */
  afterRun?: AfterRun;
  /** How often the lease is renewed while the handler runs, in ms. Default: a third of the TTL. Below the TTL. */
  renewIntervalMs?: number;
  /**
   * Called instead of the handler when the claim did not lead, with its state (`holder`, `token`, `ttlMs` of
   * the current term), e.g. for logging: another holder has the lease, or `state.busy` is true: this holder's
   * own term is held by another invocation (a duplicated or overlapping delivery).
   */
  onNotLeader?: (state: LeaseState, controller: ScheduledControllerLike, env: Env) => void;
}

export interface ResolvedScheduledOptions<Env> {
  backend: (env: Env) => Backend;
  holder: (controller: ScheduledControllerLike, env: Env) => string;
  lease: Omit<LeaseOptions, "backend" | "holder">;
  afterRun: AfterRun;
  renewIntervalMs: number | undefined;
  onNotLeader: ((state: LeaseState, controller: ScheduledControllerLike, env: Env) => void) | undefined;
  clock: Clock;
}

const randomHolder = () => `cron-${crypto.randomUUID()}`;

/**
 * Checks every option. With the default etcd backend the store's rules are known (`ETCD_CAPABILITIES`), so
 * `createLease`'s rules that depend on the store are checked at creation too, with `validateLeaseOptions`.
 * @throws {InvalidArgumentError} naming the option and the rule.
 */
export function resolveScheduledOptions<Env>(
  options: LeaderOnlyScheduledOptions<Env>,
): ResolvedScheduledOptions<Env> {
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError("options", "must be an object");
  }
  const { backend, holder, afterRun = "park", renewIntervalMs, onNotLeader, ...lease } = options;
  validateName(lease.name);
  if (backend !== undefined && typeof backend !== "function") {
    throw new InvalidArgumentError("backend", "must be a function of the Worker's env returning a Backend");
  }
  if (holder !== undefined && typeof holder !== "function") validateHolder(holder);
  if ((afterRun as string) === "keep") {
    throw new InvalidArgumentError(
      "afterRun",
      '"keep" is now "hold" (the term stays busy until its lease expires); or use "park" or "release"',
    );
  }
  if (!AFTER_RUN.includes(afterRun)) {
    throw new InvalidArgumentError("afterRun", 'must be "park", "release" or "hold"');
  }
  if (typeof lease.ttlMs !== "number" || !Number.isFinite(lease.ttlMs) || lease.ttlMs <= 0) {
    throw new InvalidArgumentError("ttlMs", "must be a positive finite number of milliseconds");
  }
  if (
    renewIntervalMs !== undefined &&
    (typeof renewIntervalMs !== "number" || !(renewIntervalMs > 0) || renewIntervalMs >= lease.ttlMs)
  ) {
    throw new InvalidArgumentError("renewIntervalMs", "must be a number of ms above 0 and below ttlMs");
  }
  if (onNotLeader !== undefined && typeof onNotLeader !== "function") {
    throw new InvalidArgumentError("onNotLeader", "must be a function");
  }
  if (backend === undefined) {
    validateLeaseOptions(
      { ...lease, ...(typeof holder === "string" ? { holder } : {}) },
      ETCD_CAPABILITIES,
      "etcd",
    );
  }
  return {
    backend: backend ?? ((env) => etcdFromEnv(env as EnvSource)),
    holder: holder === undefined ? randomHolder : typeof holder === "function" ? holder : () => holder,
    lease,
    afterRun,
    renewIntervalMs,
    onNotLeader,
    clock: lease.clock ?? systemClock,
  };
}
