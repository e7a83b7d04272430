/**
 * A loopback TCP fault proxy between clients and a server, for the torture test: it forwards bytes both ways
 * and, on command, delays them (latency), drops them while keeping the connections open (a black hole, as a
 * partition that sends no RST looks to the client), or resets every open connection (RST).
 */
import { connect, createServer, type Socket } from "node:net";

export interface FaultProxy {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** Delays every chunk, in both directions, by `ms` (0: none). Order within a connection is kept. */
  latency(ms: number): void;
  /**
   * While on, nothing is forwarded either way and new connections are accepted but get nothing through. When it
   * ends, the connections that lost bytes are reset (their streams are broken); the others carry on.
   */
  blackhole(on: boolean): void;
  /** Resets (RST) every open connection now. Returns how many were reset. */
  reset(): number;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/** One direction of one connection: chunks released in order, each no earlier than its arrival + latency. */
class Pipe {
  readonly #queue: { at: number; data: Buffer }[] = [];
  #timer: NodeJS.Timeout | null = null;
  #drained: (() => void) | null = null;
  readonly #to: Socket;

  constructor(to: Socket) {
    this.#to = to;
  }

  push(data: Buffer, latencyMs: number): void {
    const last = this.#queue.at(-1)?.at ?? 0;
    this.#queue.push({ at: Math.max(Date.now() + latencyMs, last), data });
    this.#pump();
  }

  #pump(): void {
    if (this.#timer) return;
    while (this.#queue.length > 0) {
      const head = this.#queue[0] as { at: number; data: Buffer };
      const wait = head.at - Date.now();
      if (wait > 0) {
        this.#timer = setTimeout(() => {
          this.#timer = null;
          this.#pump();
        }, wait);
        return;
      }
      this.#queue.shift();
      if (!this.#to.destroyed) this.#to.write(head.data);
    }
    this.#drained?.();
  }

  /** Calls `done` once every chunk pushed so far has been written (at once when none is pending). */
  finish(done: () => void): void {
    this.#drained = done;
    if (this.#queue.length === 0) done();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#queue.length = 0;
  }
}

interface Link {
  client: Socket;
  upstream: Socket;
  pipes: Pipe[];
  /** Whether a black hole swallowed bytes of this connection. */
  lost: boolean;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let accepted = 0;
  let latencyMs = 0;
  let holed = false;
  const links = new Set<Link>();
  const end = (link: Link, rst: boolean) => {
    if (!links.delete(link)) return;
    for (const pipe of link.pipes) pipe.stop();
    for (const socket of [link.client, link.upstream]) {
      if (rst && !socket.destroyed) socket.resetAndDestroy();
      else socket.destroy();
    }
  };
  const server = createServer((client) => {
    accepted++;
    const upstream = connect(target.port, target.host);
    const link: Link = { client, upstream, pipes: [new Pipe(upstream), new Pipe(client)], lost: false };
    links.add(link);
    const [up, down] = link.pipes as [Pipe, Pipe];
    client.on("data", (data: Buffer) => {
      if (holed) link.lost = true;
      else up.push(data, latencyMs);
    });
    upstream.on("data", (data: Buffer) => {
      if (holed) link.lost = true;
      else down.push(data, latencyMs);
    });
    // A server that goes away (killed, restarted) resets its clients, as a real one's kernel would.
    const fail = () => end(link, true);
    client.on("error", fail);
    upstream.on("error", fail);
    // A side that closes cleanly ends the other once the bytes it sent, still delayed, have gone through.
    client.on("close", () => up.finish(() => end(link, false)));
    upstream.on("close", () => down.finish(() => end(link, false)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("fault proxy has no address");
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    latency(ms) {
      latencyMs = Math.max(0, ms);
    },
    blackhole(on) {
      holed = on;
      if (!on) for (const link of [...links]) if (link.lost) end(link, true);
    },
    reset() {
      const open = [...links];
      for (const link of open) end(link, true);
      return open.length;
    },
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const link of [...links]) end(link, false);
        server.close(() => resolve());
      }),
  };
}
