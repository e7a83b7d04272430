/**
 * The transport of the etcd watch (watch.ts): the election read, and `POST /v3/watch` streams read with `fetch`,
 * one newline-delimited JSON message at a time. The `Transport` contract returns whole bodies, and a watch
 * answer never ends; every runtime leasehold supports (Node, Deno, Bun, workerd) streams a fetch body, so the
 * stream takes `fetch` while the read and the auth exchange go through the configured transport.
 */
import * as z from "zod/mini";
import {
  deadlineSignal,
  fetchTransport,
  LeaseTimeoutError,
  MalformedResponseError,
  type Transport,
  TransportError,
  toTransportError,
} from "../../src/backend-kit.ts";
import { Authenticator } from "./auth.ts";
import { Dispatcher, gatewayFailure } from "./dispatcher.ts";
import { readAnswer, tokenRejected } from "./gateway-error.ts";
import type { Election } from "./layout.ts";
import { type EtcdOptions, validateAuth, validateEndpoints } from "./options.ts";
import { int, keyValue, parseWire, str, txnResponse } from "./wire.ts";

export interface EtcdWatchOptions extends EtcdOptions {
  /** The fetch that reads the watch stream. Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/** The longest watch message accepted, in bytes: etcd's own request limit is 1.5 MiB. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

const watchMessage = z.object({
  result: z.optional(
    z.object({
      header: z.optional(z.object({ revision: str })),
      created: z.optional(z.boolean()),
      canceled: z.optional(z.boolean()),
      compact_revision: str,
      cancel_reason: str,
      events: z.optional(z.array(z.object({ type: str, kv: keyValue }))),
    }),
  ),
  error: z.optional(z.object({ message: str })),
});
export type WatchResult = NonNullable<z.infer<typeof watchMessage>["result"]>;

export type WatchEvent = NonNullable<WatchResult["events"]>[number];

/** Opens watch streams and makes the election reads, at the endpoints of one cluster, with its credentials. */
export class WatchStreams {
  readonly #endpoints: readonly string[];
  readonly #dispatcher: Dispatcher;
  readonly #auth: Authenticator | undefined;
  readonly #transport: Transport;
  readonly #fetch: typeof fetch;
  #preferred = 0;

  constructor(options: EtcdWatchOptions) {
    this.#endpoints = validateEndpoints(options.endpoints);
    this.#transport = options.transport ?? fetchTransport();
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    const auth = validateAuth(options.auth);
    this.#auth = auth ? new Authenticator(auth) : undefined;
    this.#dispatcher = new Dispatcher({ endpoints: this.#endpoints, transport: this.#transport, auth });
  }

  /** Every candidate of `e` and its term record, at one revision: ONE read-only txn. */
  async read(e: Election, signal: AbortSignal, timeoutMs: number) {
    const ctx = { signal: deadlineSignal(timeoutMs, signal), timeoutMs };
    const body = {
      success: [{ request_range: { key: e.from, range_end: e.to } }, { request_range: { key: e.record } }],
    };
    const res = await this.#dispatcher.post("/v3/kv/txn", body, ctx, { idempotent: true });
    if (res.status !== 200) throw gatewayFailure(res, "watch read");
    const txn = parseWire(txnResponse, res.body, "watch read");
    const revision = int(txn.header.revision);
    if (revision <= 0n) throw new MalformedResponseError("etcd watch read: not a positive revision");
    const [candidates, record] = (txn.responses ?? []).map((r) => r.response_range?.kvs ?? []);
    if (!candidates || !record || record.length > 1) {
      throw new MalformedResponseError("etcd watch read: the responses do not match the ranges");
    }
    return { revision, candidates, record: record[0] };
  }

  /**
   * Opens `POST /v3/watch` at the preferred endpoint, then the others; resolves once the watch is created. The
   * answer and its first message must arrive within `timeoutMs`: a proxy that holds the stream back fails here.
   */
  async open(body: object, signal: AbortSignal, timeoutMs: number): Promise<WatchStream> {
    let failure: unknown;
    for (let i = 0; i < this.#endpoints.length; i++) {
      const index = (this.#preferred + i) % this.#endpoints.length;
      try {
        const stream = await this.#openAt(this.#endpoints[index] as string, body, signal, timeoutMs);
        this.#preferred = index;
        return stream;
      } catch (error) {
        failure = error;
        if (signal.aborted || !(error instanceof TransportError || error instanceof LeaseTimeoutError)) break;
      }
    }
    throw failure;
  }

  async #openAt(
    endpoint: string,
    body: object,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<WatchStream> {
    const stop = new AbortController();
    const connection = AbortSignal.any([signal, stop.signal]);
    const timer = setTimeout(
      () => stop.abort(new DOMException(`no watch message within ${timeoutMs} ms`, "TimeoutError")),
      timeoutMs,
    );
    const url = `${endpoint}/v3/watch`;
    try {
      for (let round = 0; ; round++) {
        const token = await this.#auth?.token(endpoint, connection, (req) => this.#transport.request(req));
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (token) headers.authorization = token;
        const init = {
          method: "POST",
          headers,
          body: JSON.stringify(body),
          signal: connection,
          redirect: "manual",
        };
        const res = await this.#fetch(url, init as RequestInit).catch((error: unknown) => {
          throw toTransportError(error, { method: "POST", url, signal: connection });
        });
        if (res.status === 200 && res.body) {
          const stream = new WatchStream(res.body, stop, url);
          const first = await stream.next();
          if (!first?.created)
            throw new MalformedResponseError(`etcd watch: the first message is not "created"`);
          return stream;
        }
        const answer = readAnswer({
          status: res.status,
          headers: {},
          body: (await res.text()).slice(0, 4096),
        });
        if (this.#auth && token && round === 0 && tokenRejected(answer)) {
          this.#auth.invalidate(endpoint, token);
          continue;
        }
        throw gatewayFailure(answer, "watch");
      }
    } catch (error) {
      stop.abort();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** One watch stream: its newline-delimited JSON messages, parsed. */
export class WatchStream {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #stop: AbortController;
  readonly #url: string;
  readonly #decoder = new TextDecoder();
  #buffer = "";

  constructor(body: ReadableStream<Uint8Array>, stop: AbortController, url: string) {
    this.#reader = body.getReader();
    this.#stop = stop;
    this.#url = url;
  }

  /** The next message's result, or null when the stream ended. @throws {LeaseError} a broken or bad stream. */
  async next(): Promise<WatchResult | null> {
    for (;;) {
      const end = this.#buffer.indexOf("\n");
      const line = end >= 0 ? this.#buffer.slice(0, end) : null;
      if (line !== null) {
        this.#buffer = this.#buffer.slice(end + 1);
        if (line.trim() === "") continue;
        const message = parseWire(watchMessage, line, "watch");
        if (message.error || !message.result) {
          throw new TransportError(`etcd watch: the stream failed: ${message.error?.message ?? "no result"}`);
        }
        return message.result;
      }
      if (this.#buffer.length > MAX_MESSAGE_BYTES) {
        throw new MalformedResponseError(`etcd watch: a message exceeds ${MAX_MESSAGE_BYTES} bytes`);
      }
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await this.#reader.read();
      } catch (error) {
        throw toTransportError(error, { method: "POST", url: this.#url, signal: this.#stop.signal });
      }
      if (chunk.done) return null;
      this.#buffer += this.#decoder.decode(chunk.value, { stream: true });
    }
  }

  close(): void {
    this.#stop.abort();
    this.#reader.cancel().catch(() => undefined);
  }
}
