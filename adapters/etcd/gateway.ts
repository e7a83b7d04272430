/**
 * One place where requests to etcd's JSON gateway are made and where non-200 answers become typed errors.
 */
import {
  AuthError,
  type CallContext,
  type HttpRequest,
  type HttpResponse,
  HttpStatusError,
  type LeaseError,
  type Transport,
} from "../../src/index.ts";
import { errorBody } from "./wire.ts";

/** gRPC status codes the gateway puts in error bodies (`code`). */
export const GrpcCode = {
  NotFound: 5,
  FailedPrecondition: 9,
  PermissionDenied: 7,
  Unauthenticated: 16,
} as const;

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

/** Maps a non-200 gateway answer to a typed error. */
export function gatewayFailure(res: HttpResponse, what: string): LeaseError {
  const { code, message } = readGatewayError(res);
  const detail = `etcd ${what}: ${message || "no message"}`;
  if (res.status === 401 || code === GrpcCode.Unauthenticated || code === GrpcCode.PermissionDenied) {
    return new AuthError(detail);
  }
  return new HttpStatusError(res.status, detail);
}

export interface GatewayOptions {
  endpoints: readonly string[];
  transport: Transport;
}

/** Sends JSON POSTs to the gateway's first endpoint. */
export class Gateway {
  readonly #endpoint: string;
  readonly #transport: Transport;

  constructor(options: GatewayOptions) {
    this.#endpoint = options.endpoints[0] as string;
    this.#transport = options.transport;
  }

  /** POSTs `body` as JSON to `path` (e.g. `/v3/kv/txn`) and returns the raw response, whatever its status. */
  post(path: string, body: unknown, ctx: CallContext): Promise<HttpResponse> {
    return this.#transport.request(this.#request(path, body, ctx));
  }

  /**
   * Sends the requests in order: pipelined on one connection when the transport can (one round trip), else
   * each after the previous one settled. One promise per request.
   */
  postInOrder(
    requests: readonly { path: string; body: unknown }[],
    ctx: CallContext,
  ): Promise<HttpResponse>[] {
    const transport = this.#transport;
    if (transport.pipeline)
      return transport.pipeline(requests.map((r) => this.#request(r.path, r.body, ctx)));
    let previous: Promise<unknown> = Promise.resolve();
    return requests.map((r) => {
      const next = previous.then(
        () => transport.request(this.#request(r.path, r.body, ctx)),
        () => transport.request(this.#request(r.path, r.body, ctx)),
      );
      previous = next.catch(() => undefined);
      return next;
    });
  }

  #request(path: string, body: unknown, ctx: CallContext): HttpRequest {
    return {
      method: "POST",
      url: this.#endpoint + path,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: ctx.signal,
    };
  }

  close(): Promise<void> {
    return this.#transport.close?.() ?? Promise.resolve();
  }
}
