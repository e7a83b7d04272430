/**
 * The gateway's REST sessions (SPEC v2 "sessions/v1"): each is a UUID bound to its own ZooKeeper session,
 * closed when it has not been heartbeated for `expire` seconds, so its ephemeral znodes vanish then.
 *
 * Beyond Apache's gateway: the number of sessions and the expire range are bounded, the ZooKeeper session
 * timeout is asked to be `expire` and a session whose granted timeout is shorter is refused (otherwise a
 * gateway that loses ZooKeeper would see its ephemeral znodes deleted before `expire`), and a heartbeat is
 * answered only after ZooKeeper confirmed the session.
 */
import { randomUUID } from "node:crypto";
import { HttpError } from "./http.ts";
import { KeeperError, ZkSession, ZkTimeoutError } from "./zk.ts";

export interface SessionLimits {
  /** Most sessions open at once (including ones being created). */
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
}

export class SessionRegistry {
  readonly #connectString: string;
  readonly #limits: SessionLimits;
  readonly #sessions = new Map<string, Entry>();
  #pending = 0;
  #closing = false;
  readonly #emptied: (() => void)[] = [];

  constructor(connectString: string, limits: SessionLimits) {
    this.#connectString = connectString;
    this.#limits = limits;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** The ZooKeeper session behind a gateway session, or undefined when there is none (or it expired). */
  get(id: string): ZkSession | undefined {
    return this.#sessions.get(id)?.zk;
  }

  /**
   * Opens a session that expires `expireS` seconds after its creation or last heartbeat.
   * @throws {HttpError} 400 expire out of range or above ZooKeeper's granted timeout; 503 when the gateway
   *   holds `maxSessions` sessions, is shutting down, or ZooKeeper is unreachable. No session is left open.
   */
  async create(expireS: number): Promise<string> {
    const { minExpireS, maxExpireS, maxSessions, zkTimeoutMs } = this.#limits;
    if (!Number.isInteger(expireS) || expireS < minExpireS || expireS > maxExpireS) {
      throw new HttpError(
        400,
        `expire must be a whole number of seconds from ${minExpireS} to ${maxExpireS}`,
      );
    }
    if (this.#closing) throw new HttpError(503, "the gateway is shutting down");
    if (this.#sessions.size + this.#pending >= maxSessions) {
      throw new HttpError(503, `the gateway already holds its maximum of ${maxSessions} sessions`);
    }
    this.#pending += 1;
    let zk: ZkSession;
    try {
      zk = await ZkSession.open(this.#connectString, {
        sessionTimeoutMs: expireS * 1000,
        callTimeoutMs: zkTimeoutMs,
      });
    } catch (error) {
      throw new HttpError(503, `cannot open a ZooKeeper session: ${(error as Error).message}`);
    } finally {
      this.#pending -= 1;
    }
    if (zk.negotiatedTimeoutMs < expireS * 1000 || this.#closing) {
      await zk.close();
      if (this.#closing) throw new HttpError(503, "the gateway is shutting down");
      throw new HttpError(
        400,
        `expire ${expireS} s exceeds the ZooKeeper session timeout the server grants (${zk.negotiatedTimeoutMs} ms)`,
      );
    }
    let id = randomUUID();
    while (this.#sessions.has(id)) id = randomUUID();
    const expireMs = expireS * 1000;
    this.#sessions.set(id, { zk, expireMs, timer: this.#timer(id, expireMs) });
    zk.onExpired(() => void this.close(id));
    return id;
  }

  #timer(id: string, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => void this.close(id), ms);
    timer.unref();
    return timer;
  }

  /**
   * Confirms the ZooKeeper session with one round trip, then restarts the expire timer.
   * @throws {HttpError} 404 unknown or expired session; 503 ZooKeeper did not confirm it in time.
   */
  async heartbeat(id: string): Promise<void> {
    const entry = this.#sessions.get(id);
    if (!entry) throw new HttpError(404, `${id} not found`);
    try {
      await entry.zk.exists("/");
    } catch (error) {
      if (error instanceof KeeperError && error.code === "SESSIONEXPIRED") {
        await this.close(id);
        throw new HttpError(404, `${id} not found`);
      }
      const detail = error instanceof ZkTimeoutError || error instanceof KeeperError ? error.message : "";
      throw new HttpError(503, `ZooKeeper did not confirm session ${id}: ${detail}`);
    }
    // The session may have been closed while ZooKeeper answered.
    if (this.#sessions.get(id) !== entry) throw new HttpError(404, `${id} not found`);
    clearTimeout(entry.timer);
    entry.timer = this.#timer(id, entry.expireMs);
  }

  /** Closes a session (its ephemeral znodes are gone when this resolves). Unknown IDs are ignored. */
  async close(id: string): Promise<void> {
    const entry = this.#sessions.get(id);
    if (!entry) return;
    this.#sessions.delete(id);
    clearTimeout(entry.timer);
    await entry.zk.close();
    if (this.#sessions.size === 0) for (const resolve of this.#emptied.splice(0)) resolve();
  }

  /** Refuses new sessions and closes every open one now. */
  async closeAll(): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#sessions.keys()].map((id) => this.close(id)));
  }

  /**
   * Refuses new sessions and resolves once every open one has been closed by its own expire timer (or by
   * `close`/`closeAll`). The timers then keep the process alive.
   */
  async drain(): Promise<void> {
    this.#closing = true;
    for (const entry of this.#sessions.values()) entry.timer.ref();
    while (this.#sessions.size > 0) {
      await new Promise<void>((resolve) => this.#emptied.push(resolve));
    }
  }
}
