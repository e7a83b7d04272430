/**
 * The gateway's long-poll watch of a znode on its own (packages/zk-gateway/src/znode-watch.ts): a scripted
 * ZooKeeper (znodes, one-shot exists watches, sessions whose watches can be lost) and vitest's fake timers for
 * its re-read period and idle end. No real ZooKeeper.
 */
import type { WatchAnswer, WatchedState } from "leasehold/zookeeper/extension";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HttpError } from "../../../packages/zk-gateway/src/http.ts";
import type { SharedSession } from "../../../packages/zk-gateway/src/shared-session.ts";
import { KeeperError, type ZkSession, type ZStat } from "../../../packages/zk-gateway/src/zk.ts";
import { ZnodeWatches } from "../../../packages/zk-gateway/src/znode-watch.ts";

const PATH = "/leasehold/jobs/x";
const PARENT = "/leasehold/jobs";
/** The watch's own periods (znode-watch.ts), in ms. */
const RECHECK_MS = 10_000;
const IDLE_MS = 120_000;
const LOG_SIZE = 64;

interface Znode {
  data: Buffer | null;
  stat: ZStat;
}

type WatchSession = Pick<ZkSession, "watch" | "getData" | "exists">;

/**
 * Znodes with zxids above 2^53 (exact bigints), and ZooKeeper's one-shot watches per session: a change fires
 * the watches set on the znode by sessions that still have them, unless it is `silent` (a lost watch).
 */
class ScriptedZooKeeper {
  readonly #nodes = new Map<string, Znode>();
  #zxid = 2n ** 60n;
  readonly #watches = new Map<WatchSession, Map<string, (() => void)[]>>();
  /** The error every read fails with, when set. */
  failReads: Error | null = null;

  constructor() {
    this.#nodes.set(PARENT, { data: null, stat: this.#stat(this.#next(), 0) });
  }

  #next(): bigint {
    this.#zxid += 1n;
    return this.#zxid;
  }

  #stat(zxid: bigint, version: number, czxid = zxid, dataLength = 0): ZStat {
    return {
      czxid,
      mzxid: zxid,
      ctime: 1_700_000_000_000n,
      mtime: 1_700_000_000_000n,
      version,
      cversion: 0,
      aversion: 0,
      ephemeralOwner: 0n,
      dataLength,
      numChildren: 0,
      pzxid: zxid,
    };
  }

  /** A new session: its watches fire until {@link loseWatches}. */
  session(): WatchSession {
    const read = (path: string): Znode | null => {
      if (this.failReads) throw this.failReads;
      return this.#nodes.get(path) ?? null;
    };
    const session: WatchSession = {
      watch: async (path) => {
        const node = read(path);
        const changed = new Promise<void>((resolve) => {
          const own = this.#watches.get(session) ?? new Map<string, (() => void)[]>();
          this.#watches.set(session, own);
          own.set(path, [...(own.get(path) ?? []), resolve]);
        });
        return { node, changed };
      },
      getData: async (path) => {
        const node = read(path);
        if (!node) throw new KeeperError("NONODE", path);
        return node;
      },
      exists: async (path) => read(path)?.stat ?? null,
    };
    return session;
  }

  /** The session's watches never fire (as after its expiry). */
  loseWatches(session: WatchSession): void {
    this.#watches.delete(session);
  }

  #changed(path: string, silent: boolean): void {
    if (silent) return;
    for (const own of this.#watches.values()) {
      for (const fire of own.get(path) ?? []) fire();
      own.delete(path);
    }
  }

  create(path: string, data: string, { silent = false } = {}): void {
    const zxid = this.#next();
    this.#nodes.set(path, { data: Buffer.from(data), stat: this.#stat(zxid, 0, zxid, data.length) });
    this.#touchParent(zxid);
    this.#changed(path, silent);
  }

  set(path: string, data: string, { silent = false } = {}): void {
    const node = this.#nodes.get(path);
    if (!node) throw new Error(`no znode ${path}`);
    const zxid = this.#next();
    node.data = Buffer.from(data);
    node.stat = this.#stat(zxid, node.stat.version + 1, node.stat.czxid, data.length);
    this.#changed(path, silent);
  }

  delete(path: string): void {
    this.#nodes.delete(path);
    this.#touchParent(this.#next());
    this.#changed(path, false);
  }

  #touchParent(zxid: bigint): void {
    const parent = this.#nodes.get(PARENT);
    if (parent) parent.stat = { ...parent.stat, pzxid: zxid };
  }

  get parentPzxid(): bigint {
    return this.#nodes.get(PARENT)?.stat.pzxid ?? 0n;
  }
}

