/**
 * The ZooKeeper REST gateway (SPEC v2, as Apache's Java gateway speaks it) as a node:http server:
 * `/znodes/v1`, `/sessions/v1`, and the `/leasehold/v1` extension. Started by the `leasehold-zk-gateway` bin
 * (cli.ts) or programmatically with {@link createZkGateway}.
 */

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { EXTENSION_PATH } from "leasehold/zookeeper/extension";
import { authorized, CHALLENGE, type Credentials } from "./basic-auth.ts";
import { type Exchange, exchangeOf, toHttpError } from "./exchange.ts";
import { HttpError, JAVASCRIPT_TYPE, JSON_TYPE, negotiate, OCTET_TYPE, send } from "./http.ts";
import { handleExtension } from "./multi-route.ts";
import { errorEntity } from "./render.ts";
import { SessionRegistry } from "./session-registry.ts";
import { MAX_EXPIRE_S, SessionSealer } from "./session-token.ts";
import { handleSession } from "./sessions-route.ts";
import { SharedSession } from "./shared-session.ts";
import { ZnodeWatches } from "./znode-watch.ts";
import { handleZnode } from "./znodes-route.ts";

export interface ZkGatewayOptions {
  /** ZooKeeper connection string, e.g. `127.0.0.1:2181` or `zk1:2181,zk2:2181/chroot`. */
  zookeeper: string;
  /** Interface to listen on. Default `127.0.0.1` (loopback only). */
  host?: string;
  /** Port. Default 9998 (Apache's gateway's); 0 picks a free one. */
  port?: number | undefined;
  /** Most REST sessions open at once; more get 503. Default 1000. */
  maxSessions?: number | undefined;
  /** Accepted `expire` range of a new session, in seconds; outside it 400. Default 1 to 3600. */
  minExpireS?: number | undefined;
  maxExpireS?: number | undefined;
  /** Deadline of each ZooKeeper call, in ms; a late call answers 504 (503 for a session that cannot connect). Default 5000. */
  zkTimeoutMs?: number | undefined;
  /** ZooKeeper session timeout of the gateway's own session (requests without `?session=`), in ms. Default 30 000. */
  sessionTimeoutMs?: number | undefined;
  /**
   * AES-256 keys (32 bytes each) that seal REST session IDs: the first seals new sessions, any opens them
   * (rotation). Every instance behind one URL, and the same instance after a restart, must have the key
   * that sealed a session to serve it. Default: one random key, so sessions do not outlive the process.
   */
  sessionKeys?: readonly Uint8Array[] | undefined;
  /** HTTP basic auth credentials (password by user); when given, every request must carry one. */
  credentials?: Credentials;
  /** Serve the `/leasehold/v1` extension (atomic multi, long-poll watch). Default true; false behaves like Apache's gateway. */
  extensions?: boolean;
  /** Receives one line per request (method, path, status, ms). Default: no request logging. */
  log?: (line: string) => void;
  /** Largest request body, in bytes. Default 1 MiB (ZooKeeper's default jute.maxbuffer) plus multi overhead. */
  maxBodyBytes?: number | undefined;
  /** How long `close()` lets in-flight requests finish, in ms, before cutting connections. Default 5000. */
  shutdownGraceMs?: number | undefined;
}

export interface ZkGateway {
  /** Starts listening; resolves to the base URL, e.g. `http://127.0.0.1:9998`. */
  listen(): Promise<string>;
  /** The base URL (after `listen`). */
  readonly url: string;
  /** REST sessions this instance holds now (created here, or attached since another instance held them). */
  readonly sessionCount: number;
  /**
   * Graceful shutdown: stops accepting connections and lets in-flight requests finish (up to
   * `shutdownGraceMs`). Then, by default (`sessions: "expire"`), it closes each REST session when its expire
   * runs out, not earlier: a lease holder was promised its session until then, and no heartbeat can reach
   * it any more (unless another instance with the same session key takes the session over: then it is
   * left to that one). With `sessions: "close"` (also when called again during the wait) it closes them at once,
   * as Apache's gateway does; their ephemeral znodes vanish then, before their holders' validity ends.
   * Finally it closes the gateway's own ZooKeeper session.
   */
  close(options?: { sessions?: "expire" | "close" }): Promise<void>;
}

