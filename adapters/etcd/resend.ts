/**
 * The resend policy of the etcd dispatcher, kept apart from dispatch (dispatcher.ts): given what one attempt
 * produced, whether to accept it, send it again with a fresh token, or send it to the next endpoint; and how
 * long to back off before that. Every resend decision of the etcd backend is made here.
 */
import { connectionRefused, isLeaseError, isRetryableStatus } from "../../src/backend-kit.ts";
import { type Answer, tokenRejected } from "./gateway-error.ts";

/** What one attempt produced for one request: etcd's answer, or the transport's (or the token's) failure. */
export type Outcome = Answer | { error: unknown };

/**
 * - `ok`: the answers are the endpoint's own (whatever their status); the endpoint served.
 * - `token`: etcd refused the token; replace it and send again to the same endpoint.
 * - `next`: this endpoint cannot serve now, and sending again is safe; try the next one.
 * - `fail`: this endpoint cannot serve now, but sending again is not allowed; the outcome stands.
 */
export type Verdict = "ok" | "token" | "next" | "fail";

export interface Attempt {
  /** True when a lost answer may be sent again (see `SendOptions.idempotent`). */
  idempotent: boolean;
  /** The attempt carried a token that has not been replaced yet for this request. */
  freshToken: boolean;
  /** Whether another attempt fits: the attempt budget is not spent and the call's signal has not fired. */
  retry: boolean;
}

const failed = (o: Outcome): o is { error: unknown } => "error" in o;

/** The one decision after every attempt; `outcomes` has one entry per request of the attempt, in order. */
export function resend(outcomes: readonly Outcome[], attempt: Attempt): Verdict {
  if (attempt.freshToken && outcomes.some((o) => !failed(o) && tokenRejected(o))) return "token";
  // A failure the transport calls retryable, or a retryable status (5xx but 501, 505, … which every server of
  // this kind repeats; 408, 429), or a gRPC code that means "this member cannot serve now": Unavailable (14:
  // no leader, leader changed) or ResourceExhausted (8).
  const endpointDown = outcomes.some((o) =>
    failed(o)
      ? isLeaseError(o.error) && o.error.retryable
      : isRetryableStatus(o.status) || (o.status >= 400 && (o.grpcCode === 14 || o.grpcCode === 8)),
  );
  if (!endpointDown) return "ok";
  if (!attempt.retry) return "fail";
  if (attempt.idempotent) return "next";
  // Requests whose connection was refused never reached etcd: sending them elsewhere cannot apply them twice.
  return outcomes.every((o) => failed(o) && connectionRefused(o.error)) ? "next" : "fail";
}

/** Exponential backoff before the `attempt`-th try (attempt >= 1): 25–50 ms, then doubling up to 400–800 ms. */
export function backoffMs(attempt: number, random: () => number): number {
  const ceiling = Math.min(800, 50 * 2 ** (attempt - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}
