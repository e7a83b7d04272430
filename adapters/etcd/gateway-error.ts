/**
 * etcd's JSON-gateway answers, read once: the status, and for any other status than 200 the gRPC status etcd
 * put in the body (`{error, message, code}`). Everything downstream (the resend policy, the typed errors,
 * the backend's own checks) reads this one parse.
 */
import { AuthError, type HttpResponse, HttpStatusError, type LeaseError } from "../../src/backend-kit.ts";
import { errorBody } from "./wire.ts";

// gRPC status codes are written as numbers, named where they are read: bundlers do not inline shared constants.

/** One answer of the gateway, parsed once. */
export interface Answer {
  status: number;
  /** etcd's gRPC status code; undefined for a 200, or when the body carries none. */
  grpcCode: number | undefined;
  /** etcd's error message; for a body that is not etcd's error JSON, its first 200 characters. */
  message: string;
  /** The whole body as text. */
  body: string;
}

/** Parses `res` into an {@link Answer}; tolerant, because an error body only feeds codes and messages. */
export function readAnswer({ status, body }: HttpResponse): Answer {
  let grpcCode: number | undefined;
  let message = "";
  if (status !== 200) {
    // A body that is not etcd's error JSON is its own message.
    message = body.slice(0, 200);
    try {
      const { data } = errorBody.safeParse(JSON.parse(body));
      if (data) ({ code: grpcCode, message = data.error ?? "" } = data);
    } catch {}
  }
  return { status, grpcCode, message, body };
}

/** Maps a non-200 answer to a typed error; a redirect (never followed) is an HTTP error. */
export function gatewayFailure({ status, grpcCode, message }: Answer, what: string): LeaseError {
  const detail = `etcd ${what}: ${message || "no message"}`;
  const denied =
    status === 401 || grpcCode === 16 /* Unauthenticated */ || grpcCode === 7 /* PermissionDenied */;
  return denied && status >= 400 ? new AuthError(detail) : new HttpStatusError(status, detail);
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
