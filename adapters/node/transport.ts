/**
 * The Node transport: undici with keep-alive connections per endpoint. Single requests share a `Pool` (one
 * request per connection at a time, so a slow answer never holds up another lease's renewal); pipelined
 * sequences (claim's grant+txn) go together on one connection of their own, written without waiting for the
 * first answer, so a fresh claim costs one round trip.
 */
import { Client, type Dispatcher, Pool } from "undici";
import {
  type HttpRequest,
  type HttpResponse,
  InvalidArgumentError,
  type Transport,
  toTransportError,
} from "../../src/backend-kit.ts";
import { MAX_RESPONSE_BYTES, tooLarge } from "../../src/http.ts";

type Pem = string | Buffer;

/** TLS material for https endpoints, PEM-encoded (file contents, not paths). Server verification is always on. */
export interface UndiciTlsOptions {
  /** CA certificates that sign the etcd servers' certificates; default: Node's bundled public CAs. */
  ca?: Pem | readonly Pem[];
  /** Client certificate, for etcd's `--client-cert-auth`. Requires `key`. */
  cert?: Pem;
  /** Private key of `cert`. */
  key?: Pem;
}

export interface UndiciTransportOptions {
  tls?: UndiciTlsOptions;
  /** Most keep-alive connections per endpoint for single requests; further requests queue. Default 32. */
  connections?: number;
  /**
   * How long an idle connection is kept open, in ms, unless the server's `Keep-Alive` header says less.
   * Default 30 000: etcd does not close idle client connections, and renewals come every few seconds.
   */
  keepAliveTimeoutMs?: number;
}

const DEFAULT_CONNECTIONS = 32;
const DEFAULT_KEEP_ALIVE_MS = 30_000;
/** Depth of the connections that carry pipelined sequences (claim sends 2). */
const PIPELINE_DEPTH = 8;

function positiveInteger(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(field, "must be a positive integer");
  }
  return value;
}

function isPem(value: unknown): value is Pem {
  return typeof value === "string" || Buffer.isBuffer(value);
}

function validateTls(tls: unknown): UndiciTlsOptions | undefined {
  if (tls === undefined) return undefined;
  if (typeof tls !== "object" || tls === null) {
    throw new InvalidArgumentError("tls", "must be an object with ca, cert and key (PEM strings or Buffers)");
  }
  const { ca, cert, key } = tls as Record<string, unknown>;
  if (ca !== undefined && !isPem(ca) && !(Array.isArray(ca) && ca.every(isPem))) {
    throw new InvalidArgumentError("tls.ca", "must be PEM text or a Buffer, or an array of them");
  }
  if (cert !== undefined && !isPem(cert))
    throw new InvalidArgumentError("tls.cert", "must be PEM text or a Buffer");
  if (key !== undefined && !isPem(key))
    throw new InvalidArgumentError("tls.key", "must be PEM text or a Buffer");
  if ((cert === undefined) !== (key === undefined)) {
    throw new InvalidArgumentError(
      cert === undefined ? "tls.cert" : "tls.key",
      "tls.cert and tls.key go together",
    );
  }
  return tls as UndiciTlsOptions;
}

/** undici names headers in lower case already; only repeated headers (arrays) need joining. */
function toHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  let headers: Record<string, string | string[] | undefined> = raw;
  for (const name in raw) {
    const value = raw[name];
    if (typeof value === "string") continue;
    if (headers === raw) headers = { ...raw };
    if (value === undefined) delete headers[name];
    else headers[name] = value.join(", ");
  }
  return headers as Record<string, string>;
}

interface Target {
  origin: string;
  path: string;
}

/** Origin and path of each URL requested: a few per endpoint, parsed once. */
const targets = new Map<string, Target>();

/** @throws {TypeError} `url` is not a URL. */
function target(url: string): Target {
  let parsed = targets.get(url);
  if (!parsed) {
    const u = new URL(url);
    parsed = { origin: u.origin, path: u.pathname + u.search };
    if (targets.size >= 1024) targets.clear();
    targets.set(url, parsed);
  }
  return parsed;
}

/**
 * One exchange, straight on undici's dispatch handler: the body is collected as it arrives, at most
 * `req.maxResponseBytes` (past that the request is aborted, which closes its connection), and the signal aborts
 * the request. Never follows redirects (undici does not, without its redirect interceptor): a 3xx is returned.
 */
