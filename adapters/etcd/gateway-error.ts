/**
 * etcd's JSON-gateway answers, read once: the status, and for any other status than 200 the gRPC status etcd
 * put in the body (`{error, message, code}`). Everything downstream (the resend policy, the typed errors,
 * the backend's own checks) reads this one parse.
 */
import {
  AuthError,
  foreignAnswer,
  type HttpResponse,
  HttpStatusError,
  type LeaseError,
  LeaseTimeoutError,
  reasonOnly,
  TransportError,
} from "../../src/backend-kit.ts";
import type { Outcome } from "./resend.ts";
import { errorBody } from "./wire.ts";

// gRPC status codes are written as numbers, named where they are read: bundlers do not inline shared constants.

/** One answer of the gateway, parsed once. */
export interface Answer {
  status: number;
  /** etcd's gRPC status code; undefined for a 200, or when the body carries none. */
  grpcCode: number | undefined;
  /**
   * etcd's error message; for a body that is not etcd's error JSON (no gRPC code), a summary of the answer
   * that never quotes it.
   */
  message: string;
  /** The whole body as text. */
  body: string;
}

/** Parses `res` into an {@link Answer}; tolerant, because an error body only feeds codes and messages. */
export function readAnswer(res: HttpResponse): Answer {
  const { status, body } = res;
  let grpcCode: number | undefined;
  let message = "";
  if (status !== 200) {
    try {
      const { data } = errorBody.safeParse(JSON.parse(body));
      if (typeof data?.code === "number") ({ code: grpcCode, message = data.error ?? "" } = data);
    } catch {}
    if (grpcCode === undefined)
      message = foreignAnswer(res, "etcd's JSON gateway", "is the endpoint etcd's client URL?");
  }
  return { status, grpcCode, message, body };
}

const NO_CREDENTIALS =
  "pass auth: { username, password } to etcd(), or set LEASEHOLD_ETCD_USERNAME and LEASEHOLD_ETCD_PASSWORD";

/**
 * Maps a non-200 answer to a typed error; a redirect (never followed) is an HTTP error. A request without a
 * token to an etcd with auth enabled ("user name is empty") is an AuthError that says how to give credentials.
 */
export function gatewayFailure({ status, grpcCode, message }: Answer, what: string): LeaseError {
  const detail = `etcd ${what}: ${message || "no message"}`;
  if (status >= 400 && message.includes("user name is empty"))
    return new AuthError(`${detail}: etcd requires authentication; ${NO_CREDENTIALS}`);
  const denied =
    status === 401 || grpcCode === 16 /* Unauthenticated */ || grpcCode === 7 /* PermissionDenied */;
  return denied && status >= 400 ? new AuthError(detail) : new HttpStatusError(status, detail);
}

/** What went wrong at one endpoint: the first failure among an attempt's outcomes. */
export function attemptFailure(outcomes: readonly Outcome[]): string {
  const failure = outcomes.find((o) => "error" in o || o.status !== 200) as Outcome;
  return "error" in failure ? reasonOnly(failure.error) : `HTTP ${failure.status}: ${failure.message}`;
}

/**
 * The outcomes of a call that no endpoint served, restated so that its error lists every endpoint tried with
 * its failure (`all 3 endpoints failed: http://a:2379: connection refused …; http://b:2379: …`), `failures`
 * in the order tried. A transport failure or timeout keeps its class, retryability and `cause`; an answer
 * keeps its status and gRPC code. Other failures are left as they are.
 */
export function allFailed(outcomes: readonly Outcome[], failures: Map<string, string>, endpoints: number) {
  const n = failures.size;
  const message = `${n < endpoints ? `${n} of` : "all"} ${endpoints} endpoints failed: ${[...failures].map((f) => f.join(": ")).join("; ")}`;
  return outcomes.map((o): Outcome => {
    if (!("error" in o)) return o.status === 200 ? o : { ...o, message };
    const { error } = o;
    // TransportError and LeaseTimeoutError take (message, options) alike.
    return error instanceof TransportError || error instanceof LeaseTimeoutError
      ? {
          error: new (error.constructor as typeof TransportError)(`etcd: ${message}`, {
            cause: error,
            retryable: error.retryable,
          }),
        }
      : o;
  });
}

/**
 * True when etcd refused the request's token and a fresh one may succeed: the token is invalid or expired
 * (Unauthenticated, HTTP 401), or it predates a change of the auth store ("revision of auth store is old").
 * A refused request was not executed, so sending it again with a new token is safe.
 */
export const tokenRejected = ({ status, grpcCode, message }: Answer): boolean =>
  status >= 400 &&
  (status === 401 ||
    grpcCode === 16 /* Unauthenticated */ ||
    (grpcCode === 3 /* InvalidArgument */ && message.includes("revision of auth store is old")));
