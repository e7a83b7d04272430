/**
 * undiciTransport against loopback servers: keep-alive reuse, pipelining on one connection, deadlines, error
 * mapping, option validation.
 */
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { undiciTransport } from "../../../adapters/node/index.ts";
import { freePort } from "../../../scripts/lib/free-port.ts";
import {
  deadlineSignal,
  type HttpRequest,
  LeaseTimeoutError,
  MalformedResponseError,
  type Transport,
  TransportError,
} from "../../../src/backend-kit.ts";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track(transport: Transport): Transport {
  cleanups.push(() => transport.close?.() ?? Promise.resolve());
  return transport;
}

async function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("no address");
  return `http://127.0.0.1:${address.port}`;
}

/** An HTTP server that echoes method, path, headers and body, counting the connections it accepts. */
async function echoServer() {
  let connections = 0;
  const server = createHttpServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on("end", () => {
      res.setHeader("X-Echo", "yes");
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
    });
  });
  server.on("connection", () => {
    connections++;
  });
  const url = await listen(server);
  cleanups.push(async () => server.closeAllConnections());
  return { url, connections: () => connections };
}

const post = (url: string, body: string, signal = deadlineSignal(2000)): HttpRequest => ({
  method: "POST",
  url,
  headers: { "content-type": "application/json", authorization: "t0k" },
  body,
  signal,
});

describe("undiciTransport", () => {
  it("sends method, path, headers and body; returns status, lower-case headers and the body", async () => {
    const server = await echoServer();
    const transport = track(undiciTransport());
    const res = await transport.request(post(`${server.url}/v3/kv/range?x=1`, '{"key":"YQ=="}'));
    expect(res.status).toBe(200);
    expect(res.headers["x-echo"]).toBe("yes");
    expect(JSON.parse(res.body)).toMatchObject({
      method: "POST",
      url: "/v3/kv/range?x=1",
      headers: { "content-type": "application/json", authorization: "t0k" },
      body: '{"key":"YQ=="}',
    });
  });

  it("reuses keep-alive connections for sequential requests", async () => {
    const server = await echoServer();
    const transport = track(undiciTransport());
    for (let i = 0; i < 20; i++) await transport.request(post(`${server.url}/v3/lease/keepalive`, "{}"));
    // undici may open a second connection when the next request is sent before the first connection has
    // reported itself free again; it never opens one per request.
    expect(server.connections()).toBeLessThanOrEqual(2);
  });

  it("opens at most `connections` connections per endpoint; further requests queue", async () => {
    const server = await echoServer();
    const transport = track(undiciTransport({ connections: 2 }));
    await Promise.all(
      Array.from({ length: 8 }, () => transport.request(post(`${server.url}/v3/kv/range`, "{}"))),
    );
    expect(server.connections()).toBe(2);
  });

  it("pipelines a sequence on one connection: the server sees both requests before answering", async () => {
    // A raw server that answers only once both requests have arrived: a client that waits for the first
    // answer before sending the second would hang here.
    const seen: { connection: number; requests: number }[] = [];
    let connections = 0;
    const sockets = new Set<Socket>();
    const server = createTcpServer((socket) => {
      const id = ++connections;
      sockets.add(socket);
      let text = "";
      let answered = false;
      socket.on("data", (data: Buffer) => {
        text += data.toString("latin1");
        const requests = text.split("POST /").length - 1;
        const bodies = text.split("\r\n\r\n{}").length - 1;
        seen.push({ connection: id, requests });
        if (!answered && requests === 2 && bodies === 2) {
          answered = true;
          const response = (n: number) => `HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n{"n":${n}}`;
          socket.write(response(1) + response(2));
        }
      });
    });
    const url = await listen(server);
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
    });
    const transport = track(undiciTransport());
    const pipeline = transport.pipeline;
    if (!pipeline) throw new Error("undiciTransport must pipeline");
    const results = await Promise.all(
      pipeline([post(`${url}/v3/lease/grant`, "{}"), post(`${url}/v3/kv/txn`, "{}")]),
    );
    expect(results.map((r) => r.body)).toEqual(['{"n":1}', '{"n":2}']);
    expect(connections).toBe(1);
    expect(seen.at(-1)).toEqual({ connection: 1, requests: 2 });
  });

  it("keeps the pipelining connection alive for the next sequence", async () => {
    const server = await echoServer();
    const transport = track(undiciTransport());
    const pipeline = transport.pipeline?.bind(transport);
    if (!pipeline) throw new Error("undiciTransport must pipeline");
    for (let i = 0; i < 3; i++) {
      await Promise.all(pipeline([post(`${server.url}/a`, "{}"), post(`${server.url}/b`, "{}")]));
    }
    expect(server.connections()).toBe(1);
  });

  it("throws LeaseTimeoutError when the deadline passes without an answer", async () => {
    const server = createTcpServer((socket) => socket.resume());
    const url = await listen(server);
    const transport = track(undiciTransport());
    const started = performance.now();
    await expect(
      transport.request(post(`${url}/v3/kv/range`, "{}", deadlineSignal(150))),
    ).rejects.toBeInstanceOf(LeaseTimeoutError);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("throws a retryable TransportError whose cause says ECONNREFUSED when nothing listens", async () => {
    const port = await freePort();
    const transport = track(undiciTransport());
    const error = await transport
      .request(post(`http://127.0.0.1:${port}/v3/kv/range`, "{}"))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ retryable: true, cause: { code: "ECONNREFUSED" } });
  });

  it("validates its options, naming the field", () => {
    for (const [options, field] of [
      [{ connections: 0 }, "connections"],
      [{ connections: 2.5 }, "connections"],
      [{ keepAliveTimeoutMs: -1 }, "keepAliveTimeoutMs"],
      [{ tls: "pem" }, "tls"],
      [{ tls: { ca: 42 } }, "tls.ca"],
      [{ tls: { cert: "-----BEGIN CERTIFICATE-----" } }, "tls.key"],
      [{ tls: { key: "-----BEGIN PRIVATE KEY-----" } }, "tls.cert"],
    ] as const) {
      expect(() => undiciTransport(options as never)).toThrow(
        expect.objectContaining({ code: "INVALID_ARGUMENT", field }),
      );
    }
  });
});