function send(
  dispatcher: Dispatcher,
  req: HttpRequest,
  to: Target,
  pipelined = false,
): Promise<HttpResponse> {
  const { signal } = req;
  const max = req.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  return new Promise((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    let status = 0;
    let headers: Record<string, string> = {};
    let chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = () => {
      settled = true;
      signal.removeEventListener("abort", onAbort);
    };
    const fail = (error: unknown) => {
      if (settled) return;
      settle();
      controller?.abort(error as Error);
      reject(toTransportError(error, req));
    };
    const onAbort = () => fail(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort);
    const options: Dispatcher.DispatchOptions = { origin: to.origin, path: to.path, method: req.method };
    if (req.headers) options.headers = req.headers;
    if (req.body !== undefined) options.body = req.body;
    // Idempotent and non-blocking, undici writes each request without waiting for the answer to the previous
    // one; the caller only pipelines requests that are safe to repeat (Transport.pipeline).
    if (pipelined) {
      options.idempotent = true;
      options.blocking = false;
    }
    try {
      dispatcher.dispatch(options, {
        onRequestStart(c) {
          controller = c;
          chunks = [];
          size = 0;
          if (settled) c.abort(signal.reason);
        },
        onResponseStart(_, statusCode, raw) {
          // An informational (1xx) answer is followed by the final one, which replaces it here.
          status = statusCode;
          headers = toHeaders(raw as Record<string, string | string[] | undefined>);
        },
        onResponseData(_, chunk) {
          size += chunk.length;
          if (size > max) fail(tooLarge(req, max));
          else chunks.push(chunk);
        },
        onResponseEnd() {
          if (settled) return;
          settle();
          // An answer mostly comes in one chunk: decoded in place, without a copy.
          const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
          resolve({ status, headers, body: body.toString("utf8") });
        },
        onResponseError(_, error) {
          fail(error);
        },
      });
    } catch (error) {
      fail(error);
    }
  });
}

/**
 * Creates the undici transport. Pass it to a backend, e.g. `etcd({ endpoints, transport: undiciTransport() })`,
 * and call the backend's `close()` (or this transport's) at shutdown: it lets requests in flight finish (each
 * is bounded by its deadline) and closes every connection.
 * @throws {InvalidArgumentError} an option breaks a rule (`tls`, `tls.ca`, `tls.cert`, `tls.key`,
 *   `connections`, `keepAliveTimeoutMs`).
 */
export function undiciTransport(options: UndiciTransportOptions = {}): Transport {
  const tls = validateTls(options.tls);
  const connections = positiveInteger(options.connections, "connections", DEFAULT_CONNECTIONS);
  const keepAliveTimeout = positiveInteger(
    options.keepAliveTimeoutMs,
    "keepAliveTimeoutMs",
    DEFAULT_KEEP_ALIVE_MS,
  );
  const clientOptions = {
    keepAliveTimeout,
    ...(tls ? { connect: { ...tls, ca: tls.ca as Pem | Pem[] | undefined } } : {}),
  };
  const pools = new Map<string, Pool>();
  const idlePipelines = new Map<string, Client[]>();
  const pipelines = new Set<Client>();

  const poolFor = (origin: string): Pool => {
    let pool = pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, { ...clientOptions, connections });
      pools.set(origin, pool);
    }
    return pool;
  };

  const takePipeline = (origin: string): Client => {
    const idle = idlePipelines.get(origin) ?? [];
    idlePipelines.set(origin, idle);
    for (let client = idle.pop(); client; client = idle.pop()) {
      if (!client.closed && !client.destroyed) return client;
      pipelines.delete(client);
    }
    // HTTP/1.1 only: over HTTP/2 (which undici negotiates on TLS by default) the requests of a sequence would be
    // concurrent streams, and etcd could apply a claim's txn before its lease grant.
    const client = new Client(origin, { ...clientOptions, pipelining: PIPELINE_DEPTH, allowH2: false });
    pipelines.add(client);
    return client;
  };

  const returnPipeline = (origin: string, client: Client): void => {
    const idle = idlePipelines.get(origin) ?? [];
    if (!client.closed && !client.destroyed && idle.length < connections) {
      idle.push(client);
      return;
    }
    pipelines.delete(client);
    client.close().catch(() => undefined);
  };

  return {
    request(req) {
      let to: Target;
      try {
        to = target(req.url);
      } catch (error) {
        return Promise.reject(toTransportError(error, req));
      }
      return send(poolFor(to.origin), req, to);
    },

    pipeline(reqs) {
      let urls: Target[];
      try {
        urls = reqs.map((r) => target(r.url));
        if (new Set(urls.map((u) => u.origin)).size !== 1) {
          throw new InvalidArgumentError("reqs", "a pipeline goes to one origin");
        }
      } catch (error) {
        return reqs.map((r) => Promise.reject(toTransportError(error, r)));
      }
      const origin = (urls[0] as Target).origin;
      const client = takePipeline(origin);
      const results = reqs.map((req, i) => send(client, req, urls[i] as Target, true));
      Promise.allSettled(results).then(() => returnPipeline(origin, client));
      return results;
    },

    async close() {
      const all: Dispatcher[] = [...pools.values(), ...pipelines];
      pools.clear();
      idlePipelines.clear();
      pipelines.clear();
      await Promise.all(all.map((d) => d.close().catch(() => undefined)));
    },
  };
}
