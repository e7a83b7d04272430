/**
 * Fault injection for HTTP backends: a Transport wrapper that corrupts, fails, stalls or "loses" chosen
 * requests, so the suite can prove that doubt never turns into leadership.
 */
import {
  type HttpRequest,
  LeaseTimeoutError,
  type Transport,
  toTransportError,
} from "../../src/backend-kit.ts";

export type Fault =
  /** The store's answer is replaced with text that is not JSON. */
  | "garble"
  /** The answer is valid JSON of the wrong shape. */
  | "wrong-shape"
  /** The store is not asked; the answer is HTTP 503. */
  | "http-503"
  /** No answer until the call's deadline aborts the request. */
  | "hang"
  /** The store receives and executes the request, but its answer is lost (a timeout after the fact). */
  | "lose-response";

/** Wraps `base`; `pick(req, index)` chooses the fault for the index-th request (0-based), or none. */
export function faultyTransport(
  base: Transport,
  pick: (req: HttpRequest, index: number) => Fault | undefined,
): Transport & { count(): number } {
  let index = 0;
  return {
    count: () => index,
    async request(req) {
      const fault = pick(req, index++);
      switch (fault) {
        case undefined:
          return base.request(req);
        case "garble":
          return { ...(await base.request(req)), status: 200, body: '{"header": {"revision": "1"' };
        case "wrong-shape":
          return {
            ...(await base.request(req)),
            status: 200,
            body: '{"header": 42, "result": [], "kvs": "no"}',
          };
        case "http-503":
          return { status: 503, headers: {}, body: "upstream unavailable" };
        case "hang":
          return new Promise((_, reject) => {
            const abort = () => reject(toTransportError(req.signal.reason, req));
            if (req.signal.aborted) abort();
            else req.signal.addEventListener("abort", abort, { once: true });
          });
        case "lose-response":
          await base.request(req);
          throw new LeaseTimeoutError(`${req.method} ${req.url}: response lost (injected)`);
      }
    },
  };
}
