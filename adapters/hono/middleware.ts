/**
 * `leaseMiddleware` and `requireLeader`: claim (or resume) a lease for a route on each request, and expose it to
 * the handler on the typed context.
 */
import type { MiddlewareHandler } from "hono";
import { createLease, isLeaseError, type Lease, type LeaseState } from "../../src/backend-kit.ts";
import {
  type LeaseRouteOptions,
  type ResolvedRouteOptions,
  type RouteContext,
  resolveRouteOptions,
} from "./options.ts";
import { leaseErrorResponse, notLeaderResponse } from "./responses.ts";

/** What the middleware sets on the context: `c.var.lease` and `c.var.leaseHandle`. */
export interface LeaseVariables {
  /** The lease state after this request's claim: `isLeader`, `holder`, `token` (bigint), `validUntil` (epoch ms). */
  lease: LeaseState;
  /** This request's handle: `doIfLeader`, `renew`, `park` and `release` act on the term the claim took. */
  leaseHandle: Lease;
}

/** The Hono `Env` the middleware adds to a route: {@link LeaseVariables} on `c.var`. */
export type LeaseEnv = { Variables: LeaseVariables };

type Outcome = { ok: true; handle: Lease; state: LeaseState } | { ok: false; response: Response };

/** `ttlLeft`: whether a claim that finds the lease held also reads the store's figure of its time left. */
async function claimForRequest<B extends object>(
  opts: ResolvedRouteOptions<B>,
  c: RouteContext<B>,
  ttlLeft: boolean,
): Promise<Outcome> {
  try {
    const handle = createLease({
      ...opts.lease,
      backend: opts.backend(c),
      name: opts.name(c),
      holder: opts.holder(c),
    });
    return { ok: true, handle, state: await handle.claim({ ttlLeft }) };
  } catch (error) {
    if (!isLeaseError(error)) throw error;
    opts.onError?.(error, c);
    return { ok: false, response: leaseErrorResponse(c, error) };
  }
}

/**
 * Hands the term on after the response, per `afterResponse`: through `waitUntil` where the runtime has one,
 * else before returning. A failure goes to `onError`: the response is already made, and the term then ends by
 * its TTL.
 */
async function handOff<B extends object>(opts: ResolvedRouteOptions<B>, c: RouteContext<B>, handle: Lease) {
  if (opts.afterResponse === "hold") return;
  const sent = (opts.afterResponse === "park" ? handle.park() : handle.release()).catch((error: unknown) => {
    if (!isLeaseError(error)) throw error;
    opts.onError?.(error, c);
  });
  let ctx: { waitUntil(promise: Promise<unknown>): void } | undefined;
  try {
    ctx = c.executionCtx;
  } catch {
    // Hono throws when the runtime passed no ExecutionContext (Node, Deno, Bun).
    ctx = undefined;
  }
  if (ctx) ctx.waitUntil(sent);
  else await sent;
}

function routeMiddleware<B extends object>(
  options: LeaseRouteOptions<B>,
  guard: boolean,
): MiddlewareHandler<LeaseEnv> {
  const opts = resolveRouteOptions(options);
  return async (c, next) => {
    // The app's bindings are B: the caller says so by the type argument.
    const route = c as unknown as RouteContext<B>;
    const outcome = await claimForRequest(opts, route, guard);
    if (!outcome.ok) return outcome.response;
    const { handle, state } = outcome;
    if (guard && !state.isLeader) return notLeaderResponse(c, state, handle.ttlMs);
    c.set("lease", state);
    c.set("leaseHandle", handle);
    await next();
    // By the claim, not the state now: a term that ran past validUntil in the handler is still handed on.
    if (state.isLeader) await handOff(opts, route, handle);
  };
}

/**
 * Claims the lease on every request and sets `c.var.lease` (the `LeaseState`) and `c.var.leaseHandle` (for
 * `doIfLeader`); the handler runs whether or not this request leads. One claim per request: on etcd 1 round
 * trip to learn that the lease is held (by another holder, or busy with another request of this holder), 2 to
 * take a free lease or resume this holder's parked term. After the handler, a request that led hands its term
 * on per `afterResponse` (default `"park"`: one more round trip).
 *
 * Claim failures never reach the handler and never count as leadership: they answer a JSON
 * {@link LeaseErrorBody} (503 + `Retry-After` for retryable ones, 502 for store errors, 500 for bad
 * configuration, see `leaseErrorStatus`).
 *
 * `B` types `c.env` in the option callbacks (default: unknown values by name).
 * @throws {InvalidArgumentError} at creation, naming the bad option.
 */
export function leaseMiddleware<B extends object = Record<string, unknown>>(
  options: LeaseRouteOptions<B>,
): MiddlewareHandler<LeaseEnv> {
  return routeMiddleware(options, false);
}

/**
 * Like {@link leaseMiddleware}, but lets the request through only when it leads. Otherwise it answers 503 with
 * `Retry-After` (whole seconds, rounded up, of `LeaseState.ttlLeftMs`: the claim also reads the store's figure
 * of the time the holder's lease has left, `claim({ ttlLeft: true })`, one more round trip on etcd, and the
 * holder's TTL bounds it; this route's TTL when neither is known) and a JSON {@link NotLeaderBody} naming the
 * holder and its fencing token, with `busy: true` when the term is this holder's own, held by another request.
 * @throws {InvalidArgumentError} at creation, naming the bad option.
 */
export function requireLeader<B extends object = Record<string, unknown>>(
  options: LeaseRouteOptions<B>,
): MiddlewareHandler<LeaseEnv> {
  return routeMiddleware(options, true);
}
