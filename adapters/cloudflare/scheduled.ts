/**
 * `leaderOnlyScheduled`: wraps a Worker's `scheduled` handler so that it runs only on the lease holder, with the
 * lease renewed while it runs.
 */
import {
  createLease,
  InvalidArgumentError,
  keepTerm,
  type Lease,
  type LeaseState,
} from "../../src/backend-kit.ts";
import { type LeaderOnlyScheduledOptions, resolveScheduledOptions } from "./options.ts";
import type { ExecutionContextLike, ScheduledControllerLike } from "./workers.ts";

/** What the wrapped handler receives as its fourth argument. */
export interface LeaderRun {
  /** This invocation's handle: use `lease.doIfLeader(...)` for writes that must only land while it leads. */
  lease: Lease;
  /** The state the claim returned: `isLeader` is true, `token` is this term's fencing token. */
  state: LeaseState;
  /**
   * Aborts when the lease is lost while the handler runs (a renewal found it gone, or failed until the term's
   * `validUntil` passed); the reason is the renewal's error. Long work should stop when it fires.
   */
  signal: AbortSignal;
}

/** A `scheduled` handler that receives the {@link LeaderRun} as a fourth argument. */
export type LeaderScheduledHandler<Env> = (
  controller: ScheduledControllerLike,
  env: Env,
  ctx: ExecutionContextLike,
  run: LeaderRun,
) => unknown;

/**
 * Wraps a Worker's `scheduled(controller, env, ctx)` handler. On each invocation it:
 *
 * 1. creates a handle with the backend built from `env` (default `etcdFromEnv(env)`) and claims the lease: it
 *    takes a free lease, or resumes this holder's parked term;
 * 2. if the claim does not lead, calls `onNotLeader` (if given) instead of `handler` and resolves: another
 *    holder has the lease, or this holder's own term is busy with another invocation (`state.busy`, a
 *    duplicated delivery), which therefore never runs the handler twice at once;
 * 3. otherwise calls `handler`, renewing the lease every `renewIntervalMs` (default TTL/3) until it settles,
 *    and aborts `run.signal` if the lease is lost meanwhile;
 * 4. then hands the term on per `afterRun` (also when `handler` threw): `"park"` (default) and `"release"`
 *    send one request through `ctx.waitUntil`, `"hold"` sends nothing.
 *
 * The returned promise rejects, and `handler` does not run, when the claim fails (`LeaseTimeoutError`,
 * `TransportError`, `HttpStatusError`, `MalformedResponseError`, `AuthError`, or `InvalidArgumentError` for bad
 * bindings); it rejects with `handler`'s error when `handler` throws. A failed park or release rejects the
 * promise passed to `ctx.waitUntil` (the runtime logs it); the term then ends by its TTL.
 * @throws {InvalidArgumentError} at creation, naming the bad option.
 */
export function leaderOnlyScheduled<Env>(
  options: LeaderOnlyScheduledOptions<Env>,
  handler: LeaderScheduledHandler<Env>,
): (controller: ScheduledControllerLike, env: Env, ctx: ExecutionContextLike) => Promise<void> {
  const opts = resolveScheduledOptions(options);
  if (typeof handler !== "function") throw new InvalidArgumentError("handler", "must be a function");
  return async (controller, env, ctx) => {
    const lease = createLease({
      ...opts.lease,
      backend: opts.backend(env),
      holder: opts.holder(controller, env),
    });
    const state = await lease.claim();
    if (!state.isLeader) {
      opts.onNotLeader?.(state, controller, env);
      return;
    }
    const stop = new AbortController();
    const lost = new AbortController();
    const renewing = keepTerm(
      lease,
      opts.renewIntervalMs ?? Math.floor(lease.ttlMs / 3),
      opts.clock,
      stop.signal,
    ).then((end) => {
      if (end.reason !== "stopped") lost.abort(end.error);
    });
    try {
      await handler(controller, env, ctx, { lease, state, signal: lost.signal });
    } finally {
      stop.abort();
      await renewing;
      if (opts.afterRun === "park") ctx.waitUntil(lease.park());
      else if (opts.afterRun === "release") ctx.waitUntil(lease.release());
    }
  };
}
