/**
 * Promise wrappers around one node-zookeeper-client connection (one ZooKeeper session), with a deadline on
 * every call. ZooKeeper's 64-bit stat fields arrive as 8-byte big-endian buffers and are kept as bigints.
 */
import {
  type Client,
  CreateMode,
  createClient,
  Exception,
  type Stat,
  type Transaction,
} from "node-zookeeper-client";

/** A znode's stat with exact 64-bit fields. */
export interface ZStat {
  czxid: bigint;
  mzxid: bigint;
  ctime: bigint;
  mtime: bigint;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: bigint;
  dataLength: number;
  numChildren: number;
  pzxid: bigint;
}

/**
 * ZooKeeper's error codes by number, named as the Java client's `KeeperException.Code` names them (the
 * names the Java gateway's messages and this gateway's multi extension use).
 */
const CODE_NAMES: Readonly<Record<number, string>> = {
  [-1]: "SYSTEMERROR",
  [-2]: "RUNTIMEINCONSISTENCY",
  [-3]: "DATAINCONSISTENCY",
  [-4]: "CONNECTIONLOSS",
  [-5]: "MARSHALLINGERROR",
  [-6]: "UNIMPLEMENTED",
  [-7]: "OPERATIONTIMEOUT",
  [-8]: "BADARGUMENTS",
  [-100]: "APIERROR",
  [-101]: "NONODE",
  [-102]: "NOAUTH",
  [-103]: "BADVERSION",
  [-108]: "NOCHILDRENFOREPHEMERALS",
  [-110]: "NODEEXISTS",
  [-111]: "NOTEMPTY",
  [-112]: "SESSIONEXPIRED",
  [-113]: "INVALIDCALLBACK",
  [-114]: "INVALIDACL",
  [-115]: "AUTHFAILED",
};

/** A failed ZooKeeper call: `code` is the Java name (e.g. "NONODE"), `path` the znode it concerned. */
export class KeeperError extends Error {
  readonly code: string;
  readonly path: string;

  constructor(code: string, path: string) {
    super(`KeeperErrorCode = ${code} for ${path}`);
    this.name = "KeeperError";
    this.code = code;
    this.path = path;
  }
}

/** The call did not finish before the gateway's ZooKeeper deadline. */
export class ZkTimeoutError extends Error {
  readonly path: string;

  constructor(what: string, path: string, ms: number) {
    super(`ZooKeeper ${what} for ${path} did not finish within ${ms} ms`);
    this.name = "ZkTimeoutError";
    this.path = path;
  }
}

function codeName(code: number): string {
  return CODE_NAMES[code] ?? `UNKNOWN(${code})`;
}

function toKeeperError(error: unknown, path: string): Error {
  if (error instanceof Exception) return new KeeperError(codeName(error.getCode()), path);
  return error instanceof Error ? error : new Error(String(error));
}

const long = (buffer: Buffer): bigint => buffer.readBigInt64BE(0);

function toZStat(stat: Stat): ZStat {
  return {
    czxid: long(stat.czxid),
    mzxid: long(stat.mzxid),
    ctime: long(stat.ctime),
    mtime: long(stat.mtime),
    version: stat.version,
    cversion: stat.cversion,
    aversion: stat.aversion,
    ephemeralOwner: long(stat.ephemeralOwner),
    dataLength: stat.dataLength,
    numChildren: stat.numChildren,
    pzxid: long(stat.pzxid),
  };
}

/** One op of a ZooKeeper multi. Versions are ZooKeeper's (-1 = any). `data: null` stores no data. */
export type MultiOp =
  | { op: "check"; path: string; version: number }
  | { op: "create"; path: string; data: Buffer | null; ephemeral: boolean }
  | { op: "set"; path: string; data: Buffer | null; version: number }
  | { op: "delete"; path: string; version: number };

export type MultiResult =
  | { op: "check" }
  | { op: "create"; path: string }
  | { op: "set"; stat: ZStat }
  | { op: "delete" };

/** A multi ZooKeeper refused as a whole; `index` is the op that failed. */
export class MultiError extends Error {
  readonly index: number;
  override readonly cause: KeeperError;

  constructor(index: number, cause: KeeperError) {
    super(`multi op ${index} failed: ${cause.message}`);
    this.name = "MultiError";
    this.index = index;
    this.cause = cause;
  }
}