describe("undiciTransport: redirects and answer size", () => {
  it("never follows a redirect: a 307 is the answer, and its target sees nothing", async () => {
    let trapped = 0;
    const trap = createHttpServer((_req, res) => {
      trapped++;
      res.end("{}");
    });
    const trapUrl = await listen(trap);
    const server = createHttpServer((req, res) => {
      res.writeHead(307, { location: `${trapUrl}${req.url}` }).end("moved");
    });
    const url = await listen(server);
    const transport = track(undiciTransport());
    for (const send of [
      () => transport.request(post(`${url}/v3/auth/authenticate`, '{"password":"x"}')),
      () => transport.pipeline?.([post(`${url}/v3/lease/grant`, "{}")])[0],
    ]) {
      const res = await send();
      expect(res).toMatchObject({ status: 307, body: "moved" });
    }
    expect(trapped).toBe(0);
  });

  it("stops reading past the cap (64 KiB by default, or the request's) and drops the connection", async () => {
    let closed = 0;
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(16_384, 97);
      const write = () => {
        while (res.write(chunk)) {
          if (res.destroyed) return;
        }
      };
      res.on("drain", write);
      res.on("close", () => {
        closed++;
      });
      write();
    });
    const url = await listen(server);
    cleanups.push(async () => server.closeAllConnections());
    const transport = track(undiciTransport());
    await expect(transport.request(post(`${url}/v3/kv/range`, "{}"))).rejects.toBeInstanceOf(
      MalformedResponseError,
    );
    const capped = { ...post(`${url}/v3/kv/range`, "{}"), maxResponseBytes: 1000 };
    await expect(transport.request(capped)).rejects.toThrow(/exceeds 1000 bytes/);
    await expect.poll(() => closed).toBe(2);
  });
});
