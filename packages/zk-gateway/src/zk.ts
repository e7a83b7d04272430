/**
 * Promise wrappers around one node-zookeeper-client connection (one ZooKeeper session, zk-connection.ts), with a
 * deadline on every call. Stats are kept with exact 64-bit fields (zk-stat.ts).
 */
import type { MultiResult } from "leasehold/zookeeper/extension";
import { type Client, CreateMode } from "node-zookeeper-client";
import {
  connect,
  detachOnReconnect,
  disconnect,
  type ZkCredentials,
  type ZkSessionOptions,
} from "./zk-connection.ts";
import { KeeperError, toKeeperError, ZkDetachedError, ZkTimeoutError } from "./zk-errors.ts";
import { addOp, type Committed, MultiError, type MultiOp, multiResults } from "./zk-multi.ts";
import { toZStat, type ZStat } from "./zk-stat.ts";

export type { ZkCredentials, ZkSessionOptions } from "./zk-connection.ts";
export { KeeperError, ZkDetachedError, ZkTimeoutError } from "./zk-errors.ts";
export { MultiError, type MultiOp } from "./zk-multi.ts";
export type { ZStat } from "./zk-stat.ts";

/** A connected ZooKeeper session. Calls queue while the client reconnects, bounded by `callTimeoutMs`. */
export class ZkSession {
  readonly #client: Client;
  readonly #callTimeoutMs: number;
  #closed: Promise<void> | null = null;
  #detached = false;
  readonly #detachListeners: (() => void)[] = [];

  private constructor(client: Client, callTimeoutMs: number) {
    this.#client = client;
    this.#callTimeoutMs = callTimeoutMs;
  }

  /**
   * Connects a new session, or re-attaches `options.resume`.
   * @throws {ZkTimeoutError} ZooKeeper did not establish the session in time (the client is closed again).
   * @throws {KeeperError} SESSIONEXPIRED: ZooKeeper refused to re-attach (the session expired or was
   *   closed, or the password is wrong).
   */
  static async open(connectString: string, options: ZkSessionOptions): Promise<ZkSession> {
    const session = new ZkSession(await connect(connectString, options), options.callTimeoutMs);
    if (options.reconnect === false) detachOnReconnect(session.#client, () => session.#detach());
    return session;
  }

  #detach(): void {
    this.#detached = true;
    for (const listener of this.#detachListeners.splice(0)) listener();
  }

  /** The session timeout the server granted, in ms. */
  get negotiatedTimeoutMs(): number {
    return this.#client.getSessionTimeout();
  }

  /** The session's ID and password, which re-attach it from another connection. */
  get credentials(): ZkCredentials {
    return { id: this.#client.getSessionId(), password: this.#client.getSessionPassword() };
  }

  /** True once a `reconnect: false` session lost its connection; every call then fails at once. */
  get detached(): boolean {
    return this.#detached;
  }

  /** Calls `listener` once a `reconnect: false` session has lost its connection (see {@link detached}). */
  onDetached(listener: () => void): void {
    if (this.#detached) listener();
    else this.#detachListeners.push(listener);
  }

  /** Calls `listener` once ZooKeeper reports the session expired (every later call fails). */
  onExpired(listener: () => void): void {
    this.#client.once("expired", listener);
  }

  #call<T>(what: string, path: string, run: (done: (error: unknown, value?: T) => void) => void): Promise<T> {
    if (this.#detached) return Promise.reject(new ZkDetachedError(path));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new ZkTimeoutError(what, path, this.#callTimeoutMs)),
        this.#callTimeoutMs,
      );
      try {
        run((error, value) => {
          clearTimeout(timer);
          if (error) reject(toKeeperError(error, path));
          else resolve(value as T);
        });
      } catch {
        // The client validates arguments (paths) synchronously with assertions.
        clearTimeout(timer);
        reject(new KeeperError("BADARGUMENTS", path));
      }
    });
  }

  /**
   * Confirms that this connection holds the session, with one write-class round trip (a multi of one
   * check of "/", any version). A connection whose session another connection re-attached through another
   * server of the ensemble still answers reads, but ZooKeeper refuses its writes by closing it, after which
   * this object is detached. (On one server, the re-attach itself closes the older connection.)
   * @throws {ZkDetachedError | KeeperError | ZkTimeoutError} not confirmed: CONNECTIONLOSS when the
   *   connection was closed (the session moved), SESSIONEXPIRED, or no answer in time.
   */
  async confirm(): Promise<void> {
    await this.multi([{ op: "check", path: "/", version: -1 }]);
  }

