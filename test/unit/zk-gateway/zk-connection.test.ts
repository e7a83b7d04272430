/**
 * The handshake bound of the gateway's ZooKeeper connections (packages/zk-gateway/src/zk-connection.ts), against
 * a scripted ZooKeeper on a local TCP port: it answers the ConnectRequest of chosen connections (the handshake
 * of ZooKeeper's client protocol: a length-prefixed ConnectResponse) and leaves the others unanswered, as a
 * ZooKeeper still starting up was seen to do. No real ZooKeeper.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { Client } from "node-zookeeper-client";
import { afterEach, describe, expect, it } from "vitest";
import { connect } from "../../../packages/zk-gateway/src/zk-connection.ts";

const SESSION_TIMEOUT_MS = 6000;
const CALL_TIMEOUT_MS = 1000;
const SESSION_ID = 0x7fff_0000_0000_1234n;

/** ConnectResponse: protocolVersion, timeOut (ms), sessionId, passwd (16 bytes), after the frame's length. */
function connectResponse(timeoutMs: number): Buffer {
  const frame = Buffer.alloc(4 + 4 + 4 + 8 + 4 + 16);
  frame.writeInt32BE(frame.length - 4, 0);
  frame.writeInt32BE(0, 4);
  frame.writeInt32BE(timeoutMs, 8);
  frame.writeBigInt64BE(SESSION_ID, 12);
  frame.writeInt32BE(16, 20);
  frame.fill(7, 24);
  return frame;
}

interface ScriptedZooKeeper {
  connectString: string;
  /** Connections accepted so far, in order. */
  sockets: Socket[];
  server: Server;
}

/**
 * Answers the handshake of the connections whose number (from 1) `answers` accepts, granting a session timeout of
 * `timeoutMs`; the others stay silent. Nothing after the handshake is ever answered, pings included.
 */
async function scriptedZooKeeper(
  answers: (n: number) => boolean,
  timeoutMs = SESSION_TIMEOUT_MS,
): Promise<ScriptedZooKeeper> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    const n = sockets.length;
    socket.on("error", () => undefined);
    socket.once("data", () => {
      if (answers(n)) socket.write(connectResponse(timeoutMs));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { connectString: `127.0.0.1:${port}`, sockets, server };
}

let zk: ScriptedZooKeeper | undefined;
let client: Client | undefined;

afterEach(async () => {
  client?.close();
  client = undefined;
  for (const socket of zk?.sockets ?? []) socket.destroy();
  await new Promise((resolve) => zk?.server.close(resolve) ?? resolve(undefined));
  zk = undefined;
});

describe("silent ZooKeeper connections", () => {
  it("a first connection whose handshake is never answered is dropped, and the next one connects in time", async () => {
    zk = await scriptedZooKeeper((n) => n > 1);
    const started = performance.now();
    client = await connect(zk.connectString, {
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      callTimeoutMs: CALL_TIMEOUT_MS,
    });
    expect(zk.sockets).toHaveLength(2);
    expect(zk.sockets[0]?.destroyed || zk.sockets[0]?.readableEnded).toBe(true);
    expect(client.getSessionId().readBigInt64BE()).toBe(SESSION_ID);
    expect(performance.now() - started).toBeLessThan(CALL_TIMEOUT_MS);
  });

  it("after a lost connection, a reconnection whose handshake is never answered gives way to the next one", async () => {
    zk = await scriptedZooKeeper((n) => n !== 2);
    client = await connect(zk.connectString, {
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      callTimeoutMs: CALL_TIMEOUT_MS,
    });
    const current = client;
    const reconnected = new Promise<void>((resolve) => current.once("connected", () => resolve()));
    // ZooKeeper goes away (a restart): the client reconnects by itself, first to a connection that stays silent.
    zk.sockets[0]?.destroy();
    await reconnected;
    expect(zk.sockets).toHaveLength(3);
    expect(zk.sockets[1]?.destroyed || zk.sockets[1]?.readableEnded).toBe(true);
  });

  it("a connected session whose server stops answering is dropped after two thirds of its session timeout", async () => {
    // The client pings after a third of the granted 900 ms without traffic; nothing comes back.
    zk = await scriptedZooKeeper(() => true, 900);
    client = await connect(zk.connectString, {
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      callTimeoutMs: CALL_TIMEOUT_MS,
    });
    const current = client;
    const connectedAt = performance.now();
    await new Promise<void>((resolve) => current.once("connected", () => resolve()));
    const silentMs = performance.now() - connectedAt;
    expect(zk.sockets.length).toBeGreaterThanOrEqual(2);
    expect(zk.sockets[0]?.destroyed || zk.sockets[0]?.readableEnded).toBe(true);
    expect(silentMs).toBeGreaterThanOrEqual(550);
    expect(silentMs).toBeLessThan(2000);
  });
});
