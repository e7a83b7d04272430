/**
 * The SPEC v2 calls the backend makes, and the one place where gateway answers become typed errors. Only
 * what Apache's Java gateway does is relied on (see docs/zookeeper.md), plus the optional `/leasehold/v1`
 * extension of leasehold-zk-gateway.
 */
import {
  AuthError,
  type CallContext,
  encodeBase64,
  type HttpMethod,
  type HttpRequest,
  type HttpResponse,
  HttpStatusError,
  InvalidArgumentError,
  type LeaseError,
  MalformedResponseError,
  type Transport,
} from "../../src/backend-kit.ts";
import type { ZooKeeperAuth } from "./options.ts";
import { splitPath, znodeUrl } from "./paths.ts";
import {
  checkStat,
  errorEntity,
  extensionInfo,
  multiFailure,
  multiResults,
  parseWire,
  type SetStat,
  type StatEntity,
  sessionEntity,
  statEntity,
} from "./wire.ts";

/**
 * Room for a key's znode in an answer, in bytes: its data (ZooKeeper's jute.maxbuffer, 1 MiB by default) in
 * base64, or as escaped UTF-8 text. Lease answers keep the transport's default cap.
 */
const ZNODE_ANSWER_BYTES = 8 * 1_048_576;

const JSON_TYPE = "application/json";
const OCTET_TYPE = "application/octet-stream";

/** The gateway's error message, tolerant: it only feeds error messages. */
function messageOf(res: HttpResponse): string {
  try {
    const parsed = errorEntity.safeParse(JSON.parse(res.body));
    if (parsed.success) return parsed.data.message ?? "";
  } catch {
    // Not JSON (octet errors, servlet error pages): use the raw text.
  }
  return res.body.slice(0, 200);
}

/** Maps an answer the call does not expect to a typed error: 401 with a challenge and 403 are auth failures. */
function gatewayFailure(res: HttpResponse, what: string): LeaseError {
  const detail = `ZooKeeper gateway ${what}: ${messageOf(res) || "no message"}`;
  if ((res.status === 401 && res.headers["www-authenticate"] !== undefined) || res.status === 403) {
    return new AuthError(detail);
  }
  return new HttpStatusError(res.status, detail);
}

/** A 401 without a basic-auth challenge: the gateway does not know the `?session=` (expired or closed). */
function unknownSession(res: HttpResponse): boolean {
  return res.status === 401 && res.headers["www-authenticate"] === undefined;
}

/** One op of the extension's multi; versions are ZooKeeper's (-1 = any). */
export type WireMultiOp =
  | { op: "check"; path: string; version: number }
  | { op: "create"; path: string; data: Uint8Array | null; ephemeral: boolean }
  | { op: "set"; path: string; data: Uint8Array; version: number }
  | { op: "delete"; path: string; version: number };

/**
 * What a multi did:
 * - committed: `commitZxid` is the multi's zxid, from its first op, a `set` whose new stat is `guard`;
 * - refused: ZooKeeper refused op `index` with `code` (its `KeeperException.Code` name, e.g. "BADVERSION"),
 *   in an answer of HTTP `status`; nothing was applied;
 * - no-session: the gateway no longer has the REST session (nothing was applied).
 */
export type MultiOutcome =
  | { committed: true; commitZxid: bigint; guard: SetStat }
  | { committed: false; refused: { index: number; code: string; status: number } }
  | { committed: false; refused: "no-session" };

export type CreateOutcome = "created" | "exists" | "no-parent" | "no-session";

/**
 * Why a versioned write on a session did not apply: the znode is at another version (412), gone (404), or
 * the gateway no longer has the session (401 without a challenge).
 */
export type Conflict = "bad-version" | "no-node" | "no-session";

export class RestClient {
  readonly #base: string;
  readonly #transport: Transport;
  readonly #authorization: string | undefined;

  readonly #password: string;

  constructor(base: string, transport: Transport, auth: ZooKeeperAuth | undefined) {
    this.#base = base;
    this.#transport = transport;
    this.#password = auth?.password ?? "";
    this.#authorization = auth
      ? `Basic ${encodeBase64(new TextEncoder().encode(`${auth.username}:${auth.password}`))}`
      : undefined;
  }

  #request(
    method: HttpMethod,
    url: string,
    ctx: CallContext,
    body?: { type: string; data: Uint8Array | string },
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

