/**
 * What answers of a ZooKeeper REST gateway say: the outcomes of creates and versioned writes, and the one place
 * where answers a call does not expect become typed errors.
 */
import {
  AuthError,
  foreignAnswer,
  type HttpResponse,
  HttpStatusError,
  type LeaseError,
} from "../../src/backend-kit.ts";
import { errorEntity } from "./wire.ts";

/**
 * Why a versioned write on a session did not apply: the znode is at another version (412), gone (404), or
 * the gateway no longer has the session (401 without a challenge).
 */
export type Conflict = "bad-version" | "no-node" | "no-session";

/** The gateway's error message, tolerant: it only feeds error messages. */
export function messageOf(res: HttpResponse): string {
  try {
    const parsed = errorEntity.safeParse(JSON.parse(res.body));
    if (typeof parsed.data?.message === "string") return parsed.data.message;
  } catch {}
  // Not the gateway's error JSON (octet errors, servlet error pages, another server): summarised, never quoted.
  return foreignAnswer(res, "a ZooKeeper REST gateway's JSON", "is the endpoint the gateway's base URL?");
}

/** Maps an answer the call does not expect to a typed error: 401 with a challenge and 403 are auth failures. */
export function gatewayFailure(res: HttpResponse, what: string): LeaseError {
  const detail = `ZooKeeper gateway ${what}: ${messageOf(res) || "no message"}`;
  if ((res.status === 401 && res.headers["www-authenticate"] !== undefined) || res.status === 403) {
    return new AuthError(detail);
  }
  return new HttpStatusError(res.status, detail);
}

/** A 401 without a basic-auth challenge: the gateway does not know the `?session=` (expired or closed). */
export function unknownSession(res: HttpResponse): boolean {
  return res.status === 401 && res.headers["www-authenticate"] === undefined;
}

/** The {@link Conflict} of a versioned write's answer, or null when it is none of them. */
export function conflictOf(res: HttpResponse): Conflict | null {
  if (res.status === 412) return "bad-version";
  if (res.status === 404) return "no-node";
  return unknownSession(res) ? "no-session" : null;
}

export function throwFailure(res: HttpResponse, what: string): never {
  throw gatewayFailure(res, what);
}

export type CreateOutcome = "created" | "exists" | "no-parent" | "no-session";

/** The outcome of `POST /znodes/v1/<parent>?op=create` for `path`. */
export function createOutcome(res: HttpResponse, path: string): CreateOutcome {
  switch (res.status) {
    case 201:
      return "created";
    case 409:
      return "exists";
    case 404:
      return "no-parent";
    default:
      if (unknownSession(res)) return "no-session";
      throw gatewayFailure(res, `create ${path}`);
  }
}
