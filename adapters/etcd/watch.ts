/**
 * The etcd backend with a watch: `Backend.observe` over `POST /v3/watch`, streamed over HTTP. A module of its
 * own, so that code which never observes does not carry it in its bundle.
 *
 * One watch follows an election: the range from the term record key `E` to `E0`, which holds `E` and every
 * candidate key `E/...` (keys of other names that fall between are skipped). It starts with one read-only txn of
 * the whole election (every candidate and the record) at revision R, then watches from R + 1, and keeps the
 * election's keys as the events change them; after each revision it decodes the term from the lowest candidate
 * and the record exactly as `leader()` does. A stream that ends or breaks is opened again from the last revision
 * seen + 1, so no revision is missed or seen twice.
 *
 * The stream is read with `fetch` (Node, Deno, Bun, workerd all stream a response body) rather than through the
 * `Transport`, whose contract returns whole bodies: a custom transport (an undici Agent with client
 * certificates, say) is used for the reads and the auth exchange, and `options.fetch` for the stream.
 */
import * as z from "zod/mini";
import {
  type Backend,
  type BackendObserveOptions,
  deadlineSignal,
  decodeBase64,
  fetchTransport,
  type HttpResponse,
  LeaseTimeoutError,
  MalformedResponseError,
  type ObservedTerm,
  type Transport,
  TransportError,
  toBytes,
  toTransportError,
  UnsupportedError,
} from "../../src/index.ts";
import { Authenticator } from "./auth.ts";
import type { EtcdBackend } from "./backend.ts";
import { Gateway, gatewayFailure } from "./gateway.ts";
import { tokenRejected } from "./gateway-error.ts";
import { etcd } from "./index.ts";
import { type Election, election } from "./layout.ts";
import { type EtcdOptions, validateAuth, validateEndpoints, validatePrefix } from "./options.ts";
import { int, parseWire, txnResponse, type WireKeyValue, type WireResponseOp } from "./wire.ts";

export interface EtcdWatchOptions extends EtcdOptions {
  /** The fetch that reads the watch stream. Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/** The longest watch message accepted, in bytes: etcd's own request limit is 1.5 MiB. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** A stream that breaks this many times in a row before an event is given up (then `observe` polls). */
const MAX_RECONNECTS = 3;

const str = z.optional(z.string());
const keyValue = z.object({
  key: str,
  create_revision: str,
  mod_revision: str,
  version: str,
  value: str,
  lease: str,
});
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
type WatchResult = NonNullable<z.infer<typeof watchMessage>["result"]>;

/**
 * Creates an etcd Backend (as `etcd()` does, with the same options and errors) whose `observe` watches.
 * `observe(backend, name)` then follows the lease with `POST /v3/watch` and falls back to polling when the
 * watch cannot be kept.
 * @throws {InvalidArgumentError} as `etcd()`.
 */
export function etcdWithWatch(options: EtcdWatchOptions): Backend {
  const backend = etcd(options) as Backend & Pick<EtcdBackend, "electionTerm">;
  const prefix = validatePrefix(options.prefix);
  const streams = new WatchStreams(options);
  const observe = (name: string, o: BackendObserveOptions) =>
    watchElection(streams, election(prefix, name), (r) => backend.electionTerm(name, r), o);
  return Object.assign(backend, { observe });
}

/** Opens watch streams and makes the election reads, at the endpoints of one cluster, with its credentials. */
class WatchStreams {
  readonly #endpoints: readonly string[];
  readonly #gateway: Gateway;
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
    this.#gateway = new Gateway({ endpoints: this.#endpoints, transport: this.#transport, auth });
  }