/** Lets every pending promise chain run (setImmediate stays real: only timers and Date are faked). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

let zk: ScriptedZooKeeper;
let current: WatchSession;
let watches: ZnodeWatches;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  zk = new ScriptedZooKeeper();
  current = zk.session();
  const shared = { get: async () => current } as unknown as SharedSession;
  watches = new ZnodeWatches(shared);
});

afterEach(() => {
  watches.close();
  vi.useRealTimers();
});

const signal = () => new AbortController().signal;

function poll(cursor: string | null, waitMs = 30_000, abort = signal()): Promise<WatchAnswer> {
  return watches.poll(PATH, cursor, waitMs, abort);
}

/** What a poll settled to by now: its answer, its error, or "pending". */
async function outcome(answer: Promise<WatchAnswer>): Promise<WatchAnswer | HttpError | "pending"> {
  let result: WatchAnswer | HttpError | "pending" = "pending";
  answer.then(
    (a) => {
      result = a;
    },
    (e: HttpError) => {
      result = e;
    },
  );
  await settle();
  return result;
}

async function gone(answer: Promise<WatchAnswer>): Promise<number> {
  const error = await answer.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HttpError);
  return (error as HttpError).status;
}

const seq = (cursor: string) => BigInt(cursor.split(".")[1] as string);
const versions = (changes: WatchedState[]) => changes.map((s) => s.node?.version ?? null);

/** A cursor with the same epoch as `cursor` and sequence `n`. */
const at = (cursor: string, n: bigint) => `${cursor.split(".")[0]}.${n}`;

describe("the znode now (no cursor)", () => {
  it("answers the znode's stat, exact 64-bit fields, and data, at its mzxid, with the first cursor", async () => {
    zk.create(PATH, "holder-a");
    const answer = await poll(null);
    expect(answer.cursor).toMatch(/^[A-Za-z0-9_-]+\.1$/);
    expect(answer.changes).toHaveLength(1);
    const [state] = answer.changes as [WatchedState];
    expect(state.node?.mzxid).toBe(2n ** 60n + 2n);
    expect(state.zxid).toBe(state.node?.mzxid);
    expect(state.node?.data64).toBe(Buffer.from("holder-a").toString("base64"));
  });

  it("answers a missing znode as null, at its parent's pzxid", async () => {
    const answer = await poll(null);
    expect(answer.changes).toEqual([{ zxid: zk.parentPzxid, node: null }]);
  });

  it("answers 503 when ZooKeeper cannot be read, and watches anew on the next poll", async () => {
    zk.failReads = new KeeperError("CONNECTIONLOSS", PATH);
    expect(await gone(poll(null))).toBe(503);
    zk.failReads = null;
    zk.create(PATH, "a");
    expect((await poll(null)).changes[0]?.node?.version).toBe(0);
  });
});

describe("a poll from a cursor", () => {
  it("waits for the next change the watch reports, then answers it with the next cursor", async () => {
    zk.create(PATH, "a");
    const first = await poll(null);
    const next = poll(first.cursor);
    expect(await outcome(next)).toBe("pending");
    zk.set(PATH, "b");
    const answer = await next;
    expect(seq(answer.cursor)).toBe(2n);
    expect(answer.changes.map((s) => s.node?.data64)).toEqual([Buffer.from("b").toString("base64")]);
  });

  it("answers every state read since the cursor, in order", async () => {
    zk.create(PATH, "a");
    const first = await poll(null);
    zk.set(PATH, "b");
    await settle();
    zk.delete(PATH);
    await settle();
    zk.create(PATH, "c");
    await settle();
    const answer = await poll(first.cursor);
    expect(seq(answer.cursor)).toBe(4n);
    expect(versions(answer.changes)).toEqual([1, null, 0]);
    expect(answer.changes[1]?.zxid).toBe(zk.parentPzxid - 1n);
  });

  it("answers no change, at the same cursor, once waitMs has passed", async () => {
    zk.create(PATH, "a");
    const first = await poll(null);
    const next = poll(first.cursor, 5_000);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(await outcome(next)).toBe("pending");
    await vi.advanceTimersByTimeAsync(1);
    expect(await next).toEqual({ cursor: first.cursor, changes: [] });
  });

  it("answers no change at once when the client goes away while it waits", async () => {
    zk.create(PATH, "a");
    const first = await poll(null);
    const abort = new AbortController();
    const next = poll(first.cursor, 30_000, abort.signal);
    expect(await outcome(next)).toBe("pending");
    abort.abort();
    expect(await outcome(next)).toEqual({ cursor: first.cursor, changes: [] });
  });

  it("adds nothing when a periodic re-read finds the state it has", async () => {
    zk.create(PATH, "a");
    const first = await poll(null);
    const next = poll(first.cursor, 60_000);
    await vi.advanceTimersByTimeAsync(3 * RECHECK_MS);
    expect(await outcome(next)).toBe("pending");
  });

  it("follows the watch on the session that replaced an expired one", async () => {
    zk.create(PATH, "a");
    const first = await poll(null);
    zk.loseWatches(current);
    current = zk.session();
    await vi.advanceTimersByTimeAsync(RECHECK_MS);
    const next = poll(first.cursor, 60_000);
    zk.set(PATH, "b");
    expect(await outcome(next)).toMatchObject({ changes: [{ node: { version: 1 } }] });
  });
});

