/**
 * The server's side of `GET /leasehold/v1/watch`: one ZooKeeper watch per watched znode, on the server's own
 * ZooKeeper session, kept while clients poll it, and a short log of the states it read, numbered, so that a
 * client that comes back with the number of the last state it got receives every state read since, in order.
 *
 * ZooKeeper's watches are one-shot: after one fires, the znode is read again with a new watch. Changes in
 * between are folded into that read. Where the fold can be seen, the log records a gap instead, and clients
 * asking from before it get 410 (then `observe()` polls): the znode's data version moved by more than one
 * within one term, or a periodic re-read found a change no watch reported (a session that ended, a watch
 * lost). A whole term that began and ended between a watch firing and the next read (one ZooKeeper round
 * trip on the server) is not seen.
 */
import { randomBytes } from "node:crypto";
import type { WatchAnswer, WatchedState } from "leasehold/zookeeper/extension";
import { HttpError } from "./http.ts";
import type { SharedSession } from "./shared-session.ts";
import { KeeperError, type ZkSession } from "./zk.ts";

/** States kept per znode: a client further behind than this gets 410. */
const LOG_SIZE = 64;
/** A znode nobody polled for this long is no longer watched, in ms. */
const IDLE_MS = 120_000;
/** How often a znode is read again even without a watch event, in ms (a lost watch cannot last longer). */
const RECHECK_MS = 10_000;
/** Most znodes watched at once; a poll of one more gets 503. */
const MAX_WATCHES = 10_000;

interface Entry {
  seq: bigint;
  state: WatchedState;
}

const sameState = (a: WatchedState, b: WatchedState) =>
  a.node === null || b.node === null
    ? a.node === b.node
    : a.node.czxid === b.node.czxid && a.node.mzxid === b.node.mzxid;

/** A change that cannot have come from one ZooKeeper event: a data version that moved by more than one. */
const folded = (a: WatchedState, b: WatchedState) =>
  a.node !== null && b.node !== null && a.node.czxid === b.node.czxid && b.node.version > a.node.version + 1;

/** The znode's data and stat without a watch; null when it does not exist. */
async function peek(zk: ZkSession, path: string): Promise<Awaited<ReturnType<ZkSession["getData"]>> | null> {
  try {
    return await zk.getData(path);
  } catch (error) {
    if (error instanceof KeeperError && error.code === "NONODE") return null;
    throw error;
  }
}

class ZnodeWatch {
  readonly epoch = randomBytes(9).toString("base64url");
  readonly #path: string;
  readonly #shared: SharedSession;
  readonly #log: Entry[] = [];
  /** States after this one cannot be followed from before it. */
  #gapAfter = -1n;
  #nextSeq = 1n;
  #waiters = new Set<() => void>();
  #usedAt = Date.now();
  #ready: Promise<void>;
  #stopped = false;
  onStop: () => void = () => {};

