/**
 * The HTTP side of the ZooKeeper REST client: requests to one gateway, with its basic auth, sent one at a time
 * or in order on one connection.
 */
import {
  type CallContext,
  encodeBase64,
  type HttpMethod,
  type HttpRequest,
  type HttpResponse,
  type Transport,
} from "../../src/backend-kit.ts";
import type { ZooKeeperAuth } from "./options.ts";

export const JSON_TYPE = "application/json";
export const OCTET_TYPE = "application/octet-stream";

/** An empty octet-stream body, for the calls whose answer depends on the URL alone. */
export const NO_BODY = { type: OCTET_TYPE, data: new Uint8Array(0) } as const;

/** A request body and its content type. */
export interface Body {
  type: string;
  data: Uint8Array | string;
}

export class RestHttp {
  /** The gateway's origin and base path, e.g. `http://127.0.0.1:9998`. */
  readonly base: string;
  readonly transport: Transport;
  readonly #authorization: string | undefined;
  readonly #password: string;

  constructor(base: string, transport: Transport, auth: ZooKeeperAuth | undefined) {
    this.base = base;
    this.transport = transport;
    this.#password = auth?.password ?? "";
    this.#authorization = auth
      ? `Basic ${encodeBase64(new TextEncoder().encode(`${auth.username}:${auth.password}`))}`
      : undefined;
  }

  /** A request for `url`, JSON answers asked for; `maxResponseBytes` as `HttpRequest`'s (default the transport's). */
  request(
    method: HttpMethod,
    url: string,
    ctx: CallContext,
    body?: Body,
    maxResponseBytes?: number,
  ): HttpRequest {
    const headers: Record<string, string> = { accept: JSON_TYPE };
    if (this.#authorization) headers.authorization = this.#authorization;
    if (body) headers["content-type"] = body.type;
    const payload =
      body === undefined ? undefined : typeof body.data === "string" ? body.data : copy(body.data);
    return {
      method,
      url,
      headers,
      signal: ctx.signal,
      ...(payload === undefined ? {} : { body: payload }),
      ...(maxResponseBytes === undefined ? {} : { maxResponseBytes }),
    };
  }

  /** What errors must never show: the password and the authorization header made of it. */
  secrets(): string[] {
    const header = this.#authorization;
    return header ? [this.#password, header.slice(6)] : [];
  }

  send(req: HttpRequest): Promise<HttpResponse> {
    return this.transport.request(req);
  }

  /** Sends one {@link request}. */
  call(method: HttpMethod, url: string, ctx: CallContext, body?: Body): Promise<HttpResponse> {
    return this.send(this.request(method, url, ctx, body));
  }

  /**
   * Sends requests in order: pipelined on one connection when the transport can, else each after the
   * previous one settled. One promise per request.
   */
  inOrder(reqs: readonly HttpRequest[]): Promise<HttpResponse>[] {
    const transport = this.transport;
    if (transport.pipeline) return transport.pipeline(reqs);
    let previous: Promise<unknown> = Promise.resolve();
    return reqs.map((req) => {
      const next = previous.then(
        () => transport.request(req),
        () => transport.request(req),
      );
      previous = next.catch(() => undefined);
      return next;
    });
  }
}

/** A fresh ArrayBuffer-backed copy, as `HttpRequest.body` wants. */
function copy(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out;
}
