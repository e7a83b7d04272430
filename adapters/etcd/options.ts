/** Validation of `etcd()` options. */
import { InvalidArgumentError, type Transport } from "../../src/backend-kit.ts";

export interface EtcdOptions {
  /**
   * Base URLs of etcd's v3 JSON gateway (the client URLs), e.g. `["http://127.0.0.1:2379"]`: http or https, no
   * path, query or credentials; a bare `host:port` means `http://host:port`, as for etcdctl.
   */
  endpoints: readonly string[];
  /** Prefix of lease keys. Default `"leasehold/"`. 1 to 128 characters, no NUL. */
  prefix?: string;
  /** HTTP transport. Default: `fetchTransport()`; on Node, `undiciTransport()` from `leasehold/node` is faster. */
  transport?: Transport;
  /**
   * etcd user credentials. When set, they are exchanged for a token (`POST /v3/auth/authenticate`, once per
   * endpoint) that every request carries in its `Authorization` header; a token etcd reports invalid or expired
   * is replaced once per request. Credentials and tokens never appear in errors.
   */
  auth?: EtcdAuth;
  /**
   * How many endpoints one call may try, counting the first. Only reads (range), keepalive, revoke,
   * authenticate and claim's grant+txn are tried again; the guarded txn of `doIfLeader` only when the
   * connection was refused (it was never sent). Default: 1 with one endpoint, else twice the number of
   * endpoints. Every attempt stays within the call's deadline (`requestTimeoutMs` of `createLease`).
   */
  maxAttempts?: number;
  /**
   * Deadline of one attempt at one endpoint, in ms, within the call's deadline. Default: half the call's
   * deadline when there are several endpoints (so a hung member leaves time for another), else the whole of it.
   */
  attemptTimeoutMs?: number;
}

/** An etcd user. Kept private to the backend: never logged, never put into an error. */
export interface EtcdAuth {
  username: string;
  password: string;
}

export const DEFAULT_PREFIX = "leasehold/";

const EXAMPLE = '"http://127.0.0.1:2379"';

/**
 * `value` as it may appear in an error: whatever precedes its last "@" (after the scheme) is taken for
 * credentials and masked, so that a password (even one with "/" or "@" in it) is never echoed.
 */
const shown = (value: string) => JSON.stringify(value.replace(/^([a-z][a-z0-9+.-]*:\/\/)?.*@/is, "$1***@"));

/**
 * Why `endpoint` is not an etcd client URL, or its origin. A bare `host:port` (as etcdctl takes it) means
 * `http://host:port`.
 */
function endpointOrigin(endpoint: unknown): { origin: string } | { rule: string } {
  const value = String(endpoint).trim();
  let url: URL | undefined;
  try {
    url = new URL(value.includes("://") ? value : `http://${value}`);
  } catch {}
  // An origin has no "@": one means credentials, which the message masks.
  if (value.includes("@"))
    return { rule: `${shown(value)} has credentials in it: pass them as auth: { username, password }` };
  if (
    typeof endpoint !== "string" ||
    !url ||
    !/^https?:$/.test(url.protocol) ||
    url.href !== `${url.origin}/`
  )
    return { rule: `${shown(value)} is not an etcd client URL: an http(s) origin like ${EXAMPLE}` };
  return { origin: url.origin };
}

/**
 * The origins of etcd client URLs, `http://host:port` for a bare `host:port`.
 * @throws {InvalidArgumentError} naming the option (`endpoints`, `endpoints[i]`, or `field`), and the value
 *   refused with any credentials masked.
 */
export function validateEndpoints(endpoints: unknown, field = "endpoints"): string[] {
  if (!Array.isArray(endpoints) || endpoints.length === 0) {
    throw new InvalidArgumentError(field, `must be a non-empty array of URLs, e.g. [${EXAMPLE}]`);
  }
  return endpoints.map((endpoint, i) => {
    const checked = endpointOrigin(endpoint);
    if ("rule" in checked) throw new InvalidArgumentError(`${field}[${i}]`, checked.rule);
    return checked.origin;
  });
}

export function validatePrefix(prefix: unknown): string {
  if (prefix === undefined) return DEFAULT_PREFIX;
  if (typeof prefix !== "string" || prefix.length === 0 || prefix.length > 128 || prefix.includes("\0")) {
    throw new InvalidArgumentError("prefix", "must be a string of 1 to 128 characters without NUL");
  }
  return prefix;
}

/** @throws {InvalidArgumentError} naming `auth`, `auth.username` or `auth.password` (never quoting them). */
export function validateAuth(auth: unknown): EtcdAuth | undefined {
  if (auth === undefined) return undefined;
  if (typeof auth !== "object" || auth === null) {
    throw new InvalidArgumentError("auth", "must be an object with username and password");
  }
  const { username, password } = auth as Record<string, unknown>;
  for (const [key, value] of Object.entries({ username, password })) {
    if (typeof value !== "string" || value === "")
      throw new InvalidArgumentError(`auth.${key}`, "must be a non-empty string");
  }
  return { username, password } as EtcdAuth;
}

/** @throws {InvalidArgumentError} when `value` is set and not an integer in [min, max]. */
export function validateCount(value: unknown, field: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(field, `must be an integer from ${min} to ${max}`);
  }
  return value;
}