describe("410: what changed since the cursor cannot be told", () => {
  it("for a cursor of another watch of the znode (another epoch)", async () => {
    zk.create(PATH, "a");
    await poll(null);
    expect(await gone(poll("AAAAAAAAAAAA.1"))).toBe(410);
  });

  it("for a cursor of a watch that ended after IDLE_MS without polls", async () => {
    zk.create(PATH, "a");
    const first = await poll(null);
    await vi.advanceTimersByTimeAsync(IDLE_MS + RECHECK_MS);
    expect(await gone(poll(first.cursor))).toBe(410);
    const fresh = await poll(null);
    expect(fresh.cursor.split(".")[0]).not.toBe(first.cursor.split(".")[0]);
  });

  it("for a cursor ahead of the log", async () => {
    zk.create(PATH, "a");
    const first = await poll(null);
    expect(await gone(poll(at(first.cursor, 2n)))).toBe(410);
  });

  it(`for a cursor whose states fell out of the log (${LOG_SIZE} kept)`, async () => {
    zk.create(PATH, "v0");
    const first = await poll(null);
    for (let i = 1; i <= LOG_SIZE + 1; i++) {
      zk.set(PATH, `v${i}`);
      await settle();
    }
    // States 1..66 were read; the log keeps 3..66, which a client at 2 can still follow.
    expect(await gone(poll(first.cursor))).toBe(410);
    const kept = await poll(at(first.cursor, 2n));
    expect(kept.changes).toHaveLength(LOG_SIZE);
    expect(seq(kept.cursor)).toBe(BigInt(LOG_SIZE + 2));
  });

  it("from before a data version that jumped within one term (two changes folded into one read)", async () => {
    zk.create(PATH, "a");
    const first = await poll(null);
    zk.set(PATH, "b");
    zk.set(PATH, "c");
    await settle();
    expect(await gone(poll(first.cursor))).toBe(410);
    const after = poll(at(first.cursor, 2n), 0);
    await vi.advanceTimersByTimeAsync(0);
    expect(await after).toEqual({ cursor: at(first.cursor, 2n), changes: [] });
  });

  it("not for a jump across terms: a new znode starts its versions again", async () => {
    zk.create(PATH, "a");
    const first = await poll(null);
    zk.delete(PATH);
    zk.create(PATH, "c");
    zk.set(PATH, "d");
    zk.set(PATH, "e");
    await settle();
    expect(versions((await poll(first.cursor)).changes)).toEqual([2]);
  });

  it("from before a change no watch reported, found by the periodic re-read", async () => {
    zk.create(PATH, "a");
    const first = await poll(null);
    zk.set(PATH, "b", { silent: true });
    await vi.advanceTimersByTimeAsync(RECHECK_MS);
    expect(await gone(poll(first.cursor))).toBe(410);
    expect(versions((await poll(null)).changes)).toEqual([1]);
  });

  it("to a poll waiting when such a change is found", async () => {
    zk.create(PATH, "a");
    const first = await poll(null);
    const waiting = gone(poll(first.cursor, 60_000));
    zk.set(PATH, "b", { silent: true });
    await vi.advanceTimersByTimeAsync(RECHECK_MS);
    expect(await waiting).toBe(410);
  });
});

describe("the server's watches", () => {
  it("answers 503 for one znode more than MAX_WATCHES (10 000) at once", async () => {
    const polls = Array.from({ length: 10_000 }, (_, i) => watches.poll(`/z${i}`, null, 0, signal()));
    await Promise.all(polls);
    const more = watches.poll("/one-more", null, 0, signal());
    expect(await gone(more)).toBe(503);
  });
});