export interface ZkSessionOptions {
  /** The ZooKeeper session timeout to ask for, in ms; the server clamps it to its min/max. */
  sessionTimeoutMs: number;
  /** Deadline of each call and of the initial connection, in ms. */
  callTimeoutMs: number;
}

/** A connected ZooKeeper session. Calls queue while the client reconnects, bounded by `callTimeoutMs`. */
export class ZkSession {
  readonly #client: Client;
  readonly #callTimeoutMs: number;
  #closed: Promise<void> | null = null;

  private constructor(client: Client, callTimeoutMs: number) {
    this.#client = client;
    this.#callTimeoutMs = callTimeoutMs;
  }

  /**
   * Connects a new session.
   * @throws {ZkTimeoutError} ZooKeeper did not establish the session in time (the client is closed again).
   */
  static async open(connectString: string, options: ZkSessionOptions): Promise<ZkSession> {
    const client = createClient(connectString, {
      sessionTimeout: options.sessionTimeoutMs,
      spinDelay: 200,
      retries: 0,
    });
    const session = new ZkSession(client, options.callTimeoutMs);
    const connected = new Promise<void>((resolve) => client.once("connected", () => resolve()));
    client.connect();
    const ok = await Promise.race([
      connected.then(() => true),
      new Promise<boolean>((r) => setTimeout(r, options.callTimeoutMs, false).unref()),
    ]);
    if (!ok) {
      await session.close();
      throw new ZkTimeoutError("connect", connectString, options.callTimeoutMs);
    }
    return session;
  }

  /** The session timeout the server granted, in ms. */
  get negotiatedTimeoutMs(): number {
    return this.#client.getSessionTimeout();
  }

  /** Calls `listener` once ZooKeeper reports the session expired (every later call fails). */
  onExpired(listener: () => void): void {
    this.#client.once("expired", listener);
  }

  #call<T>(what: string, path: string, run: (done: (error: unknown, value?: T) => void) => void): Promise<T> {
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
    const outcome = await this.#call<{ results: unknown[]; failed: boolean }>("multi", where, (done) =>
      tx.commit((error, res) => {
        // Without a result list the request itself failed (connection loss, expired session).
        if (error && !Array.isArray(res)) done(error);
        else done(null, { results: res as unknown[], failed: error !== null });
      }),
    );
    const { results } = outcome;
    if (outcome.failed) {
      const index = Math.max(
        0,
        results.findIndex((r) => ((r as { err?: number }).err ?? 0) !== 0),
      );
      const err = (results[index] as { err?: number } | undefined)?.err ?? -1;
      throw new MultiError(index, new KeeperError(codeName(err), ops[index]?.path ?? where));
    }
    return ops.map((op, i): MultiResult => {
      const res = results[i] as { path?: string; stat?: Stat } | undefined;
      switch (op.op) {
        case "create":
          return { op: "create", path: res?.path ?? op.path };
        case "set":
          if (!res?.stat) throw new Error("ZooKeeper multi: no stat for a setData op");
          return { op: "set", stat: toZStat(res.stat) };
        default:
          return { op: op.op };
      }
    });
  }

  /**
   * Closes the session; ZooKeeper deletes its ephemeral znodes before it confirms. Resolves once the client
   * has disconnected, or after `callTimeoutMs` (ZooKeeper then expires the session by itself).
   */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.#callTimeoutMs);
      timer.unref();
      this.#client.once("disconnected", () => {
        clearTimeout(timer);
        resolve();
      });
      this.#client.close();
    });
    return this.#closed;
  }
}

/**
 * Adds one op to a client transaction. The client turns a version of 0 into -1 (`version || -1`), which
 * would make "version must be 0" mean "any version"; the pushed op is corrected afterwards.
 */
function addOp(tx: Transaction, op: MultiOp): void {
  switch (op.op) {
    case "check":
      tx.check(op.path, op.version);
      break;
    case "create":
      if (op.data === null) tx.create(op.path, op.ephemeral ? CreateMode.EPHEMERAL : CreateMode.PERSISTENT);
      else tx.create(op.path, op.data, op.ephemeral ? CreateMode.EPHEMERAL : CreateMode.PERSISTENT);
      return;
    case "set":
      tx.setData(op.path, op.data, op.version);
      break;
    case "delete":
      tx.remove(op.path, op.version);
      break;
  }
  const ops = (tx as unknown as { ops: { version: number }[] }).ops;
  const pushed = ops[ops.length - 1];
  if (pushed) pushed.version = op.version;
}
