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
import { type AttemptResults, backoffMs, EndpointRing, neverSent, shouldFailOver } from "./failover.ts";
import { tokenRejected } from "./gateway-error.ts";
import type { EtcdAuth } from "./options.ts";

export { type GatewayError, GrpcCode, gatewayFailure, readGatewayError } from "./gateway-error.ts";

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
}

interface GatewayRequest {
  path: string;
  body: unknown;
}

export class Gateway {
  readonly #ring: EndpointRing;
  readonly #transport: Transport;
  readonly #auth: Authenticator | undefined;
  readonly #maxAttempts: number;
  readonly #attemptTimeoutMs: number | undefined;
  readonly #clock: Clock;
  readonly #random: () => number;

  constructor(options: GatewayOptions) {
    this.#ring = new EndpointRing(options.endpoints);
    this.#transport = options.transport;
    this.#auth = options.auth ? new Authenticator(options.auth) : undefined;
    const n = options.endpoints.length;
    this.#maxAttempts = options.maxAttempts ?? (n === 1 ? 1 : 2 * n);
    this.#attemptTimeoutMs = options.attemptTimeoutMs;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
  }

  /** POSTs `body` as JSON to `path` (e.g. `/v3/kv/txn`) and returns the raw response, whatever its status. */
  async post(
    path: string,
    body: unknown,
    ctx: CallContext,
    options: SendOptions = { idempotent: false },
  ): Promise<HttpResponse> {
    const result = (
      await this.#send([{ path, body }], ctx, options)
    )[0] as PromiseSettledResult<HttpResponse>;
    if (result.status === "rejected") throw result.reason;
    return result.value;
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

  async #send(requests: readonly GatewayRequest[], ctx: CallContext, options: SendOptions) {
    const start = this.#ring.start();
    let results: AttemptResults = [];
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      if (attempt > 0) {
        const slept = await this.#clock.sleep(backoffMs(attempt, this.#random), ctx.signal).then(
          () => true,
          () => false,
        );
        if (!slept) break;
      }
      const endpoint = this.#ring.at(start, attempt);
      results = await this.#exchange(endpoint, requests, this.#attemptSignal(ctx, options));
      if (!shouldFailOver(results)) {
        this.#ring.succeeded(endpoint);
        return results;
      }
      this.#ring.failed(endpoint);
      if (ctx.signal.aborted || !(options.idempotent || neverSent(results))) break;
    }
    return results;
  }

  /** The signal of one attempt: the call's own, cut shorter when another endpoint may still be tried. */
  #attemptSignal(ctx: CallContext, options: SendOptions): AbortSignal {
    if (!options.idempotent || this.#maxAttempts === 1) return ctx.signal;
    const ms =
      this.#attemptTimeoutMs ??
      (this.#ring.endpoints.length > 1 && ctx.timeoutMs !== undefined ? ctx.timeoutMs / 2 : undefined);
    return ms === undefined ? ctx.signal : deadlineSignal(ms, ctx.signal);
  }

  /** One attempt at one endpoint, with the token; a token etcd refuses is replaced once. */
  async #exchange(
    endpoint: string,
    requests: readonly GatewayRequest[],
    signal: AbortSignal,
  ): Promise<AttemptResults> {
    const auth = this.#auth;
    if (!auth) return this.#dispatch(endpoint, requests, signal, undefined);
    const send = (req: HttpRequest) => this.#transport.request(req);
    const rejectAll = (reason: unknown): AttemptResults =>
      requests.map(() => ({ status: "rejected", reason }));
    let token: string;
    try {
      token = await auth.token(endpoint, signal, send);
    } catch (error) {
      return rejectAll(error);
    }
    const results = await this.#dispatch(endpoint, requests, signal, token);
    if (!results.some((r) => r.status === "fulfilled" && tokenRejected(r.value))) return results;
    auth.invalidate(endpoint, token);
    try {
      token = await auth.token(endpoint, signal, send);
    } catch (error) {
      return rejectAll(error);
    }
    return this.#dispatch(endpoint, requests, signal, token);
  }

  #dispatch(
    endpoint: string,
    requests: readonly GatewayRequest[],
    signal: AbortSignal,
    token: string | undefined,
  ): Promise<AttemptResults> {
    const reqs = requests.map(
      (r): HttpRequest => ({
        method: "POST",
        url: endpoint + r.path,
        headers: token
          ? { "content-type": "application/json", authorization: token }
          : { "content-type": "application/json" },
        body: JSON.stringify(r.body),
        signal,
      }),
    );
    const transport = this.#transport;
    if (reqs.length === 1) return Promise.allSettled([transport.request(reqs[0] as HttpRequest)]);
    if (transport.pipeline) return Promise.allSettled(transport.pipeline(reqs));
    let previous: Promise<unknown> = Promise.resolve();
    const inOrder = reqs.map((req) => {
      const next = previous.then(
        () => transport.request(req),
        () => transport.request(req),
      );
      previous = next.catch(() => undefined);
      return next;
    });
    return Promise.allSettled(inOrder);
  }
}
