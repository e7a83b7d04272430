/**
 * The SPEC v2 calls the backend makes: znodes (`/znodes/v1`, rest-znodes.ts) and REST sessions (`/sessions/v1`,
 * rest-sessions.ts), each answer mapped to an outcome or a typed error (rest-answers.ts). Only what Apache's Java
 * gateway does is relied on (see docs/zookeeper.md), plus the optional `/leasehold/v1` extension of
 * leasehold-zk-gateway (rest-multi.ts, rest-watch.ts).
 */
import type { CallContext, HttpResponse, Transport } from "../../src/backend-kit.ts";
import { EXTENSION_PATH, extensionInfo, MULTI_PATH, type WatchAnswer } from "./extension.ts";
import type { ZooKeeperAuth } from "./options.ts";
import { znodeUrl } from "./paths.ts";
import { type Conflict, type CreateOutcome, createOutcome, gatewayFailure } from "./rest-answers.ts";
import { JSON_TYPE, OCTET_TYPE, RestHttp } from "./rest-http.ts";
import { type MultiOutcome, multiBody, multiOutcome, type WireMultiOp } from "./rest-multi.ts";
import {
  checkSessionDeleted,
  createdSession,
  createSessionRequest,
  heartbeatOutcome,
  heartbeatRequest,
  sessionUrl,
} from "./rest-sessions.ts";
import { watchOutcome, watchUrl } from "./rest-watch.ts";
import {
  createRequest,
  deleteOutcome,
  existsOutcome,
  getRequest,
  readNode,
  setOutcome,
  versionedDeleteOutcome,
  versionedSetOutcome,
  versionedSetRequest,
  versionedUrl,
} from "./rest-znodes.ts";
import { parseWire, type StatEntity } from "./wire.ts";

export type { Conflict, CreateOutcome } from "./rest-answers.ts";
export type { MultiOutcome, WireMultiOp } from "./rest-multi.ts";

export class RestClient {
  readonly #http: RestHttp;

  constructor(base: string, transport: Transport, auth: ZooKeeperAuth | undefined) {
    this.#http = new RestHttp(base, transport, auth);
  }

  /** What errors must never show: the password and the authorization header made of it. */
  secrets(): string[] {
    return this.#http.secrets();
  }

