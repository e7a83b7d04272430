/**
 * The gateway's REST sessions (SPEC v2 "sessions/v1"): each is bound to its own ZooKeeper session, closed
 * when it has not been heartbeated for `expire` seconds, so its ephemeral znodes vanish then.
 *
 * A REST session ID is the sealed ZooKeeper session (session-token.ts), so any gateway instance with the
 * session key serves it: an instance that does not hold the session attaches it on its first request for
 * it. ZooKeeper lets one connection hold a session: when another attaches, the server closes the older
 * connection (on an ensemble, a server other than the new one's keeps it open for reads but refuses its
 * writes by closing it, so heartbeats and the expire confirm with a write). So one instance holds a
 * session, the one that attached it last. An instance whose connection closes forgets the session (no
 * reconnect, no close): the next request, wherever it lands, attaches again, and the session lives on in
 * ZooKeeper meanwhile (ZooKeeper expires it after its session timeout, never shorter than `expire`, if no
 * request comes).
 *
 * The holding instance counts the expire: from creation or the last heartbeat, or from the attach when it
 * took the session over on another request (the heartbeat before it went to another instance).
 *
 * Beyond Apache's gateway: the number of sessions and the expire range are bounded, the ZooKeeper session
 * timeout is asked to be `expire` and a session whose granted timeout is shorter is refused (otherwise a
 * gateway that loses ZooKeeper would see its ephemeral znodes deleted before `expire`), and a heartbeat is
 * answered only after ZooKeeper confirmed the session.
 */
import { HttpError } from "./http.ts";
import type { SessionSealer } from "./session-token.ts";
import { KeeperError, ZkDetachedError, ZkSession, ZkTimeoutError } from "./zk.ts";

export interface SessionLimits {
  /** Most sessions held at once (including ones being created or attached). */
  maxSessions: number;
  /** Smallest and largest `expire`, in seconds. */
  minExpireS: number;
  maxExpireS: number;
  /** Deadline of each ZooKeeper call, in ms. */
  zkTimeoutMs: number;
}

interface Entry {
  zk: ZkSession;
  expireMs: number;
  timer: NodeJS.Timeout;
  /** Closed by DELETE or by its expire (not merely given up to another connection). */
  closed: boolean;
}

const isSessionExpired = (error: unknown) => error instanceof KeeperError && error.code === "SESSIONEXPIRED";

export class SessionRegistry {
  readonly #connectString: string;
  readonly #limits: SessionLimits;
  readonly #sealer: SessionSealer;
  readonly #sessions = new Map<string, Entry>();
  readonly #attaching = new Map<string, Promise<Entry | null>>();
  #pending = 0;
  #closing = false;
  readonly #emptied: (() => void)[] = [];

  constructor(connectString: string, limits: SessionLimits, sealer: SessionSealer) {
    this.#connectString = connectString;
    this.#limits = limits;
    this.#sealer = sealer;
  }

  /** Sessions this instance holds now. */
  get size(): number {
    return this.#sessions.size;
  }

  /**
   * Opens a session that expires `expireS` seconds after its creation or last heartbeat; resolves to its
   * sealed REST session ID.
   * @throws {HttpError} 400 expire out of range or above ZooKeeper's granted timeout; 503 when the gateway
   *   holds `maxSessions` sessions, is shutting down, or ZooKeeper is unreachable. No session is left open.
   */
  async create(expireS: number): Promise<string> {
    const { minExpireS, maxExpireS } = this.#limits;
    if (!Number.isInteger(expireS) || expireS < minExpireS || expireS > maxExpireS) {
      throw new HttpError(
        400,
        `expire must be a whole number of seconds from ${minExpireS} to ${maxExpireS}`,
      );
    }
    const zk = await this.#connect(expireS, undefined);
    if (zk.negotiatedTimeoutMs < expireS * 1000 || this.#closing) {
      await zk.close();
      if (this.#closing) throw new HttpError(503, "the gateway is shutting down");
      throw new HttpError(
        400,
        `expire ${expireS} s exceeds the ZooKeeper session timeout the server grants (${zk.negotiatedTimeoutMs} ms)`,
      );
    }
    const restSessionId = this.#sealer.seal({ zk: zk.credentials, expireS });
    this.#hold(restSessionId, zk, expireS * 1000);
    return restSessionId;
  }

  /** @throws {HttpError} 503 shutting down, full, or ZooKeeper did not connect in time. */
  async #connect(expireS: number, resume: ZkSession["credentials"] | undefined): Promise<ZkSession> {
    if (this.#closing) throw new HttpError(503, "the gateway is shutting down");
    const { maxSessions, zkTimeoutMs } = this.#limits;
    if (this.#sessions.size + this.#pending >= maxSessions) {
      throw new HttpError(503, `the gateway already holds its maximum of ${maxSessions} sessions`);
    }
    this.#pending += 1;
    try {
      return await ZkSession.open(this.#connectString, {
        sessionTimeoutMs: expireS * 1000,
        callTimeoutMs: zkTimeoutMs,
        reconnect: false,
        ...(resume ? { resume } : {}),
      });
    } catch (error) {
      if (isSessionExpired(error)) throw error;
      throw new HttpError(503, `cannot open a ZooKeeper session: ${(error as Error).message}`);
    } finally {
      this.#pending -= 1;
    }
  }

