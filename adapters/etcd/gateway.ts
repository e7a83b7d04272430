/**
 * One place where requests to etcd's JSON gateway are made: it picks the endpoint, adds the auth token, and
 * fails over to another endpoint when that is safe. Non-200 answers are returned as they are; the backend
 * maps them with {@link gatewayFailure}.
 */
import {
  type CallContext,
  type Clock,
  deadlineSignal,
  type HttpRequest,
  type HttpResponse,
  systemClock,
  type Transport,
} from "../../src/index.ts";
import { Authenticator } from "./auth.ts";
import { type AttemptResults, backoffMs, neverSent, shouldFailOver } from "./failover.ts";
import { tokenRejected } from "./gateway-error.ts";
import type { EtcdAuth } from "./options.ts";

export { type GatewayError, gatewayFailure, readGatewayError } from "./gateway-error.ts";

export interface GatewayOptions {
  endpoints: readonly string[];
  transport: Transport;
  auth?: EtcdAuth | undefined;
  /** See `EtcdOptions.maxAttempts`. */
  maxAttempts?: number | undefined;
  /** See `EtcdOptions.attemptTimeoutMs`. */
  attemptTimeoutMs?: number | undefined;
  /** Sleeps between attempts; tests pass a fake clock. */
  clock?: Clock | undefined;
  /** Jitter source in [0, 1). */
  random?: () => number;
}

/**
 * Whether a request may be sent again after a failure whose outcome is unknown. True for reads, keepalive,
 * revoke and claim's grant+txn (idempotent by the client-chosen lease ID); false for the guarded txn, which
 * would commit twice if its first response was lost.
 */
export interface SendOptions {
  idempotent: boolean;
  /** The largest answer accepted, in bytes (`HttpRequest.maxResponseBytes`); default the transport's. */
  maxResponseBytes?: number;
}

interface GatewayRequest {
  path: string;
  body: unknown;
}

export class Gateway {
  readonly #endpoints: readonly string[];
  readonly #transport: Transport;
  readonly #auth: Authenticator | undefined;
  readonly #maxAttempts: number;
  readonly #attemptTimeoutMs: number | undefined;
  readonly #clock: Clock;
  readonly #random: () => number;
  /**
   * Index of the preferred endpoint. Calls start there and move along the list; a failure moves the preference
   * past the failed endpoint and a success pins it, so that calls stick to a member that answers (which also
   * keeps etcd's per-member simple tokens valid).
   */
  #preferred = 0;

  constructor(options: GatewayOptions) {
    this.#endpoints = options.endpoints;
    this.#transport = options.transport;
    this.#auth = options.auth ? new Authenticator(options.auth) : undefined;
    const n = options.endpoints.length;
    this.#maxAttempts = options.maxAttempts ?? (n === 1 ? 1 : 2 * n);
    this.#attemptTimeoutMs = options.attemptTimeoutMs;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
  }

  /** POSTs `body` as JSON to `path` (e.g. `/v3/kv/txn`) and returns the raw response, whatever its status. */
  post(path: string, body: unknown, ctx: CallContext, options?: SendOptions): Promise<HttpResponse> {
    return this.postInOrder([{ path, body }], ctx, options)[0] as Promise<HttpResponse>;
  }

  /**
   * Sends the requests in order, pipelined on one connection when the transport can (one round trip), else
   * each after the previous one settled. One promise per request. A failover sends the whole sequence again.
   */
  postInOrder(
    requests: readonly GatewayRequest[],
    ctx: CallContext,
    options: SendOptions = { idempotent: false },
  ): Promise<HttpResponse>[] {
    const settled = this.#send(requests, ctx, options);
    return requests.map(async (_, i) => {
      const result = (await settled)[i] as PromiseSettledResult<HttpResponse>;
      if (result.status === "rejected") throw result.reason;
      return result.value;
    });
  }

  close(): Promise<void> {
    return this.#transport.close?.() ?? Promise.resolve();
  }

  /** What errors must never show: the password and every token etcd issued to this gateway. */
  secrets(): readonly string[] {
    return this.#auth?.secrets() ?? [];
  }

  async #send(requests: readonly GatewayRequest[], ctx: CallContext, options: SendOptions) {
    const endpoints = this.#endpoints;
    const start = this.#preferred;
    let results: AttemptResults = [];
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      if (attempt > 0) {
        const slept = await this.#clock.sleep(backoffMs(attempt, this.#random), ctx.signal).then(
          () => true,
          () => false,
        );
        if (!slept) break;
      }
      const index = (start + attempt) % endpoints.length;
      results = await this.#exchange(
        endpoints[index] as string,
        requests,
        this.#attemptSignal(ctx, options),
        options.maxResponseBytes,
      );
      if (!shouldFailOver(results)) {
        this.#preferred = index;
        return results;
      }
      if (index === this.#preferred) this.#preferred = (index + 1) % endpoints.length;
      if (ctx.signal.aborted || !(options.idempotent || neverSent(results))) break;
    }
    return results;
  }

  /** The signal of one attempt: the call's own, cut shorter when another endpoint may still be tried. */
  #attemptSignal(ctx: CallContext, options: SendOptions): AbortSignal {
    if (!options.idempotent || this.#maxAttempts === 1) return ctx.signal;
    const ms =
      this.#attemptTimeoutMs ??
      (this.#endpoints.length > 1 && ctx.timeoutMs !== undefined ? ctx.timeoutMs / 2 : undefined);
    return ms === undefined ? ctx.signal : deadlineSignal(ms, ctx.signal);
  }

  /** One attempt at one endpoint, with the token; a token etcd refuses is replaced once. */
  async #exchange(
    endpoint: string,
    requests: readonly GatewayRequest[],
    signal: AbortSignal,
    maxResponseBytes: number | undefined,
  ): Promise<AttemptResults> {
    const auth = this.#auth;
    for (let round = 0; ; round++) {
      let token: string | undefined;
      try {
        token = await auth?.token(endpoint, signal, (req) => this.#transport.request(req));
      } catch (reason) {
        return requests.map(() => ({ status: "rejected", reason }));
      }
      const results = await this.#dispatch(endpoint, requests, signal, token, maxResponseBytes);
      const rejected = results.some((r) => r.status === "fulfilled" && tokenRejected(r.value));
      if (!auth || !token || round > 0 || !rejected) return results;
      auth.invalidate(endpoint, token);
    }
  }

  #dispatch(
    endpoint: string,
    requests: readonly GatewayRequest[],
    signal: AbortSignal,
    token: string | undefined,
    maxResponseBytes: number | undefined,
  ): Promise<AttemptResults> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (token) headers.authorization = token;
    const reqs = requests.map(
      (r): HttpRequest => ({
        method: "POST",
        url: endpoint + r.path,
        headers,
        body: JSON.stringify(r.body),
        signal,
        ...(maxResponseBytes ? { maxResponseBytes } : {}),
      }),
    );
    const transport = this.#transport;
    if (reqs.length > 1 && transport.pipeline) return Promise.allSettled(transport.pipeline(reqs));
    let previous: Promise<unknown> = Promise.resolve();
    return Promise.allSettled(
      reqs.map((req) => {
        const next = previous.then(
          () => transport.request(req),
          () => transport.request(req),
        );
        previous = next.catch(() => undefined);
        return next;
      }),
    );
  }
}
