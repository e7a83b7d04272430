/**
 * The client-side dispatcher of requests to etcd's JSON gateway (the server): a request is built once, sent
 * to the preferred endpoint with the auth token, and its answer read once into an {@link Answer}; the resend
 * policy (resend.ts) then decides whether it stands. Single requests take a direct path; pipelined sequences go through the same loop and policy.
 * Non-200 answers are returned as they are; the backend maps them with {@link gatewayFailure}.
 */
import {
  type CallContext,
  type Clock,
  systemClock,
  type Transport,
  withDeadline,
} from "../../src/backend-kit.ts";
import { Authenticator } from "./auth.ts";
import { type Answer, allFailed, attemptFailure, readAnswer } from "./gateway-error.ts";
import type { EtcdAuth } from "./options.ts";
import { backoffMs, type Outcome, resend, type Verdict } from "./resend.ts";

export { type Answer, gatewayFailure } from "./gateway-error.ts";

export interface DispatcherOptions {
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
  maxResponseBytes?: number | undefined;
}

interface DispatchRequest {
  path: string;
  body: unknown;
}

/** Sends one attempt's requests to `endpoint` and reads each outcome. */
type Exchange = (
  endpoint: string,
  headers: Record<string, string>,
  signal: AbortSignal,
) => Promise<Outcome[]>;

const JSON_HEADERS: Record<string, string> = { "content-type": "application/json" };

const failed = (error: unknown): Outcome => ({ error });
const posting = ({ maxResponseBytes }: SendOptions) => ({ method: "POST", maxResponseBytes }) as const;
/** @throws {LeaseError} the outcome is a failure. */
const answerOf = (outcome: Outcome): Answer => {
  if ("error" in outcome) throw outcome.error;
  return outcome;
};

export class Dispatcher {
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

  constructor(options: DispatcherOptions) {
    this.#endpoints = options.endpoints;
    this.#transport = options.transport;
    this.#auth = options.auth ? new Authenticator(options.auth) : undefined;
    const n = options.endpoints.length;
    this.#maxAttempts = options.maxAttempts ?? (n === 1 ? 1 : 2 * n);
    this.#attemptTimeoutMs = options.attemptTimeoutMs;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
  }

  /**
   * POSTs `body` as JSON to `path` (e.g. `/v3/kv/txn`) and returns its answer, whatever its status: the direct
   * path of a single request. A string `body` is taken as the JSON text itself: a request sent again and again
   * (an election's read) is serialised once by its caller.
   * @throws {LeaseError} no answer (the transport's error, or the token's when authentication failed).
   */
  async post(path: string, body: object | string, ctx: CallContext, options: SendOptions): Promise<Answer> {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    const post = posting(options);
    const [outcome] = await this.#attempts(
      (endpoint, headers, signal) =>
        this.#transport.request({ ...post, url: endpoint + path, headers, body: text, signal }).then(
          (res) => [readAnswer(res)],
          (error) => [failed(error)],
        ),
      ctx,
      options,
    );
    return answerOf(outcome as Outcome);
  }

  /**
   * Sends the requests in order, pipelined on one connection when the transport can (one round trip), else
   * each after the previous one settled, and returns their answers once all are in. A resend sends the whole
   * sequence again.
   * @throws {LeaseError} the first request of the sequence that got no answer.
   */
  async postInOrder(
    requests: readonly DispatchRequest[],
    ctx: CallContext,
    options: SendOptions,
  ): Promise<Answer[]> {
    const texts = requests.map((r) => JSON.stringify(r.body));
    const post = posting(options);
    const transport = this.#transport;
    const outcomes = await this.#attempts(
      async (endpoint, headers, signal) => {
        const reqs = requests.map((r, i) => ({
          ...post,
          url: endpoint + r.path,
          headers,
          body: texts[i] as string,
          signal,
        }));
        if (transport.pipeline)
          return Promise.all(transport.pipeline(reqs).map((p) => p.then(readAnswer, failed)));
        const outcomes: Outcome[] = [];
        for (const req of reqs) outcomes.push(await transport.request(req).then(readAnswer, failed));
        return outcomes;
      },
      ctx,
      options,
    );
    return outcomes.map(answerOf);
  }

  close(): Promise<void> {
    return this.#transport.close?.() ?? Promise.resolve();
  }

  /** What errors must never show: the password and every token etcd issued to this dispatcher. */
  secrets(): readonly string[] {
    return this.#auth?.secrets() ?? [];
  }

  /** Attempts `exchange` at the preferred endpoint, then as the resend policy says. */
  async #attempts(exchange: Exchange, ctx: CallContext, options: SendOptions): Promise<Outcome[]> {
    const endpoints = this.#endpoints;
    const auth = this.#auth;
    const start = this.#preferred;
    let outcomes: Outcome[] = [];
    /** Each endpoint tried and its last failure, for the error of a call that none served. */
    const failures = new Map<string, string>();
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      // The backoff sleep rejects once the call's signal fires: then the last outcome stands.
      const slept =
        attempt === 0 ||
        (await this.#clock.sleep(backoffMs(attempt, this.#random), ctx.signal).then(
          () => true,
          () => false,
        ));
      if (!slept) break;
      const index = (start + attempt) % endpoints.length;
      const endpoint = endpoints[index] as string;
      const tryEndpoint = async (signal: AbortSignal) => {
        let token: string | undefined;
        let verdict: Verdict = "token";
        for (let fresh = true; verdict === "token"; fresh = false) {
          if (token) auth?.invalidate(endpoint, token);
          try {
            token = auth
              ? await auth.token(endpoint, signal, (req) => this.#transport.request(req))
              : undefined;
            outcomes = await exchange(
              endpoint,
              token ? { ...JSON_HEADERS, authorization: token } : JSON_HEADERS,
              signal,
            );
          } catch (error) {
            token = undefined;
            outcomes = [failed(error)];
          }
          verdict = resend(outcomes, {
            idempotent: options.idempotent,
            freshToken: fresh && !!token,
            retry: attempt + 1 < this.#maxAttempts && !ctx.signal.aborted,
          });
        }
        return verdict;
      };
      const ms = this.#attemptMs(ctx, options);
      const verdict =
        ms === undefined ? await tryEndpoint(ctx.signal) : await withDeadline(ms, ctx.signal, tryEndpoint);
      if (verdict === "ok") {
        this.#preferred = index;
        return outcomes;
      }
      if (index === this.#preferred) this.#preferred = (index + 1) % endpoints.length;
      failures.set(endpoint, attemptFailure(outcomes));
      if (verdict === "fail") break;
    }
    return failures.size > 1 ? allFailed(outcomes, failures, endpoints.length) : outcomes;
  }

  /**
   * The deadline of one attempt, in ms, when it is cut shorter than the call's own (undefined: the call's
   * signal alone) because another endpoint may still be tried.
   */
  #attemptMs(ctx: CallContext, options: SendOptions): number | undefined {
    if (!options.idempotent || this.#maxAttempts === 1) return undefined;
    return (
      this.#attemptTimeoutMs ??
      (this.#endpoints.length > 1 && ctx.timeoutMs !== undefined ? ctx.timeoutMs / 2 : undefined)
    );
  }
}
