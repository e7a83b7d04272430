/**
 * One node-zookeeper-client connection: connecting it within a deadline (a new ZooKeeper session, or an existing
 * one re-attached), dropping connections that went silent, detaching it instead of letting the client
 * reconnect, and closing it.
 */
import type { Socket } from "node:net";
import { type Client, createClient } from "node-zookeeper-client";
import { KeeperError, ZkTimeoutError } from "./zk-errors.ts";

export interface ZkSessionOptions {
  /** The ZooKeeper session timeout to ask for, in ms; the server clamps it to its min/max. */
  sessionTimeoutMs: number;
  /** Deadline of each call and of the initial connection, in ms. */
  callTimeoutMs: number;
  /** Re-attach this existing session (its 8-byte ID and 16-byte password) instead of creating one. */
  resume?: ZkCredentials;
  /**
   * False: once connected, a lost connection ends this object instead of reconnecting (every later call
   * fails with `ZkDetachedError`, and `onDetached` listeners run); the session itself lives on in
   * ZooKeeper until it expires or a new connection re-attaches it. Default true (reconnect, as ZooKeeper
   * clients do).
   */
  reconnect?: boolean;
}

/** What re-attaches a ZooKeeper session from any connection. */
export interface ZkCredentials {
  /** The session ID, 8 bytes big-endian. */
  id: Buffer;
  /** The session password, 16 bytes. */
  password: Buffer;
}

/** The connection manager inside node-zookeeper-client, which its typings leave out. */
interface ConnectionManager {
  state: number;
  /** The negotiated session timeout in ms, once connected (the asked one before). */
  sessionTimeout: number;
  socket: Socket | undefined;
  connect(): void;
  setState(state: number): void;
  /** Runs once a connection's TCP connect completes: it writes the ConnectRequest of the handshake. */
  onSocketConnected(): void;
}

/** node-zookeeper-client's ConnectionManager.STATES.CLOSED: refuses every call with CONNECTION_LOSS. */
const MANAGER_CLOSED = -2;
/** ConnectionManager.STATES.CONNECTING: from a connection attempt until ZooKeeper's ConnectResponse. */
const MANAGER_CONNECTING = 1;

const managerOf = (client: Client) =>
  (client as unknown as { connectionManager: ConnectionManager }).connectionManager;

/**
 * A connected client: a new session, or `options.resume` re-attached.
 * @throws {ZkTimeoutError} ZooKeeper did not establish the session in time (the client is closed again).
 * @throws {KeeperError} SESSIONEXPIRED: ZooKeeper refused to re-attach (the session expired or was
 *   closed, or the password is wrong).
 */
export async function connect(connectString: string, options: ZkSessionOptions): Promise<Client> {
  const client = createClient(connectString, {
    sessionTimeout: options.sessionTimeoutMs,
    spinDelay: 200,
    retries: 0,
    // The client reads these (ConnectionManager) though its typings do not list them.
    ...(options.resume ? { sessionId: options.resume.id, sessionPassword: options.resume.password } : {}),
  });
  const outcome = new Promise<"connected" | "expired">((resolve) => {
    client.once("connected", () => resolve("connected"));
    client.once("expired", () => resolve("expired"));
  });
  // Half the connect's deadline per handshake, so that a second attempt fits in it.
  boundSilence(client, Math.max(1, Math.floor(options.callTimeoutMs / 2)));
  client.connect();
  const result = await Promise.race([
    outcome,
    new Promise<"late">((r) => setTimeout(r, options.callTimeoutMs, "late").unref()),
  ]);
  if (result === "expired") throw new KeeperError("SESSIONEXPIRED", "/");
  if (result === "late") {
    await disconnect(client, options.callTimeoutMs);
    throw new ZkTimeoutError("connect", connectString, options.callTimeoutMs);
  }
  return client;
}

/**
 * node-zookeeper-client reconnects by itself, with the session's ID and password. Two connections to one
 * session would then take it from each other for ever (ZooKeeper closes the older connection when a newer
 * one attaches): instead, the first reconnect attempt closes the client for good and calls `onDetached`, and
 * whoever needs the session next attaches it again.
 */
export function detachOnReconnect(client: Client, onDetached: () => void): void {
  const manager = managerOf(client);
  manager.connect = () => {
    manager.setState(MANAGER_CLOSED);
    onDetached();
  };
}

/**
 * Drops a connection of `client` that has gone silent; the client then goes on as after any lost connection (its
 * next attempt, or the detach of {@link detachOnReconnect}). node-zookeeper-client leaves two waits unbounded:
 *
 * - the handshake: it bounds only the TCP connect, and a ZooKeeper that accepts a connection while it is
 *   starting up may never answer the ConnectRequest. After restarts of a standalone ZooKeeper under load, that
 *   kept the gateway's shared session disconnected, every call answering 504, until ZooKeeper restarted again.
 *   Each attempt gets `handshakeMs` once its TCP connect is done;
 * - a connected session: the client pings after a third of the session timeout without traffic, but never gives
 *   up on a server that stops answering. As ZooKeeper's own Java client does, a connection that has received
 *   nothing for two thirds of the negotiated session timeout is dropped.
 */
export function boundSilence(client: Client, handshakeMs: number): void {
  const manager = managerOf(client);
  const handshake = manager.onSocketConnected;
  manager.onSocketConnected = function (this: ConnectionManager) {
    handshake.call(this);
    const socket = manager.socket;
    if (!socket) return;
    let heard = performance.now();
    socket.on("data", () => {
      heard = performance.now();
    });
    const check = (ms: number) =>
      setTimeout(() => {
        if (manager.socket !== socket || socket.destroyed) return;
        const limit =
          manager.state === MANAGER_CONNECTING ? handshakeMs : Math.floor((manager.sessionTimeout * 2) / 3);
        const quiet = performance.now() - heard;
        if (quiet >= limit) socket.destroy();
        else check(limit - quiet);
      }, ms).unref();
    check(handshakeMs);
  };
}

/**
 * Closes the session; ZooKeeper deletes its ephemeral znodes before it confirms. Resolves once the client has
 * disconnected, or after `timeoutMs` (ZooKeeper then expires the session by itself).
 */
export function disconnect(client: Client, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    timer.unref();
    client.once("disconnected", () => {
      clearTimeout(timer);
      resolve();
    });
    client.close();
  });
}
