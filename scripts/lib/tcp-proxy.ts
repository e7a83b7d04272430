/**
 * A loopback TCP proxy in front of a server, for tests that need to see or disturb the wire: it counts
 * connections, records what clients send and when, and can stall traffic to simulate a hung member.
 */
import { connect, createServer, type Socket } from "node:net";

export interface ProxiedChunk {
  /** 1-based number of the client connection. */
  connection: number;
  /** Bytes the client sent, as one chunk was read. */
  text: string;
  /** Whether the server had already answered anything on this connection when the chunk arrived. */
  afterFirstResponse: boolean;
  /** Whether the server had already answered anything on any connection when the chunk arrived. */
  afterAnyResponse: boolean;
}

export interface TcpProxy {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** Client connections accepted so far. */
  connections(): number;
  chunks: ProxiedChunk[];
  /** While stalled, nothing is forwarded in either direction and new connections are accepted but left idle. */
  stall(on: boolean): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let accepted = 0;
  let stalled = false;
  let answeredAny = false;
  const chunks: ProxiedChunk[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const id = ++accepted;
    let answered = false;
    const upstream = connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("data", (data: Buffer) => {
      chunks.push({
        connection: id,
        text: data.toString("latin1"),
        afterFirstResponse: answered,
        afterAnyResponse: answeredAny,
      });
      if (!stalled) upstream.write(data);
    });
    upstream.on("data", (data: Buffer) => {
      if (stalled) return;
      answered = true;
      answeredAny = true;
      client.write(data);
    });
    client.on("close", end);
    upstream.on("close", end);
    client.on("error", end);
    upstream.on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("proxy has no address");
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    connections: () => accepted,
    chunks,
    stall(on) {
      stalled = on;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