  /** Every candidate of `e` and its term record, at one revision: ONE read-only txn. */
  async read(e: Election, signal: AbortSignal, timeoutMs: number) {
    const ctx = { signal: deadlineSignal(timeoutMs, signal), timeoutMs };
    const body = {
      success: [{ request_range: { key: e.from, range_end: e.to } }, { request_range: { key: e.record } }],
    };
    const res = await this.#gateway.post("/v3/kv/txn", body, ctx, { idempotent: true });
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
        const answer: HttpResponse = {
          status: res.status,
          headers: {},
          body: (await res.text()).slice(0, 4096),
        };
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
class WatchStream {
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

const startsWith = (bytes: Uint8Array, prefix: Uint8Array) =>
  bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);

/** The keys of one election as the watch has seen them: candidates by key (base64), and the term record. */
class ElectionKeys {
  readonly #candidates = new Map<string, WireKeyValue>();
  readonly #e: Election;
  readonly #candidatePrefix: Uint8Array;
  #record: WireKeyValue | undefined;

  constructor(e: Election, candidates: readonly WireKeyValue[], record: WireKeyValue | undefined) {
    this.#e = e;
    this.#candidatePrefix = toBytes(`${e.name}/`);
    for (const kv of candidates) this.#candidates.set(kv.key ?? "", kv);
    this.#record = record;
  }

  /** Applies one event; false when its key is not the election's (another name's key within the range). */
  apply(type: string | undefined, kv: WireKeyValue): boolean {
    const key = kv.key ?? "";
    const isRecord = key === this.#e.record;
    if (!isRecord && !startsWith(decodeBase64(key, "etcd watch event key"), this.#candidatePrefix))
      return false;
    const put = type === undefined || type === "PUT";
    if (!put && type !== "DELETE") throw new MalformedResponseError(`etcd watch: an event of type ${type}`);
    if (isRecord) this.#record = put ? kv : undefined;
    else if (put) this.#candidates.set(key, kv);
    else this.#candidates.delete(key);
    return true;
  }

  /** The two ranges `leader()` reads: the candidate with the lowest create revision, and the record. */
  responses(): WireResponseOp[] {
    let first: WireKeyValue | undefined;
    for (const kv of this.#candidates.values()) {
      if (!first || int(kv.create_revision) < int(first.create_revision)) first = kv;
    }
    // As etcd answers a range: `count` is the number of keys in it, `kvs` the first (limit 1).
    const range = (kv: WireKeyValue | undefined, count: number) => {
      const found = { kvs: kv ? [kv] : [], count: String(count) };
      return { response_range: found };
    };
    return [range(first, this.#candidates.size), range(this.#record, this.#record ? 1 : 0)];
  }
}

/**
 * Follows election `e`: the term at the start, then after every revision that changed its keys. Throws (and
 * `observe` then polls) when the watch cannot go on without a gap: a compacted revision, a canceled watch, a
 * stream that breaks {@link MAX_RECONNECTS} times in a row, or one that cannot be opened again.
 */
export async function* watchElection(
  streams: Pick<WatchStreams, "read" | "open">,
  e: Election,
  decode: (responses: WireResponseOp[]) => ObservedTerm["leader"],
  { signal, requestTimeoutMs }: BackendObserveOptions,
): AsyncGenerator<ObservedTerm> {
  const start = await streams.read(e, signal, requestTimeoutMs);
  const keys = new ElectionKeys(e, start.candidates, start.record);
  let revision = start.revision;
  let started = false;
  let broken = 0;
  while (!signal.aborted) {
    const request = {
      create_request: { key: e.record, range_end: e.to, start_revision: String(revision + 1n) },
    };
    const stream = await streams.open(request, signal, requestTimeoutMs);
    const openedAt = Date.now();
    try {
      // The start is reported once a stream follows it, so that `watch` mode means one does.
      if (!started) {
        started = true;
        yield { leader: decode(keys.responses()), revision };
      }
      for (;;) {
        const result = await stream.next().catch((error: unknown) => {
          if (signal.aborted) throw error;
          return error as Error;
        });
        if (result === null || result instanceof Error) {
          // A stream that lived a while broke once; one that keeps breaking at once is given up.
          if (Date.now() - openedAt > requestTimeoutMs) broken = 0;
          if (++broken > MAX_RECONNECTS) {
            throw result ?? new TransportError("etcd watch: the stream keeps ending");
          }
          break;
        }
        if (result.compact_revision !== undefined) {
          throw new UnsupportedError(
            `etcd watch: revision ${revision + 1n} is compacted (to ${result.compact_revision}); the changes since cannot be replayed`,
          );
        }
        if (result.canceled)
          throw new TransportError(`etcd watch canceled: ${result.cancel_reason ?? "no reason"}`);
        for (const group of byRevision(result.events ?? [], revision)) {
          broken = 0;
          revision = group.revision;
          let touched = false;
          for (const event of group.events) touched = keys.apply(event.type, event.kv) || touched;
          if (touched) yield { leader: decode(keys.responses()), revision };
        }
      }
    } finally {
      stream.close();
    }
  }
}

type WatchEvent = NonNullable<WatchResult["events"]>[number];

/** Events grouped by their revision (one store transaction each), in order, all after `after`. */
function byRevision(events: readonly WatchEvent[], after: bigint) {
  const groups: { revision: bigint; events: WatchEvent[] }[] = [];
  let last = after;
  for (const event of events) {
    const at = int(event.kv.mod_revision);
    const group = groups[groups.length - 1];
    if (group && at === group.revision) group.events.push(event);
    else if (at > last) groups.push({ revision: at, events: [event] });
    else throw new MalformedResponseError(`etcd watch: an event at revision ${at} after revision ${last}`);
    last = at;
  }
  return groups;
}
