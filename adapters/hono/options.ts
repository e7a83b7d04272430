/** Options of the Hono middleware, validated once when the middleware is created. */
import type { Context } from "hono";
import {
  type Backend,
  InvalidArgumentError,
  type LeaseError,
  type LeaseOptions,
  validateHolder,
  validateLeaseOptions,
  validateName,
} from "../../src/backend-kit.ts";

/**
 * The request context the option callbacks receive. `B` types `c.env`, the runtime's bindings (a Worker's
 * `env`); pass it as the middleware's type argument, e.g. `requireLeader<Env>({...})`.
 */
export type RouteContext<B extends object> = Context<{ Bindings: B }>;

/** A value fixed at creation, or computed from the request (e.g. from `c.env` on Workers). */
export type PerRequest<T, B extends object> = T | ((c: RouteContext<B>) => T);

/**
 * How a request that led hands its term on once the handler has produced its response:
 * - `"park"`: ONE guarded write marks the term parked; the next request with the same `holder` resumes it with
 *   its claim (same term and fencing token, no gap). Other holders still find it held until it expires, one TTL
 *   after its last renewal.
 * - `"release"`: the term ends at once (etcd: one lease revoke); the next claimant of any holder takes it.
 * - `"hold"`: nothing is sent; the term stays busy until its lease expires, so that no request, not even one
 *   with the same holder, leads again before then.
 */
export type AfterResponse = "park" | "release" | "hold";

const AFTER_RESPONSE: readonly AfterResponse[] = ["park", "release", "hold"];

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
   * the same endpoint compete and exactly one of them leads. With a fixed identity, concurrent requests still
   * lead one at a time (the others find the term busy), and a request resumes the term the previous one parked.
   */
  holder?: PerRequest<string, B>;
  /**
   * How a request that led hands its term on after the handler (see {@link AfterResponse}): through
   * `executionCtx.waitUntil` where the runtime has one (Workers), else before the response is returned.
   * Default `"park"`. With the default random holder nobody resumes a parked term: it blocks every request
   * until it expires, like `"hold"`. Replaces `releaseAfterResponse`, which is refused.
   */
  afterResponse?: AfterResponse;
  /**
   * Called with every `LeaseError` before it is turned into an HTTP response (claim failures), or that the
   * response can no longer carry (park and release failures), e.g. for logging. The response body never carries the error's message.
   */
  onError?: (error: LeaseError, c: RouteContext<B>) => void;
}

export interface ResolvedRouteOptions<B extends object> {
  backend: (c: RouteContext<B>) => Backend;
  name: (c: RouteContext<B>) => string;
  holder: (c: RouteContext<B>) => string;
  lease: Omit<LeaseOptions, "backend" | "name" | "holder">;
  afterResponse: AfterResponse;
  onError: ((error: LeaseError, c: RouteContext<B>) => void) | undefined;
}

function perRequest<T, B extends object>(value: PerRequest<T, B>): (c: RouteContext<B>) => T {
  return typeof value === "function" ? (value as (c: RouteContext<B>) => T) : () => value;
}

const randomHolder = () => `req-${crypto.randomUUID()}`;

/**
 * Checks every option that does not depend on the request. With a fixed backend, `createLease`'s rules that
 * depend on the store (TTL bounds, drift margin, request timeout) are checked here too, against its capabilities
 * (`validateLeaseOptions`); with a per-request backend they are checked on each request.
 * @throws {InvalidArgumentError} naming the option and the rule.
 */
export function resolveRouteOptions<B extends object>(
  options: LeaseRouteOptions<B>,
): ResolvedRouteOptions<B> {
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError("options", "must be an object");
  }
  if ("releaseAfterResponse" in options) {
    throw new InvalidArgumentError(
      "releaseAfterResponse",
      'was replaced by afterResponse: "release" (true), "park" (the default) or "hold"',
    );
  }
  const { backend, name, holder, afterResponse = "park", onError, ...lease } = options;
  if (typeof backend !== "function" && (typeof backend !== "object" || backend === null)) {
    throw new InvalidArgumentError("backend", "must be a Backend or a function of the request returning one");
  }
  if (typeof name !== "function") validateName(name);
  if (holder !== undefined && typeof holder !== "function") validateHolder(holder);
  if (typeof lease.ttlMs !== "number" || !Number.isFinite(lease.ttlMs) || lease.ttlMs <= 0) {
    throw new InvalidArgumentError("ttlMs", "must be a positive finite number of milliseconds");
  }
  if (!AFTER_RESPONSE.includes(afterResponse)) {
    throw new InvalidArgumentError("afterResponse", 'must be "park", "release" or "hold"');
  }
  if (onError !== undefined && typeof onError !== "function") {
    throw new InvalidArgumentError("onError", "must be a function");
  }
  if (typeof backend !== "function") {
    validateLeaseOptions(
      {
        ...lease,
        ...(typeof name === "string" ? { name } : {}),
        ...(typeof holder === "string" ? { holder } : {}),
      },
      backend.capabilities,
      backend.kind,
    );
  }
  return {
    backend: perRequest(backend),
    name: perRequest(name),
    holder: holder === undefined ? randomHolder : perRequest(holder),
    lease,
    afterResponse,
    onError,
  };
}
