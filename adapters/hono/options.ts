/** Options of the Hono middleware, validated once when the middleware is created. */
import type { Context } from "hono";
import {
  type Backend,
  createLease,
  InvalidArgumentError,
  type LeaseError,
  type LeaseOptions,
  validateHolder,
  validateName,
} from "../../src/index.ts";

/**
 * The request context the option callbacks receive. `B` types `c.env`, the runtime's bindings (a Worker's
 * `env`); pass it as the middleware's type argument, e.g. `requireLeader<Env>({...})`.
 */
export type RouteContext<B extends object> = Context<{ Bindings: B }>;

/** A value fixed at creation, or computed from the request (e.g. from `c.env` on Workers). */
export type PerRequest<T, B extends object> = T | ((c: RouteContext<B>) => T);

/**
 * Options of {@link leaseMiddleware} and {@link requireLeader}. The lease options (`ttlMs`, `value`,
 * `driftMarginMs`, `requestTimeoutMs`, `allowNonAtomicGuard`, `clock`) are those of `createLease`.
 */
export interface LeaseRouteOptions<B extends object = Record<string, unknown>>
  extends Omit<LeaseOptions, "backend" | "name" | "holder"> {
  /**
   * The store, or a function building it from the request; on Workers the bindings are only known per request:
   * `backend: (c) => etcdFromEnv(c.env)`.
   */
  backend: PerRequest<Backend, B>;
  /** The lease name, e.g. `cron/nightly-report`, or a function of the request. */
  name: PerRequest<string, B>;
  /**
   * This participant's identity. Default: a new random identity per request, so that concurrent invocations of
   * the same endpoint compete and exactly one of them leads. A fixed identity makes every request from it
   * resume the same term.
   */
  holder?: PerRequest<string, B>;
  /**
   * Releases the lease once the handler has produced its response, when this request led: through
   * `executionCtx.waitUntil` where the runtime has one (Workers), else before the response is returned.
   * Default false: the lease is kept until its TTL passes, so that duplicate invocations arriving later in the
   * same period do not run the work again.
   */
  releaseAfterResponse?: boolean;
  /**
   * Called with every `LeaseError` before it is turned into an HTTP response (claim failures, release
   * failures), e.g. for logging. The response body never carries the error's message.
   */
  onError?: (error: LeaseError, c: RouteContext<B>) => void;
}

export interface ResolvedRouteOptions<B extends object> {
  backend: (c: RouteContext<B>) => Backend;
  name: (c: RouteContext<B>) => string;
  holder: (c: RouteContext<B>) => string;
  lease: Omit<LeaseOptions, "backend" | "name" | "holder">;
  releaseAfterResponse: boolean;
  onError: ((error: LeaseError, c: RouteContext<B>) => void) | undefined;
}

function perRequest<T, B extends object>(value: PerRequest<T, B>): (c: RouteContext<B>) => T {
  return typeof value === "function" ? (value as (c: RouteContext<B>) => T) : () => value;
}

const randomHolder = () => `req-${crypto.randomUUID()}`;

/**
 * Checks every option that does not depend on the request. With a fixed backend, a lease handle is created
 * once here, so that `createLease`'s rules that depend on the store (TTL bounds, drift margin, request timeout)
 * are checked at creation too; with a per-request backend they are checked on each request.
 * @throws {InvalidArgumentError} naming the option and the rule.
 */
export function resolveRouteOptions<B extends object>(
  options: LeaseRouteOptions<B>,
): ResolvedRouteOptions<B> {
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError("options", "must be an object");
  }
  const { backend, name, holder, releaseAfterResponse = false, onError, ...lease } = options;
  if (typeof backend !== "function" && (typeof backend !== "object" || backend === null)) {
    throw new InvalidArgumentError("backend", "must be a Backend or a function of the request returning one");
  }
  if (typeof name !== "function") validateName(name);
  if (holder !== undefined && typeof holder !== "function") validateHolder(holder);
  if (typeof lease.ttlMs !== "number" || !Number.isFinite(lease.ttlMs) || lease.ttlMs <= 0) {
    throw new InvalidArgumentError("ttlMs", "must be a positive finite number of milliseconds");
  }
  if (typeof releaseAfterResponse !== "boolean") {
    throw new InvalidArgumentError("releaseAfterResponse", "must be a boolean");
  }
  if (onError !== undefined && typeof onError !== "function") {
    throw new InvalidArgumentError("onError", "must be a function");
  }
  if (typeof backend !== "function")
    createLease({ ...lease, backend, name: "validation", holder: "validation" });
  return {
    backend: perRequest(backend),
    name: perRequest(name),
    holder: holder === undefined ? randomHolder : perRequest(holder),
    lease,
    releaseAfterResponse,
    onError,
  };
}
