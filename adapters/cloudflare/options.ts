/** Options of `leaderOnlyScheduled`, validated once when the wrapper is created. */
import {
  type Backend,
  type Clock,
  createLease,
  InvalidArgumentError,
  type LeaseOptions,
  type LeaseState,
  systemClock,
  validateHolder,
  validateName,
} from "../../src/index.ts";
import { type EnvSource, etcd, etcdFromEnv } from "../etcd/index.ts";
import type { ScheduledControllerLike } from "./workers.ts";

/** What happens to the lease when the handler has finished (or thrown). */
export type AfterRun = "keep" | "release";

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
   * `"keep"` (default): the lease stays held after the handler until its TTL passes, so that an invocation
   * arriving later for the same cron tick does not run the work again; keep the TTL below the cron interval.
   * `"release"`: the lease is revoked after the handler, through `ctx.waitUntil`, so the next claimant can take it
   * at once.
   */
  afterRun?: AfterRun;
  /** How often the lease is renewed while the handler runs, in ms. Default: a third of the TTL. Below the TTL. */
  renewIntervalMs?: number;
  /**
   * Called instead of the handler when another holder has the lease, with the claim's state (`holder`, `token`,
   * `ttlMs` of the current term), e.g. for logging.
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
 * Checks every option. With the default etcd backend the store's rules are known, so a lease handle is created
 * once here on a placeholder endpoint (no request is sent) to check `createLease`'s rules at creation too.
 * @throws {InvalidArgumentError} naming the option and the rule.
 */
export function resolveScheduledOptions<Env>(
  options: LeaderOnlyScheduledOptions<Env>,
): ResolvedScheduledOptions<Env> {
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError("options", "must be an object");
  }
  const { backend, holder, afterRun = "keep", renewIntervalMs, onNotLeader, ...lease } = options;
  validateName(lease.name);
  if (backend !== undefined && typeof backend !== "function") {
    throw new InvalidArgumentError("backend", "must be a function of the Worker's env returning a Backend");
  }
  if (holder !== undefined && typeof holder !== "function") validateHolder(holder);
  if (afterRun !== "keep" && afterRun !== "release") {
    throw new InvalidArgumentError("afterRun", 'must be "keep" or "release"');
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
    createLease({
      ...lease,
      backend: etcd({ endpoints: ["http://validation.invalid"] }),
      holder: "validation",
    });
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
