/**
 * Typed errors. Every failure leasehold reports is a {@link LeaseError}; callers branch on `code` (stable
 * strings) or `instanceof`. The brand is a registered symbol so that {@link isLeaseError} also recognises errors
 * from a duplicated copy of the package (two bundles, two versions in one tree), where `instanceof` cannot.
 */

const BRAND = Symbol.for("leasehold.LeaseError");

/** Stable error codes. */
export type LeaseErrorCode =
  | "INVALID_ARGUMENT"
  | "LEASE_LOST"
  | "TIMEOUT"
  | "TRANSPORT"
  | "HTTP"
  | "MALFORMED_RESPONSE"
  | "UNSUPPORTED"
  | "AUTH";

export interface LeaseErrorOptions {
  cause?: unknown;
  retryable?: boolean;
}

/**
 * Base class of every error leasehold throws.
 *
 * - `code`: which failure, see {@link LeaseErrorCode}.
 * - `retryable`: true when repeating the same call may succeed (timeouts, transport errors, 5xx).
 * - `cause`: the underlying error or response detail, when there is one.
 */
export class LeaseError extends Error {
  readonly code: LeaseErrorCode;
  readonly retryable: boolean;

  constructor(code: LeaseErrorCode, message: string, options: LeaseErrorOptions = {}) {
    super(message, options);
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.name = new.target.name;
  }

  get [BRAND](): true {
    return true;
  }
}

/** True for any leasehold error, including ones thrown by another copy of the package. */
export function isLeaseError(value: unknown): value is LeaseError {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

/**
 * Bad input: an option, a name, an op or a compare breaks a rule. Thrown synchronously where possible (at
 * `createLease`), before anything is sent. `field` names the input, `rule` says what it must satisfy.
 */
export class InvalidArgumentError extends LeaseError {
  readonly field: string;
  readonly rule: string;

  constructor(field: string, rule: string, options: LeaseErrorOptions = {}) {
    super("INVALID_ARGUMENT", `${field}: ${rule}`, options);
    this.field = field;
    this.rule = rule;
  }
}

/** The store no longer has this holder's lease (expired, revoked, or taken over). Claim again to compete. */
export class LeaseLostError extends LeaseError {
  constructor(message: string, options: LeaseErrorOptions = {}) {
    super("LEASE_LOST", message, options);
  }
}

/** A request did not finish before its deadline. The outcome on the store is unknown. */
export class LeaseTimeoutError extends LeaseError {
  constructor(message: string, options: LeaseErrorOptions = {}) {
    super("TIMEOUT", message, { retryable: true, ...options });
  }
}

/** The request never got an HTTP response: connection refused or reset, DNS failure, TLS failure. */
export class TransportError extends LeaseError {
  constructor(message: string, options: LeaseErrorOptions = {}) {
    super("TRANSPORT", message, { retryable: true, ...options });
  }
}

/**
 * 5xx statuses that say "this server cannot serve such a request at all" rather than "not now": Not
 * Implemented, HTTP Version Not Supported, Variant Also Negotiates, Loop Detected, Not Extended, Network
 * Authentication Required. Another attempt gets the same answer.
 */
const NOT_THIS_SERVER = [501, 505, 506, 508, 510, 511];

/**
 * Whether an answer of `status` may differ when the request is sent again: 5xx but {@link NOT_THIS_SERVER},
 * 408 (Request Timeout) and 429 (Too Many Requests).
 */
export const isRetryableStatus = (status: number): boolean =>
  (status >= 500 && !NOT_THIS_SERVER.includes(status)) || status === 408 || status === 429;

/**
 * The store answered with an HTTP status the operation does not expect. Retryable for 5xx, 408 and 429, except
 * 5xx statuses that no retry changes (501, 505, …), whose message says so.
 */
export class HttpStatusError extends LeaseError {
  readonly status: number;

  constructor(status: number, message: string, options: LeaseErrorOptions = {}) {
    const final = NOT_THIS_SERVER.includes(status)
      ? "; not retried: this server cannot serve the request"
      : "";
    super("HTTP", `HTTP ${status}: ${message}${final}`, { retryable: isRetryableStatus(status), ...options });
    this.status = status;
  }
}

/** The store's response could not be parsed or does not have the expected shape. Never means "leader". */
export class MalformedResponseError extends LeaseError {
  constructor(message: string, options: LeaseErrorOptions = {}) {
    super("MALFORMED_RESPONSE", message, options);
  }
}

/** The backend cannot do this operation with the guarantee the API promises (see `Backend.capabilities`). */
export class UnsupportedError extends LeaseError {
  constructor(message: string, options: LeaseErrorOptions = {}) {
    super("UNSUPPORTED", message, options);
  }
}

/** The store refused the credentials, or the request lacks permission. */
export class AuthError extends LeaseError {
  constructor(message: string, options: LeaseErrorOptions = {}) {
    super("AUTH", message, options);
  }
}

/**
 * Removes every secret (as sent, and JSON-escaped as a server echoing a request body writes it) from an error's
 * message, stack and other own fields, and from its cause chain (up to 8 deep), in place. A field that is not
 * text (a cause that is not an Error, say) and mentions a secret, or cannot be serialized, is replaced.
 * Returns `error`.
 */
export function redactSecrets(error: unknown, secrets: readonly string[]): unknown {
  const forms = secrets.filter(Boolean).flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]);
  const scrub = (text: string) => forms.reduce((t, s) => t.replaceAll(s, "[redacted]"), text);
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    for (const key of ["message", "stack", "cause", ...Object.keys(e)]) {
      const value: unknown = (e as unknown as Record<string, unknown>)[key];
      if (value === undefined || value instanceof Error) continue;
      let text: string | undefined;
      try {
        text = typeof value === "string" ? value : JSON.stringify(value);
      } catch {
        // Not serializable: it cannot be vouched for.
      }
      // Defined rather than assigned: some errors (DOMException) have only a getter.
      if (text === undefined || scrub(text) !== text) {
        Object.defineProperty(e, key, { value: typeof value === "string" ? scrub(value) : "[redacted]" });
      }
    }
  }
  return error;
}

/**
 * Wraps `target` so that every promise its methods return rejects with its secrets redacted
 * ({@link redactSecrets}); `secrets` is read at each failure, so that it can name tokens learnt since.
 */
export function redacting<T extends object>(target: T, secrets: () => readonly string[]): T {
  return new Proxy(target, {
    get(t, key) {
      const member: unknown = Reflect.get(t, key, t);
      if (typeof member !== "function") return member;
      return (...args: unknown[]) => {
        const result: unknown = member.apply(t, args);
        return result instanceof Promise
          ? result.catch((error: unknown) => {
              throw redactSecrets(error, secrets());
            })
          : result;
      };
    },
  });
}
