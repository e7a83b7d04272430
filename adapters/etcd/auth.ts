/**
 * etcd authentication: username and password are exchanged for a token with `POST /v3/auth/authenticate`; every
 * other request carries the token in its `Authorization` header. Tokens are kept per endpoint because etcd's
 * default "simple" tokens are only known to the member that issued them.
 *
 * The credentials and tokens live in private fields and are never put into an error message or `cause`.
 */
import * as z from "zod/mini";
import {
  AuthError,
  type HttpRequest,
  type HttpResponse,
  HttpStatusError,
  MalformedResponseError,
} from "../../src/backend-kit.ts";
import { readAnswer } from "./gateway-error.ts";
import type { EtcdAuth } from "./options.ts";
import { parseWire } from "./wire.ts";

const authenticateResponse = z.object({ token: z.string() });

interface CachedToken {
  pending: Promise<string>;
  token?: string;
}

export class Authenticator {
  readonly #username: string;
  readonly #password: string;
  readonly #tokens = new Map<string, CachedToken>();
  /** Every token etcd issued here, refused ones included: a server may still echo them. */
  readonly #issued = new Set<string>();

  constructor(auth: EtcdAuth) {
    this.#username = auth.username;
    this.#password = auth.password;
  }

  /**
   * The token for `endpoint`, authenticating first when there is none. Concurrent calls share one
   * authenticate request.
   * @throws {AuthError} etcd refused the credentials (or auth is not enabled on it).
   * @throws {HttpStatusError | TransportError | LeaseTimeoutError} no usable answer; retryable.
   */
  token(endpoint: string, signal: AbortSignal, send: (req: HttpRequest) => Promise<HttpResponse>) {
    const cached = this.#tokens.get(endpoint);
    if (cached) return cached.pending;
    const entry: CachedToken = { pending: this.#authenticate(endpoint, signal, send) };
    this.#tokens.set(endpoint, entry);
    entry.pending.then(
      (token) => {
        entry.token = token;
      },
      () => {
        if (this.#tokens.get(endpoint) === entry) this.#tokens.delete(endpoint);
      },
    );
    return entry.pending;
  }

  /** The password and the tokens, for redaction. */
  secrets(): string[] {
    return [this.#password, ...this.#issued];
  }

  /** Forgets `token` for `endpoint` (etcd refused it), unless another call already replaced it. */
  invalidate(endpoint: string, token: string): void {
    if (this.#tokens.get(endpoint)?.token === token) this.#tokens.delete(endpoint);
  }

  async #authenticate(
    endpoint: string,
    signal: AbortSignal,
    send: (req: HttpRequest) => Promise<HttpResponse>,
  ): Promise<string> {
    const res = await send({
      method: "POST",
      url: `${endpoint}/v3/auth/authenticate`,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: this.#username, password: this.#password }),
      signal,
    });
    if (res.status !== 200) {
      // Only etcd's own gRPC message is quoted: a raw body could echo the request.
      const { grpcCode, message } = readAnswer(res);
      const detail = `etcd authenticate: ${grpcCode === undefined ? "the answer carries no etcd error" : message}`;
      const refused = res.status >= 400 && res.status < 500;
      throw refused ? new AuthError(detail) : new HttpStatusError(res.status, detail);
    }
    const { token } = parseWire(authenticateResponse, res.body, "authenticate");
    // Remembered before it is checked, so that a malformed token is redacted too.
    this.#issued.add(token);
    if (this.#issued.size > 64) this.#issued.delete(this.#issued.values().next().value as string);
    // A header value: visible ASCII only (etcd's simple and JWT tokens are), never CR/LF.
    if (!/^[\x21-\x7e]+$/.test(token)) {
      throw new MalformedResponseError("etcd authenticate: the token is not a header value");
    }
    return token;
  }
}