  constructor(path: string, shared: SharedSession) {
    this.#path = path;
    this.#shared = shared;
    let first = () => {};
    let failed: (error: unknown) => void = () => {};
    this.#ready = new Promise<void>((resolve, reject) => {
      first = resolve;
      failed = reject;
    });
    void this.#run(first, failed);
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** The znode now, and with `watch` a ZooKeeper watch of it (on `zk`). */
  async #read(
    zk: ZkSession,
    watch: boolean,
  ): Promise<{ state: WatchedState; changed: Promise<void> | null }> {
    const { node, changed } = watch
      ? await zk.watch(this.#path)
      : { node: await peek(zk, this.#path), changed: null };
    if (node) {
      const data64 = node.data === null ? {} : { data64: node.data.toString("base64") };
      return { state: { zxid: node.stat.mzxid, node: { ...node.stat, ...data64 } }, changed };
    }
    const parent = this.#path.slice(0, this.#path.lastIndexOf("/")) || "/";
    const zxid = (await zk.exists(parent))?.pzxid ?? 0n;
    return { state: { zxid, node: null }, changed };
  }

  async #run(first: () => void, failed: (error: unknown) => void): Promise<void> {
    let started = false;
    /** The watch set, and the session it is on (a replaced session's watch never fires). */
    let armed: { changed: Promise<void>; zk: ZkSession } | null = null;
    try {
      while (Date.now() - this.#usedAt < IDLE_MS) {
        if (armed === null) {
          const zk = await this.#shared.get();
          const { state, changed } = await this.#read(zk, true);
          armed = { changed: changed as Promise<void>, zk };
          const last = this.#log.at(-1);
          if (!last || !sameState(last.state, state)) {
            this.#append(state, last !== undefined && folded(last.state, state));
          }
          if (!started) {
            started = true;
            first();
          }
        }
        const fired = await Promise.race([
          armed.changed.then(() => true),
          new Promise<false>((resolve) => setTimeout(resolve, RECHECK_MS, false).unref()),
        ]);
        if (fired) {
          armed = null;
          continue;
        }
        const zk = await this.#shared.get();
        const { state: now } = await this.#read(zk, false);
        const seen = this.#log.at(-1) as Entry;
        if (!sameState(seen.state, now)) {
          // A change no watch reported: whatever happened before it was not followed.
          this.#append(now, true);
          armed = null;
        } else if (zk !== armed.zk) armed = null;
      }
    } catch (error) {
      if (!started) failed(error);
    } finally {
      this.#stop();
    }
  }

  #append(state: WatchedState, gap: boolean): void {
    const seq = this.#nextSeq++;
    if (gap) this.#gapAfter = seq - 1n;
    this.#log.push({ seq, state });
    if (this.#log.length > LOG_SIZE) this.#log.shift();
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }

  /** Ends the watch: polls waiting on it answer now, and later ones start a new watch. */
  close(): void {
    this.#usedAt = Number.NEGATIVE_INFINITY;
    this.#stop();
  }

  #stop(): void {
    this.#stopped = true;
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
    this.onStop();
  }

  /**
   * The states after `after` (all of them, in order), waiting up to `waitMs` for one; `after` null: the
   * znode now.
   * @throws {HttpError} 410 the states since `after` cannot be told; 503 ZooKeeper could not be read.
   */
  async poll(after: bigint | null, waitMs: number, signal: AbortSignal): Promise<WatchAnswer> {
    this.#usedAt = Date.now();
    try {
      await this.#ready;
    } catch (error) {
      throw new HttpError(503, `cannot watch ${this.#path}: ${(error as Error).message}`);
    }
    const oldest = this.#log[0]?.seq ?? this.#nextSeq;
    if (after !== null && (after < this.#gapAfter + 1n || after < oldest - 1n || after >= this.#nextSeq)) {
      throw new HttpError(410, `the changes of ${this.#path} since then are not known here: watch it again`);
    }
    if (after === null) {
      const last = this.#log.at(-1) as Entry;
      return { cursor: `${this.epoch}.${last.seq}`, changes: [last.state] };
    }
    if (after === this.#nextSeq - 1n && !this.#stopped) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        const wake = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", wake);
          resolve();
        };
        signal.addEventListener("abort", wake, { once: true });
        this.#waiters.add(wake);
      });
      this.#usedAt = Date.now();
      if (after < this.#gapAfter + 1n)
        throw new HttpError(410, `${this.#path}: a change could not be followed`);
    }
    const changes = this.#log.filter((e) => e.seq > after);
    const cursor = changes.at(-1)?.seq ?? after;
    return { cursor: `${this.epoch}.${cursor}`, changes: changes.map((e) => e.state) };
  }
}

/** The watched znodes of one server, by path. */
export class ZnodeWatches {
  readonly #shared: SharedSession;
  readonly #watches = new Map<string, ZnodeWatch>();

  constructor(shared: SharedSession) {
    this.#shared = shared;
  }

  close(): void {
    for (const watch of this.#watches.values()) watch.close();
    this.#watches.clear();
  }

  /**
   * A poll of `path` from `cursor` (`<epoch>.<seq>` of an earlier answer, or null for the znode now).
   * @throws {HttpError} 410 a cursor of another watch of the znode (restarted, another instance).
   */
  poll(path: string, cursor: string | null, waitMs: number, signal: AbortSignal): Promise<WatchAnswer> {
    let watch = this.#watches.get(path);
    if (!watch || watch.stopped) {
      if (this.#watches.size >= MAX_WATCHES) {
        return Promise.reject(new HttpError(503, `the server already watches ${MAX_WATCHES} znodes`));
      }
      const created = new ZnodeWatch(path, this.#shared);
      created.onStop = () => {
        if (this.#watches.get(path) === created) this.#watches.delete(path);
      };
      this.#watches.set(path, created);
      watch = created;
    }
    if (cursor === null) return watch.poll(null, waitMs, signal);
    const [epoch, seq] = cursor.split(".") as [string, string];
    if (epoch !== watch.epoch) {
      return Promise.reject(new HttpError(410, `the watch of ${path} restarted since then: watch it again`));
    }
    return watch.poll(BigInt(seq), waitMs, signal);
  }
}
