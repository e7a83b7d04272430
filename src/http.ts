/**
 * The HTTP seam. Backends speak to stores only through a {@link Transport}; the default one is `fetch`, so the
 * core runs wherever `fetch` runs (Workers, Deno, Bun, Node). `leasehold/node` offers an undici transport.
 */
import { LeaseError, LeaseTimeoutError, MalformedResponseError, TransportError } from "./errors.ts";
import { failureReason } from "./failure-reason.ts";

export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "DELETE";

export interface HttpRequest {
  method: HttpMethod;
  /** Absolute URL. Never contains credentials: those travel in headers, so error messages may quote it. */
  url: string;
  headers?: Readonly<Record<string, string>>;
  body?: string | Uint8Array<ArrayBuffer>;
  /** Aborts the request. When it aborts with a `TimeoutError` reason, the transport throws {@link LeaseTimeoutError}. */
  signal: AbortSignal;
  /** The largest response body accepted, in bytes; default (also when undefined) {@link MAX_RESPONSE_BYTES}. */
  maxResponseBytes?: number | undefined;
}

/**
 * The default cap on a response body, in bytes: lease answers are a few hundred bytes, so anything near this
 * is not a lease answer, and parsing it would only cost time past the deadline.
 */
export const MAX_RESPONSE_BYTES = 65_536;

/** The error of a response body over `max` bytes. Shared by every transport. */
export const tooLarge = (req: Pick<HttpRequest, "method" | "url">, max: number) =>
  new MalformedResponseError(`${req.method} ${redactUrl(req.url)}: the answer exceeds ${max} bytes`);

export interface HttpResponse {
  status: number;
  /** Header names in lower case. */
  headers: Readonly<Record<string, string>>;
  /** The whole body as text ("" for HEAD and empty bodies). */
  body: string;
}

/**
 * Sends one HTTP request and returns the whole response. Any HTTP status is a response, not an error: the
 * backend decides what a status means. Redirects are never followed (a 3xx is the response): following one
 * would send the credentials to wherever the server points.
 *
 * @throws {MalformedResponseError} the body exceeds `req.maxResponseBytes`; reading stops there.
 * @throws {LeaseTimeoutError} the signal aborted with a timeout reason.
 * @throws {TransportError} no response: connection refused or reset, DNS or TLS failure, other abort.
 */
export interface Transport {
  request(req: HttpRequest): Promise<HttpResponse>;
  /**
   * Optional: sends the requests in order on one connection without waiting for the earlier responses
   * (HTTP/1.1 pipelining), one promise per request in the same order. The server must process them in that
   * order, so HTTP/2 streams do not qualify (they run concurrently). Only offered where it is safe: the
   * requests must be independent of each other's responses, and a later one must be harmless when an earlier
   * one fails.
   */
  pipeline?(reqs: readonly HttpRequest[]): Promise<HttpResponse>[];
  /** Releases pooled connections. */
  close?(): Promise<void>;
}

/**
 * An AbortSignal that fires with a `TimeoutError` after `ms` milliseconds, combined with an optional caller signal.
 * For a signal whose end is not known; a call with a scope uses {@link withDeadline}, which costs less.
 */
export function deadlineSignal(ms: number, signal?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(Math.max(1, Math.ceil(ms)));
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/**
 * Runs `call` with a signal that aborts with a `TimeoutError` (a `DOMException`, as `AbortSignal.timeout` gives)
 * after `ms` milliseconds, or with the reason of the caller's `signal` when that aborts first. One controller and
 * one timer: both are released once `call` settles, so a finished call keeps no timer and no listener on
 * `signal` (`AbortSignal.timeout` and `AbortSignal.any` cost several times more per call, and keep their timer
 * until it fires).
 */
export async function withDeadline<T>(
  ms: number,
  signal: AbortSignal | undefined,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  // A fractional `ms` may fire up to 1 ms early where timers truncate: early is the safe side of a deadline.
  const timer = setTimeout(() => controller.abort(new DOMException("deadline", "TimeoutError")), ms);
  const onAbort = () => controller.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort);
  try {
    return await call(controller.signal);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * Maps whatever a failed request threw to a typed leasehold error. Shared by every transport. A request that
 * got no answer is a {@link TransportError} whose message names the root cause and what to check, e.g.
 * `POST http://127.0.0.1:2379/v3/kv/txn failed: connection refused (ECONNREFUSED): is the server listening at
 * http://127.0.0.1:2379?`; the platform's error stays its `cause`.
 */
export function toTransportError(
  error: unknown,
  req: Pick<HttpRequest, "method" | "url" | "signal">,
): LeaseError {
  if (error instanceof LeaseError) return error;
  const what = `${req.method} ${redactUrl(req.url)}`;
  if (req.signal.aborted) {
    const reason: unknown = req.signal.reason;
    if (reason instanceof Error && reason.name === "TimeoutError") {
      return new LeaseTimeoutError(`${what} timed out`, { cause: reason });
    }
    return new TransportError(`${what} was aborted`, { cause: reason, retryable: false });
  }
  return new TransportError(`${what} failed: ${failureReason(error, req.url)}`, { cause: error });
}

/** Request URLs carry no credentials (see {@link HttpRequest}); the query is left out of messages all the same. */
const redactUrl = (url: string) => url.split("?", 1)[0];

export interface FetchTransportOptions {
  /** The fetch implementation; defaults to the global `fetch`. */
  fetch?: typeof fetch;
}

/** Reads a body as UTF-8 text, cancelling the stream as soon as it passes `max` bytes. */
async function readCapped(res: Response, req: HttpRequest): Promise<string> {
  const max = req.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  const reader = res.body?.getReader();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  for (let size = 0; reader; ) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      reader.cancel().catch(() => undefined);
      throw tooLarge(req, max);
    }
    chunks.push(value);
  }
  // Decoded once, as UTF-8 with replacement characters, as TextDecoder does.
  return new Blob(chunks).text();
}

/** The default transport: the platform's `fetch`. Works on Workers, Deno, Bun and Node. */
export function fetchTransport(options: FetchTransportOptions = {}): Transport {
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  return {
    async request(req) {
      try {
        // fetch reads absent and undefined init fields alike.
        const init = {
          method: req.method,
          headers: req.headers,
          body: req.body,
          signal: req.signal,
          redirect: "manual",
        };
        const res = await doFetch(req.url, init as RequestInit);
        return {
          status: res.status,
          headers: Object.fromEntries(res.headers),
          body: await readCapped(res, req),
        };
      } catch (error) {
        throw toTransportError(error, req);
      }
    },
  };
}