  #send(req: HttpRequest): Promise<HttpResponse> {
    return this.#transport.request(req);
  }

  /**
   * Sends requests in order: pipelined on one connection when the transport can, else each after the
   * previous one settled. One promise per request.
   */
  #inOrder(reqs: readonly HttpRequest[]): Promise<HttpResponse>[] {
    const transport = this.#transport;
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

  /**
   * `GET /znodes/v1/<path>` as JSON (data in base64): the znode, or null when it does not exist. `key`: the
   * znode of a transaction key, whose data may be large; else a leader znode, whose answer is small.
   */
  async getNode(path: string, ctx: CallContext, key = false): Promise<StatEntity | null> {
    return this.#readNode(await this.#send(this.#getRequest(path, ctx, key)), path);
  }

  #getRequest(path: string, ctx: CallContext, key = false): HttpRequest {
    return this.#request(
      "GET",
      znodeUrl(this.#base, path),
      ctx,
      undefined,
      key ? ZNODE_ANSWER_BYTES : undefined,
    );
  }

  #readNode(res: HttpResponse, path: string): StatEntity | null {
    if (res.status === 404) return null;
    if (res.status !== 200) throw gatewayFailure(res, `get ${path}`);
    return checkStat(parseWire(statEntity, res.body, `get ${path}`), path, `get ${path}`);
  }

  /** `HEAD /znodes/v1/<path>`: whether the znode exists. */
  async exists(path: string, ctx: CallContext): Promise<boolean> {
    const res = await this.#send(this.#request("HEAD", znodeUrl(this.#base, path), ctx));
    if (res.status === 200 || res.status === 204) return true;
    if (res.status === 404) return false;
    throw gatewayFailure(res, `exists ${path}`);
  }

  #createRequest(
    path: string,
    data: Uint8Array | null,
    options: { ephemeral: boolean; session?: string },
    ctx: CallContext,
  ): HttpRequest {
    const [parent, name] = splitPath(path);
    const query = new URLSearchParams({ op: "create", name });
    if (options.ephemeral) query.set("ephemeral", "true");
    if (options.session !== undefined) query.set("session", options.session);
    if (data === null) query.set("null", "true");
    return this.#request("POST", `${znodeUrl(this.#base, parent)}?${query}`, ctx, {
      type: OCTET_TYPE,
      data: data ?? new Uint8Array(0),
    });
  }

  #createOutcome(res: HttpResponse, path: string): CreateOutcome {
    switch (res.status) {
      case 201:
        return "created";
      case 409:
        return "exists";
      case 404:
        return "no-parent";
      default:
        if (unknownSession(res)) return "no-session";
        throw gatewayFailure(res, `create ${path}`);
    }
  }

  /** `POST /znodes/v1/<parent>?op=create&name=<name>`; `data: null` stores no data (`null=true`). */
  async create(
    path: string,
    data: Uint8Array | null,
    options: { ephemeral: boolean; session?: string },
    ctx: CallContext,
  ): Promise<CreateOutcome> {
    return this.#createOutcome(await this.#send(this.#createRequest(path, data, options, ctx)), path);
  }

  /**
   * Creates a znode and reads it back, in order on one connection when the transport pipelines (one round
   * trip): the read is harmless whatever the create did. `node` is null when the znode does not exist.
   */
  async createThenGet(
    path: string,
    data: Uint8Array,
    options: { ephemeral: boolean; session: string },
    ctx: CallContext,
  ): Promise<{ outcome: CreateOutcome; node: StatEntity | null }> {
    const [created, read] = this.#inOrder([
      this.#createRequest(path, data, options, ctx),
      this.#getRequest(path, ctx),
    ]) as [Promise<HttpResponse>, Promise<HttpResponse>];
    const [c, r] = await Promise.allSettled([created, read]);
    if (c.status === "rejected") throw c.reason;
    const outcome = this.#createOutcome(c.value, path);
    if (r.status === "rejected") throw r.reason;
    return { outcome, node: this.#readNode(r.value, path) };
  }

  /** `PUT /znodes/v1/<path>` (any version). False when the znode does not exist. */
  async setData(path: string, data: Uint8Array, ctx: CallContext): Promise<boolean> {
    const res = await this.#send(
      this.#request("PUT", znodeUrl(this.#base, path), ctx, { type: OCTET_TYPE, data }),
    );
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw gatewayFailure(res, `set ${path}`);
  }

  #versionedUrl(path: string, version: number, session: string): string {
    const query = new URLSearchParams({ version: String(version), session });
    return `${znodeUrl(this.#base, path)}?${query}`;
  }

  #setRequest(path: string, data: Uint8Array, version: number, session: string, ctx: CallContext) {
    return this.#request("PUT", this.#versionedUrl(path, version, session), ctx, { type: OCTET_TYPE, data });
  }

  #setOutcome(res: HttpResponse, path: string): StatEntity | Conflict {
    if (res.status === 200)
      return checkStat(parseWire(statEntity, res.body, `set ${path}`), path, `set ${path}`);
    return conflictOf(res) ?? throwFailure(res, `set ${path}`);
  }

  /**
   * `PUT /znodes/v1/<path>?version=<v>&session=<id>`: sets the data only if the znode is still at data
   * version `v` (ZooKeeper's check, 412 otherwise), on the ZooKeeper session of `session`, so that nothing
   * is set once that session has ended. The znode's new stat (without data), or why not.
   */
  async setVersioned(
    path: string,
    data: Uint8Array,
    version: number,
    session: string,
    ctx: CallContext,
  ): Promise<StatEntity | Conflict> {
    return this.#setOutcome(await this.#send(this.#setRequest(path, data, version, session, ctx)), path);
  }

  /**
   * A versioned set on `session` (as {@link setVersioned}), then a heartbeat of it: pipelined on one connection
   * when the transport can (one round trip, and the heartbeat is sent whatever the set does); else one after
   * the other, without the heartbeat when the set failed. `alive` is null when no heartbeat was sent.
   */
  async setThenHeartbeat(
    path: string,
    data: Uint8Array,
    version: number,
    session: string,
    ctx: CallContext,
  ): Promise<{ set: StatEntity | Conflict; alive: boolean | null }> {
    const setReq = this.#setRequest(path, data, version, session, ctx);
    const beatReq = this.#heartbeatRequest(session, ctx);
    if (!this.#transport.pipeline) {
      const set = this.#setOutcome(await this.#send(setReq), path);
      if (typeof set === "string") return { set, alive: null };
      return { set, alive: this.#heartbeatOutcome(await this.#send(beatReq)) };
    }
    const [s, h] = await Promise.allSettled(
      this.#transport.pipeline([setReq, beatReq]) as [Promise<HttpResponse>, Promise<HttpResponse>],
    );
    if (s.status === "rejected") throw s.reason;
    const set = this.#setOutcome(s.value, path);
    if (h.status === "rejected") throw h.reason;
    return { set, alive: this.#heartbeatOutcome(h.value) };
  }

  /**
   * `DELETE /znodes/v1/<path>?version=<v>&session=<id>`: deletes the znode only if it is still at data
   * version `v`, on the ZooKeeper session of `session` (as {@link setVersioned}). "deleted", or why not.
   */
  async deleteVersioned(
    path: string,
    version: number,
    session: string,
    ctx: CallContext,
  ): Promise<"deleted" | Conflict> {
    const res = await this.#send(this.#request("DELETE", this.#versionedUrl(path, version, session), ctx));
    if (res.status === 204 || res.status === 200) return "deleted";
    return conflictOf(res) ?? throwFailure(res, `delete ${path}`);
  }

  /** `DELETE /znodes/v1/<path>` (any version). False when the znode did not exist. */
  async delete(path: string, ctx: CallContext): Promise<boolean> {
    const res = await this.#send(this.#request("DELETE", znodeUrl(this.#base, path), ctx));
    if (res.status === 204 || res.status === 200) return true;
    if (res.status === 404) return false;
    throw gatewayFailure(res, `delete ${path}`);
  }

  /**
   * `POST /sessions/v1/?op=create&expire=<s>`: a new REST session's ID.
   * @throws {InvalidArgumentError} for `ttlMs` when the gateway refuses the expire (400).
   */
  async createSession(expireS: number, ctx: CallContext): Promise<string> {
    const res = await this.#send(
      this.#request("POST", `${this.#base}/sessions/v1/?op=create&expire=${expireS}`, ctx, {
        type: OCTET_TYPE,
        data: new Uint8Array(0),
      }),
    );
    if (res.status === 201) return parseWire(sessionEntity, res.body, "session create").id;
    if (res.status === 400) {
      throw new InvalidArgumentError(
        "ttlMs",
        `the gateway refused a session expire of ${expireS} s${messageOf(res) ? `: ${messageOf(res)}` : ""}`,
      );
    }
    throw gatewayFailure(res, "session create");
  }

  #heartbeatRequest(session: string, ctx: CallContext): HttpRequest {
    return this.#request("PUT", `${this.#base}/sessions/v1/${session}`, ctx, {
      type: OCTET_TYPE,
      data: new Uint8Array(0),
    });
  }

  #heartbeatOutcome(res: HttpResponse): boolean {
    if (res.status === 200 || res.status === 204) return true;
    if (res.status === 404) return false;
    throw gatewayFailure(res, "session heartbeat");
  }

  /** `PUT /sessions/v1/<id>`: true when the gateway renewed it, false when it no longer has it (404). */
  async heartbeat(session: string, ctx: CallContext): Promise<boolean> {
    return this.#heartbeatOutcome(await this.#send(this.#heartbeatRequest(session, ctx)));
  }

  /** `DELETE /sessions/v1/<id>`: closes the session; its ephemeral znodes go with it. */
  async deleteSession(session: string, ctx: CallContext): Promise<void> {
    const res = await this.#send(this.#request("DELETE", `${this.#base}/sessions/v1/${session}`, ctx));
    if (res.status === 204 || res.status === 200 || res.status === 404) return;
    throw gatewayFailure(res, "session delete");
  }

  /**
   * `GET /leasehold/v1`: true when the gateway serves the multi extension, false when it answers 4xx
   * (Apache's gateway: 404).
   * @throws {LeaseError} on transport failures and 5xx: the answer is unknown.
   */
  async hasMultiExtension(ctx: CallContext): Promise<boolean> {
    const res = await this.#send(this.#request("GET", `${this.#base}/leasehold/v1`, ctx));
    if (res.status === 200) {
      return parseWire(extensionInfo, res.body, "extension probe").extensions.includes("multi");
    }
    if (res.status >= 400 && res.status < 500 && res.status !== 401 && res.status !== 403) return false;
    throw gatewayFailure(res, "extension probe");
  }

  /**
   * `POST /leasehold/v1/multi?session=<id>`: ONE ZooKeeper multi on the session's ZooKeeper session. Null
   * when the gateway has no such endpoint (a 404 that is not a multi failure).
   */
  async multi(ops: readonly WireMultiOp[], session: string, ctx: CallContext): Promise<MultiOutcome | null> {
    const body = JSON.stringify({
      ops: ops.map((op) => {
        switch (op.op) {
          case "create":
            return {
              op: "create",
              path: op.path,
              ephemeral: op.ephemeral,
              ...(op.data === null ? {} : { data64: encodeBase64(op.data) }),
            };
          case "set":
            return { op: "set", path: op.path, version: op.version, data64: encodeBase64(op.data) };
          default:
            return op;
        }
      }),
    });
    const url = `${this.#base}/leasehold/v1/multi?session=${encodeURIComponent(session)}`;
    const res = await this.#send(this.#request("POST", url, ctx, { type: JSON_TYPE, data: body }));
    if (res.status === 200) {
      const { results } = parseWire(multiResults, res.body, "multi");
      const guard = results[0]?.stat;
      // One result per op, each of its op; the first (the guard's set) with the stat it left.
      if (
        results.length !== ops.length ||
        results.some((r, i) => r.op !== ops[i]?.op) ||
        guard === undefined ||
        guard.mzxid <= 0n
      ) {
        throw new MalformedResponseError(
          `ZooKeeper gateway multi: the results do not match the ${ops.length} ops`,
        );
      }
      return { committed: true, commitZxid: guard.mzxid, guard };
    }
    if (unknownSession(res)) return { committed: false, refused: "no-session" };
    // A refusal is a 4xx naming the op; a redirect or 5xx says nothing about the multi.
    const failure = res.status >= 400 && res.status < 500 ? multiFailureOf(res) : null;
    if (failure && failure.index >= 0 && failure.index < ops.length) {
      return { committed: false, refused: { index: failure.index, code: failure.code, status: res.status } };
    }
    if (res.status === 404 && !failure) return null;
    throw gatewayFailure(res, "multi");
  }
}

function conflictOf(res: HttpResponse): Conflict | null {
  if (res.status === 412) return "bad-version";
  if (res.status === 404) return "no-node";
  return unknownSession(res) ? "no-session" : null;
}

function throwFailure(res: HttpResponse, what: string): never {
  throw gatewayFailure(res, what);
}

function multiFailureOf(res: HttpResponse): { index: number; code: string } | null {
  try {
    const parsed = multiFailure.safeParse(JSON.parse(res.body));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** A fresh ArrayBuffer-backed copy, as `HttpRequest.body` wants. */
function copy(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.length);
  out.set(bytes);
  return out;
}