  /**
   * `GET /znodes/v1/<path>` as JSON (data in base64): the znode, or null when it does not exist. `key`: the
   * znode of a transaction key, whose data may be large; else a leader znode, whose answer is small.
   */
  async getNode(path: string, ctx: CallContext, key = false): Promise<StatEntity | null> {
    return readNode(await this.#http.send(getRequest(this.#http, path, ctx, key)), path);
  }

  /** `HEAD /znodes/v1/<path>`: whether the znode exists. */
  async exists(path: string, ctx: CallContext): Promise<boolean> {
    return existsOutcome(await this.#http.call("HEAD", znodeUrl(this.#http.base, path), ctx), path);
  }

  /** `POST /znodes/v1/<parent>?op=create&name=<name>`; `data: null` stores no data (`null=true`). */
  async create(
    path: string,
    data: Uint8Array | null,
    options: { ephemeral: boolean; restSessionId?: string },
    ctx: CallContext,
  ): Promise<CreateOutcome> {
    return createOutcome(await this.#http.send(createRequest(this.#http, path, data, options, ctx)), path);
  }

  /**
   * Creates a znode and reads it back, in order on one connection when the transport pipelines (one round
   * trip): the read is harmless whatever the create did. `node` is null when the znode does not exist.
   */
  async createThenGet(
    path: string,
    data: Uint8Array,
    options: { ephemeral: boolean; restSessionId: string },
    ctx: CallContext,
  ): Promise<{ outcome: CreateOutcome; node: StatEntity | null }> {
    const [created, read] = this.#http.inOrder([
      createRequest(this.#http, path, data, options, ctx),
      getRequest(this.#http, path, ctx),
    ]) as [Promise<HttpResponse>, Promise<HttpResponse>];
    const [c, r] = await Promise.allSettled([created, read]);
    if (c.status === "rejected") throw c.reason;
    const outcome = createOutcome(c.value, path);
    if (r.status === "rejected") throw r.reason;
    return { outcome, node: readNode(r.value, path) };
  }

  /** `PUT /znodes/v1/<path>` (any version). False when the znode does not exist. */
  async setData(path: string, data: Uint8Array, ctx: CallContext): Promise<boolean> {
    const url = znodeUrl(this.#http.base, path);
    return setOutcome(await this.#http.call("PUT", url, ctx, { type: OCTET_TYPE, data }), path);
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
    restSessionId: string,
    ctx: CallContext,
  ): Promise<StatEntity | Conflict> {
    const req = versionedSetRequest(this.#http, path, data, version, restSessionId, ctx);
    return versionedSetOutcome(await this.#http.send(req), path);
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
    restSessionId: string,
    ctx: CallContext,
  ): Promise<{ set: StatEntity | Conflict; alive: boolean | null }> {
    const setReq = versionedSetRequest(this.#http, path, data, version, restSessionId, ctx);
    const beatReq = heartbeatRequest(this.#http, restSessionId, ctx);
    if (!this.#http.transport.pipeline) {
      const set = versionedSetOutcome(await this.#http.send(setReq), path);
      if (typeof set === "string") return { set, alive: null };
      return { set, alive: heartbeatOutcome(await this.#http.send(beatReq)) };
    }
    const [s, h] = await Promise.allSettled(
      this.#http.transport.pipeline([setReq, beatReq]) as [Promise<HttpResponse>, Promise<HttpResponse>],
    );
    if (s.status === "rejected") throw s.reason;
    const set = versionedSetOutcome(s.value, path);
    if (h.status === "rejected") throw h.reason;
    return { set, alive: heartbeatOutcome(h.value) };
  }

  /**
   * `DELETE /znodes/v1/<path>?version=<v>&session=<id>`: deletes the znode only if it is still at data
   * version `v`, on the ZooKeeper session of `session` (as {@link setVersioned}). "deleted", or why not.
   */
  async deleteVersioned(
    path: string,
    version: number,
    restSessionId: string,
    ctx: CallContext,
  ): Promise<"deleted" | Conflict> {
    const url = versionedUrl(this.#http, path, version, restSessionId);
    return versionedDeleteOutcome(await this.#http.call("DELETE", url, ctx), path);
  }

  /** `DELETE /znodes/v1/<path>` (any version). False when the znode did not exist. */
  async delete(path: string, ctx: CallContext): Promise<boolean> {
    return deleteOutcome(await this.#http.call("DELETE", znodeUrl(this.#http.base, path), ctx), path);
  }

  /**
   * `POST /sessions/v1/?op=create&expire=<s>`: a new REST session's ID (`restSessionId`).
   * @throws {InvalidArgumentError} for `ttlMs` when the gateway refuses the expire (400).
   */
  async createSession(expireS: number, ctx: CallContext): Promise<string> {
    return createdSession(await this.#http.send(createSessionRequest(this.#http, expireS, ctx)), expireS);
  }

  /** `PUT /sessions/v1/<id>`: true when the gateway renewed it, false when it no longer has it (404). */
  async heartbeat(restSessionId: string, ctx: CallContext): Promise<boolean> {
    return heartbeatOutcome(await this.#http.send(heartbeatRequest(this.#http, restSessionId, ctx)));
  }

  /** `DELETE /sessions/v1/<id>`: closes the session; its ephemeral znodes go with it. */
  async deleteSession(restSessionId: string, ctx: CallContext): Promise<void> {
    checkSessionDeleted(await this.#http.call("DELETE", sessionUrl(this.#http, restSessionId), ctx));
  }

  /**
   * `GET /leasehold/v1`: the extensions the gateway serves (`"multi"`, `"watch"`), none when it answers 4xx
   * (Apache's gateway: 404).
   * @throws {LeaseError} on transport failures and 5xx: the answer is unknown.
   */
  async extensions(ctx: CallContext): Promise<readonly string[]> {
    const res = await this.#http.call("GET", `${this.#http.base}${EXTENSION_PATH}`, ctx);
    if (res.status === 200) return parseWire(extensionInfo, res.body, "extension probe").extensions;
    if (res.status >= 400 && res.status < 500 && res.status !== 401 && res.status !== 403) return [];
    throw gatewayFailure(res, "extension probe");
  }

  /** `GET /leasehold/v1/watch`: the states of the znode since `after` (rest-watch.ts), waiting up to `waitMs`. */
  async watch(path: string, after: string | null, waitMs: number, ctx: CallContext): Promise<WatchAnswer> {
    const res = await this.#http.call("GET", watchUrl(this.#http.base, path, after, waitMs), ctx);
    return watchOutcome(res, path);
  }

  /**
   * `POST /leasehold/v1/multi?session=<id>`: ONE ZooKeeper multi on the session's ZooKeeper session. Null
   * when the gateway has no such endpoint (a 404 that is not a multi failure).
   */
  async multi(
    ops: readonly WireMultiOp[],
    restSessionId: string,
    ctx: CallContext,
  ): Promise<MultiOutcome | null> {
    const url = `${this.#http.base}${MULTI_PATH}?session=${encodeURIComponent(restSessionId)}`;
    const res = await this.#http.call("POST", url, ctx, { type: JSON_TYPE, data: multiBody(ops) });
    return multiOutcome(res, ops);
  }
}