function positiveInt(value: number | undefined, fallback: number, name: string, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}`);
  return v;
}

/**
 * Creates a gateway (not yet listening).
 * @throws {RangeError | TypeError} an option is invalid (e.g. a session key that is not 32 bytes).
 */
export function createZkGateway(options: ZkGatewayOptions): ZkGateway {
  if (typeof options.zookeeper !== "string" || options.zookeeper.trim() === "") {
    throw new TypeError("zookeeper must be a connection string such as 127.0.0.1:2181");
  }
  const zkTimeoutMs = positiveInt(options.zkTimeoutMs, 5000, "zkTimeoutMs");
  const minExpireS = positiveInt(options.minExpireS, 1, "minExpireS");
  const maxExpireS = positiveInt(options.maxExpireS, 3600, "maxExpireS", minExpireS);
  if (maxExpireS > MAX_EXPIRE_S) throw new RangeError(`maxExpireS must be at most ${MAX_EXPIRE_S}`);
  const maxSessions = positiveInt(options.maxSessions, 1000, "maxSessions");
  const maxBodyBytes = positiveInt(options.maxBodyBytes, 2 * 1024 * 1024, "maxBodyBytes");
  const graceMs = positiveInt(options.shutdownGraceMs, 5000, "shutdownGraceMs", 0);
  const port = positiveInt(options.port, 9998, "port", 0);
  const host = options.host ?? "127.0.0.1";
  const extensions = options.extensions ?? true;
  const { credentials, log } = options;

  const sealer = options.sessionKeys ? new SessionSealer(options.sessionKeys) : SessionSealer.ephemeral();
  const sessions = new SessionRegistry(
    options.zookeeper,
    { maxSessions, minExpireS, maxExpireS, zkTimeoutMs },
    sealer,
  );
  const shared = new SharedSession(
    options.zookeeper,
    positiveInt(options.sessionTimeoutMs, 30_000, "sessionTimeoutMs"),
    zkTimeoutMs,
  );
  const watches = new ZnodeWatches(shared);
  const deps = { sessions, shared, watches, maxBodyBytes };
  let url = "";
  let closing: Promise<void> | null = null;

  async function route(ex: Exchange): Promise<void> {
    const pathname = ex.url.pathname;
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      throw new HttpError(400, `${pathname} is not a valid percent-encoded path`);
    }
    if (decoded.startsWith("/znodes/v1/")) return handleZnode(ex, decoded.slice("/znodes/v1".length), deps);
    if (decoded.startsWith("/sessions/v1/"))
      return handleSession(ex, decoded.slice("/sessions/v1/".length), sessions);
    // SPEC v2 writes the create call without the trailing slash; the Java gateway needs it. Both work here.
    if (decoded === "/sessions/v1" && ex.req.method === "POST") return handleSession(ex, "", sessions);
    if (extensions && (decoded === EXTENSION_PATH || decoded.startsWith(`${EXTENSION_PATH}/`))) {
      return handleExtension(ex, decoded, deps);
    }
    throw new HttpError(404);
  }

  function fail(ex: Exchange, error: unknown): void {
    const answer = toHttpError(error);
    if (ex.res.headersSent) {
      ex.res.destroy();
      return;
    }
    const headers: Record<string, string> = { ...answer.headers };
    if (answer.entityMessage === undefined) {
      send(ex.req, ex.res, answer.status, headers);
      return;
    }
    const type = negotiate(ex.req.headers.accept, [JSON_TYPE, JAVASCRIPT_TYPE, OCTET_TYPE]);
    if (type === OCTET_TYPE) {
      headers["content-type"] = OCTET_TYPE;
      send(
        ex.req,
        ex.res,
        answer.status,
        headers,
        `Request ${ex.requestUri} failed due to ${answer.entityMessage}`,
      );
      return;
    }
    headers["content-type"] = JSON_TYPE;
    send(ex.req, ex.res, answer.status, headers, errorEntity(ex.requestUri, answer.entityMessage));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const ex = exchangeOf(req, res, `${host}:${port}`);
    if (log) {
      res.once("finish", () => {
        log(
          `${req.method} ${ex.url.pathname} ${res.statusCode} ${Math.round(performance.now() - started)}ms`,
        );
      });
    }
    if (closing) res.setHeader("connection", "close");
    try {
      if (credentials && !authorized(req, credentials)) {
        throw new HttpError(401, undefined, { "www-authenticate": CHALLENGE });
      }
      await route(ex);
    } catch (error) {
      fail(ex, error);
    }
  }

  // Pipelined requests on one connection are handled one after the other, as a servlet container does:
  // node:http would start them all at once, so a read pipelined after a write could overtake it.
  const inFlight = new WeakMap<object, Promise<void>>();
  const server = createServer((req, res) => {
    const previous = inFlight.get(req.socket) ?? Promise.resolve();
    const current = previous.then(() => handle(req, res));
    inFlight.set(req.socket, current);
  });

  return {
    get url() {
      return url;
    },
    get sessionCount() {
      return sessions.size;
    },
    listen() {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const address = server.address() as AddressInfo;
          const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
          url = `http://${shown}:${address.port}`;
          resolve(url);
        });
      });
    },
    close(options = {}) {
      const now = options.sessions === "close";
      if (now) void sessions.closeAll();
      closing ??= (async () => {
        // Long polls answer at once (no change), so that they do not hold the drain back.
        watches.close();
        const drained = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
        await Promise.race([drained, grace]);
        server.closeAllConnections();
        await (now ? sessions.closeAll() : sessions.drain());
        await shared.close();
      })();
      return closing;
    },
  };
}