  #hold(restSessionId: string, zk: ZkSession, expireMs: number): Entry {
    const entry: Entry = { zk, expireMs, timer: this.#timer(restSessionId, expireMs), closed: false };
    this.#sessions.set(restSessionId, entry);
    zk.onDetached(() => this.#forget(restSessionId, entry));
    return entry;
  }

  #timer(restSessionId: string, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => void this.#expire(restSessionId), ms);
    if (!this.#closing) timer.unref();
    return timer;
  }

  async #expire(restSessionId: string): Promise<void> {
    const entry = this.#sessions.get(restSessionId);
    if (!entry) return;
    // ZooKeeper lets any connection close a session, even one that no longer holds it (another instance
    // re-attached it through another server): close only what this connection still holds.
    await entry.zk.confirm().catch(() => undefined);
    if (this.#sessions.get(restSessionId) === entry) await this.#close(restSessionId, entry);
  }

  /** Drops a session whose connection is gone, without closing it: it lives on in ZooKeeper. */
  #forget(restSessionId: string, entry: Entry): void {
    if (this.#sessions.get(restSessionId) !== entry) return;
    this.#sessions.delete(restSessionId);
    clearTimeout(entry.timer);
    this.#notifyIfEmpty();
  }

  #notifyIfEmpty(): void {
    if (this.#sessions.size === 0) for (const resolve of this.#emptied.splice(0)) resolve();
  }

  /**
   * The session, attached on first use; null when the ID is not one this gateway sealed, or ZooKeeper no
   * longer has the session.
   * @throws {HttpError} 503 when it cannot be attached now.
   */
  async #entry(restSessionId: string): Promise<Entry | null> {
    const held = this.#sessions.get(restSessionId);
    if (held) return held;
    let attaching = this.#attaching.get(restSessionId);
    if (!attaching) {
      attaching = this.#attach(restSessionId).finally(() => this.#attaching.delete(restSessionId));
      this.#attaching.set(restSessionId, attaching);
    }
    return attaching;
  }

  async #attach(restSessionId: string): Promise<Entry | null> {
    const held = this.#sessions.get(restSessionId);
    if (held) return held;
    const ticket = this.#sealer.open(restSessionId);
    if (!ticket) return null;
    try {
      const zk = await this.#connect(ticket.expireS, ticket.zk);
      return this.#hold(restSessionId, zk, ticket.expireS * 1000);
    } catch (error) {
      if (isSessionExpired(error)) return null;
      throw error;
    }
  }

  /**
   * Runs `call` on the session's ZooKeeper session, attaching it first if needed; a call that was not sent
   * because the connection had just been taken over runs once more on a new one.
   * @throws {HttpError} 401 unknown, forged or expired session; 503 it cannot be attached now.
   */
  async use<T>(restSessionId: string, call: (zk: ZkSession) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      const entry = await this.#entry(restSessionId);
      if (!entry) throw new HttpError(401);
      try {
        return await call(entry.zk);
      } catch (error) {
        if (error instanceof ZkDetachedError && attempt === 0) continue;
        if (isSessionExpired(error)) {
          await this.#close(restSessionId, entry);
          throw new HttpError(401);
        }
        throw error;
      }
    }
  }

  /**
   * Confirms with one round trip that this instance holds the ZooKeeper session (attaching it first if
   * needed), then restarts the expire timer. A heartbeat whose connection was taken over meanwhile (it is
   * then detached) attaches again once.
   * @throws {HttpError} 404 unknown, forged or expired session; 503 ZooKeeper did not confirm it in time.
   */
  async heartbeat(restSessionId: string): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      const entry = await this.#entry(restSessionId);
      if (!entry) throw new HttpError(404, `${restSessionId} not found`);
      try {
        await entry.zk.confirm();
      } catch (error) {
        if (entry.zk.detached && attempt === 0) continue;
        if (isSessionExpired(error)) {
          await this.#close(restSessionId, entry);
          throw new HttpError(404, `${restSessionId} not found`);
        }
        const detail = error instanceof ZkTimeoutError || error instanceof KeeperError ? error.message : "";
        throw new HttpError(503, `ZooKeeper did not confirm session ${restSessionId}: ${detail}`);
      }
      if (entry.closed) throw new HttpError(404, `${restSessionId} not found`);
      // Given up to another connection after ZooKeeper confirmed it: that holder counts the expire now.
      if (this.#sessions.get(restSessionId) !== entry) return;
      clearTimeout(entry.timer);
      entry.timer = this.#timer(restSessionId, entry.expireMs);
      return;
    }
  }

  /**
   * Closes a session, attaching it first if another instance held it (its ephemeral znodes are gone when
   * this resolves). Unknown, forged and expired IDs are ignored.
   * @throws {HttpError} 503 when it cannot be attached now.
   */
  async close(restSessionId: string): Promise<void> {
    const entry = this.#sessions.get(restSessionId) ?? (await this.#entry(restSessionId));
    if (entry) await this.#close(restSessionId, entry);
  }

  async #close(restSessionId: string, entry: Entry): Promise<void> {
    if (this.#sessions.get(restSessionId) !== entry) return;
    entry.closed = true;
    this.#sessions.delete(restSessionId);
    clearTimeout(entry.timer);
    await entry.zk.close();
    this.#notifyIfEmpty();
  }

  /** Refuses new sessions and closes every held one now. */
  async closeAll(): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#sessions].map(([restSessionId, entry]) => this.#close(restSessionId, entry)));
  }

  /**
   * Refuses new sessions and resolves once every held one has been closed by its own expire timer (or by
   * `close`/`closeAll`), or taken over by another instance. The timers then keep the process alive.
   */
  async drain(): Promise<void> {
    this.#closing = true;
    for (const entry of this.#sessions.values()) entry.timer.ref();
    while (this.#sessions.size > 0) {
      await new Promise<void>((resolve) => this.#emptied.push(resolve));
    }
  }
}
