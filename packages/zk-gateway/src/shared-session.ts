/**
 * The gateway's own ZooKeeper session, used by requests without `?session=` (as Apache's gateway uses one
 * client per endpoint). Opened on first use and replaced after ZooKeeper expires it.
 */
import { HttpError } from "./http.ts";
import { ZkSession } from "./zk.ts";

export class SharedSession {
  readonly #connectString: string;
  readonly #sessionTimeoutMs: number;
  readonly #callTimeoutMs: number;
  #current: Promise<ZkSession> | null = null;
  #closed = false;

  constructor(connectString: string, sessionTimeoutMs: number, callTimeoutMs: number) {
    this.#connectString = connectString;
    this.#sessionTimeoutMs = sessionTimeoutMs;
    this.#callTimeoutMs = callTimeoutMs;
  }

  /** @throws {HttpError} 503 when ZooKeeper cannot be reached in time or the gateway is closing. */
  async get(): Promise<ZkSession> {
    if (this.#closed) throw new HttpError(503, "the gateway is shutting down");
    if (!this.#current) {
      const opening = ZkSession.open(this.#connectString, {
        sessionTimeoutMs: this.#sessionTimeoutMs,
        callTimeoutMs: this.#callTimeoutMs,
      });
      this.#current = opening;
      opening.then(
        (zk) =>
          zk.onExpired(() => {
            if (this.#current === opening) this.#current = null;
          }),
        () => {
          if (this.#current === opening) this.#current = null;
        },
      );
    }
    try {
      return await this.#current;
    } catch (error) {
      throw new HttpError(503, `cannot reach ZooKeeper: ${(error as Error).message}`);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const current = this.#current;
    this.#current = null;
    if (!current) return;
    try {
      await (await current).close();
    } catch {
      // It never connected: nothing to close.
    }
  }
}
