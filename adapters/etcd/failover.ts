/**
 * Failover policy between the endpoints of one etcd cluster: which outcomes justify another attempt, and how
 * long to back off before it. (Which endpoint an attempt goes to is the gateway's preference order.)
 */
import { type HttpResponse, isLeaseError } from "../../src/index.ts";
import { readGatewayError } from "./gateway-error.ts";

/** The outcome of one attempt: one settled result per request, in order. */
export type AttemptResults = PromiseSettledResult<HttpResponse>[];

/** 5xx, 429, or a gRPC code that means "this member cannot serve now": Unavailable (14: no leader, leader
 * changed) or ResourceExhausted (8). */
function unavailable(res: HttpResponse): boolean {
  if (res.status >= 500 || res.status === 429) return true;
  const code = res.status < 400 ? undefined : readGatewayError(res).code;
  return code === 14 || code === 8;
}

/**
 * True when another endpoint might answer: a retryable transport failure (connection error, attempt timeout)
 * or a 5xx / 429 / Unavailable answer.
 */
export function shouldFailOver(results: AttemptResults): boolean {
  return results.some((r) =>
    r.status === "rejected" ? isLeaseError(r.reason) && r.reason.retryable : unavailable(r.value),
  );
}

/** True when every failure in `results` proves the request never reached etcd (the connection was refused). */
export function neverSent(results: AttemptResults): boolean {
  const failures = results.filter((r) => r.status === "rejected");
  return failures.length > 0 && failures.every((r) => connectionRefused(r.reason));
}

function connectionRefused(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    if ((current as { code?: unknown }).code === "ECONNREFUSED") return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Exponential backoff before the `attempt`-th try (attempt >= 1): 25–50 ms, then doubling up to 400–800 ms. */
export function backoffMs(attempt: number, random: () => number): number {
  const ceiling = Math.min(800, 50 * 2 ** (attempt - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}
