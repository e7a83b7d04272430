/** etcd's JSON-gateway error bodies (a gRPC status as JSON) and their mapping to typed errors. */
import { AuthError, type HttpResponse, HttpStatusError, type LeaseError } from "../../src/index.ts";
import { errorBody } from "./wire.ts";

/** gRPC status codes the gateway puts in error bodies (`code`). Plain constants, so bundlers inline them. */
export const INVALID_ARGUMENT = 3;
export const NOT_FOUND = 5;
export const PERMISSION_DENIED = 7;
export const FAILED_PRECONDITION = 9;
export const UNAUTHENTICATED = 16;

export interface GatewayError {
  code: number | undefined;
  message: string;
}

/** Reads the gateway's error body ({error, message, code}); tolerant, because it only feeds messages. */
export function readGatewayError(res: HttpResponse): GatewayError {
  try {
    const parsed = errorBody.safeParse(JSON.parse(res.body));
    if (parsed.success) {
      return { code: parsed.data.code, message: parsed.data.message ?? parsed.data.error ?? "" };
    }
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return { code: undefined, message: res.body.slice(0, 200) };
}

/** Maps a non-200 gateway answer to a typed error; a redirect (never followed) is an HTTP error. */
export function gatewayFailure(res: HttpResponse, what: string): LeaseError {
  const { code, message } = readGatewayError(res);
  const detail = `etcd ${what}: ${message || "no message"}`;
  const denied = res.status === 401 || code === UNAUTHENTICATED || code === PERMISSION_DENIED;
  return denied && res.status >= 400 ? new AuthError(detail) : new HttpStatusError(res.status, detail);
}

/**
 * True when etcd refused the request's token and a fresh one may succeed: the token is invalid or expired
 * (Unauthenticated, HTTP 401), or it predates a change of the auth store ("revision of auth store is old").
 * A refused request was not executed, so sending it again with a new token is safe.
 */
export function tokenRejected(res: HttpResponse): boolean {
  if (res.status < 400) return false;
  const { code, message } = readGatewayError(res);
  if (res.status === 401 || code === UNAUTHENTICATED) return true;
  return code === INVALID_ARGUMENT && message.includes("revision of auth store is old");
}
