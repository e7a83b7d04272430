/**
 * The only place where leasehold's typed errors and a lost election become HTTP responses. Bodies are JSON and
 * carry codes, never error messages: messages may name internal endpoints.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { LeaseError, LeaseState } from "../../src/backend-kit.ts";

/**
 * Body of the 503 answered to a request that does not lead. `token` is the holder's fencing token, in decimal.
 * `busy` is true when the holder is this request's own and its term is held by another request (a duplicated
 * or overlapping call): it frees when that request parks or releases it, or when its lease expires.
 */
export interface NotLeaderBody {
  error: "not-leader";
  lease: string;
  holder: string | null;
  token: string | null;
  busy: boolean;
  retryAfterSeconds: number;
}

/** Body of a response mapped from a `LeaseError`. `field` names the bad option of an `INVALID_ARGUMENT`. */
export interface LeaseErrorBody {
  error: "lease-error";
  code: LeaseError["code"];
  retryable: boolean;
  field?: string;
}

/**
 * Whole seconds until the current holder's lease can expire, rounded up, at least 1: `state.ttlLeftMs` (an upper
 * bound from the holder's TTL, or the store's figure when the claim read it), else `fallbackTtlMs` (ms) when the
 * holder publishes no TTL (a Go election candidate).
 */
export function retryAfterSeconds(state: LeaseState, fallbackTtlMs: number): number {
  return Math.max(1, Math.ceil((state.ttlLeftMs ?? fallbackTtlMs) / 1000));
}

/** 503 with `Retry-After` and a {@link NotLeaderBody}. */
export function notLeaderResponse(c: Context, state: LeaseState, fallbackTtlMs: number): Response {
  const seconds = retryAfterSeconds(state, fallbackTtlMs);
  const body: NotLeaderBody = {
    error: "not-leader",
    lease: state.name,
    holder: state.holder,
    token: state.token === null ? null : state.token.toString(),
    busy: state.busy,
    retryAfterSeconds: seconds,
  };
  return c.json(body, 503, { "Retry-After": String(seconds) });
}

/**
 * The HTTP status for a `LeaseError`:
 * - 500: `INVALID_ARGUMENT`, `UNSUPPORTED` (the route's configuration is wrong);
 * - 503 with `Retry-After: 1`: retryable failures (timeout, transport error, store 5xx, 408 or 429) and
 *   `LEASE_LOST`;
 * - 502: the store answered but not usefully (`AUTH`, `MALFORMED_RESPONSE`, other HTTP statuses).
 */
export function leaseErrorStatus(error: LeaseError): 500 | 502 | 503 {
  if (error.code === "INVALID_ARGUMENT" || error.code === "UNSUPPORTED") return 500;
  if (error.retryable || error.code === "LEASE_LOST") return 503;
  return 502;
}

/**
 * Maps a `LeaseError` to a JSON response with a {@link LeaseErrorBody}. Usable in `app.onError` for errors
 * thrown by handlers (e.g. from `c.var.leaseHandle.doIfLeader`).
 */
export function leaseErrorResponse(c: Context, error: LeaseError): Response {
  const status: ContentfulStatusCode = leaseErrorStatus(error);
  const body: LeaseErrorBody = {
    error: "lease-error",
    code: error.code,
    retryable: error.retryable,
    // By code, not instanceof: the error may come from another copy of the package.
    ...(error.code === "INVALID_ARGUMENT" && "field" in error && typeof error.field === "string"
      ? { field: error.field }
      : {}),
  };
  return c.json(body, status, status === 503 ? { "Retry-After": "1" } : {});
}