  /** Data (`null` when the znode stores none) and stat. */
  getData(path: string): Promise<{ data: Buffer | null; stat: ZStat }> {
    return this.#call("getData", path, (done) =>
      this.#client.getData(path, (error, data, stat) =>
        done(error, error ? undefined : { data: data ?? null, stat: toZStat(stat) }),
      ),
    );
  }

  /** The stat, or null when the znode does not exist. */
  exists(path: string): Promise<ZStat | null> {
    return this.#call("exists", path, (done) =>
      this.#client.exists(path, (error, stat) => done(error, error || !stat ? null : toZStat(stat))),
    );
  }

  /**
   * The znode now (null when it does not exist) and `changed`, which resolves at its next change after this
   * read: ZooKeeper's one-shot watch (set by `exists`: on the data and deletion of an existing znode, on the
   * creation of a missing one). It never resolves when the session ends first.
   */
  async watch(
    path: string,
  ): Promise<{ node: { data: Buffer | null; stat: ZStat } | null; changed: Promise<void> }> {
    let fire = () => {};
    const changed = new Promise<void>((resolve) => {
      fire = resolve;
    });
    const stat = await this.#call<ZStat | null>("exists", path, (done) =>
      this.#client.exists(
        path,
        () => fire(),
        (error, found) => done(error, error || !found ? null : toZStat(found)),
      ),
    );
    if (!stat) return { node: null, changed };
    try {
      return { node: await this.getData(path), changed };
    } catch (error) {
      // Deleted between the two reads: the watch has fired, and the caller reads again.
      if (error instanceof KeeperError && error.code === "NONODE") return { node: null, changed };
      throw error;
    }
  }

  getChildren(path: string): Promise<string[]> {
    return this.#call("getChildren", path, (done) =>
      this.#client.getChildren(path, (error, children) => done(error, children)),
    );
  }

  /** Creates a znode and returns its actual path (with the sequence suffix, if any). */
  create(
    path: string,
    data: Buffer | null,
    options: { ephemeral: boolean; sequence: boolean },
  ): Promise<string> {
    const mode = options.ephemeral
      ? options.sequence
        ? CreateMode.EPHEMERAL_SEQUENTIAL
        : CreateMode.EPHEMERAL
      : options.sequence
        ? CreateMode.PERSISTENT_SEQUENTIAL
        : CreateMode.PERSISTENT;
    return this.#call("create", path, (done) => {
      // The client takes a Buffer for data and leaves it out (null data) when given none.
      if (data === null) this.#client.create(path, mode, (error, created) => done(error, created));
      else this.#client.create(path, data, mode, (error, created) => done(error, created));
    });
  }

  async setData(path: string, data: Buffer | null, version: number): Promise<ZStat> {
    if (data === null) {
      // The client's setData cannot send null data; a one-op multi can, with the same semantics.
      try {
        const [result] = await this.multi([{ op: "set", path, data: null, version }]);
        if (result?.op !== "set") throw new Error("ZooKeeper multi: no stat for a setData op");
        return result.stat;
      } catch (error) {
        throw error instanceof MultiError ? error.cause : error;
      }
    }
    return this.#call("setData", path, (done) =>
      this.#client.setData(path, data, version, (error, stat) =>
        done(error, error ? undefined : toZStat(stat)),
      ),
    );
  }

  remove(path: string, version: number): Promise<void> {
    return this.#call("delete", path, (done) => this.#client.remove(path, version, (error) => done(error)));
  }

  /**
   * Commits `ops` as one ZooKeeper multi: all or nothing.
   * @throws {MultiError} ZooKeeper refused it; names the failing op.
   */
  async multi(ops: readonly MultiOp[]): Promise<MultiResult[]> {
    const tx = this.#client.transaction();
    ops.forEach((op, i) => {
      try {
        addOp(tx, op);
      } catch {
        // The client validates paths synchronously with assertions.
        throw new MultiError(i, new KeeperError("BADARGUMENTS", op.path));
      }
    });
    const where = ops[0]?.path ?? "/";
    const outcome = await this.#call<Committed>("multi", where, (done) =>
      tx.commit((error, res) => {
        // Without a result list the request itself failed (connection loss, expired session).
        if (error && !Array.isArray(res)) done(error);
        else done(null, { results: res as unknown[], failed: error !== null });
      }),
    );
    return multiResults(ops, outcome, where);
  }

  /**
   * Closes the session; ZooKeeper deletes its ephemeral znodes before it confirms. Resolves once the client
   * has disconnected, or after `callTimeoutMs` (ZooKeeper then expires the session by itself).
   */
  close(): Promise<void> {
    // A detached connection has nothing to close; sending closeSession would need a reconnect.
    if (this.#detached) return Promise.resolve();
    this.#closed ??= disconnect(this.#client, this.#callTimeoutMs);
    return this.#closed;
  }
}
