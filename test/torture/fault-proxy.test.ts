/**
 * The torture test's TCP fault proxy in front of a loopback echo server: bytes pass both ways; latency holds
 * them back (at least the set delay, order kept); a black hole swallows them and resets the connections that
 * lost bytes once it ends; reset sends RST on every open connection.
 */
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type FaultProxy, startFaultProxy } from "../../scripts/lib/fault-proxy.ts";

let echo: Server;
let proxy: FaultProxy;

beforeAll(async () => {
  echo = createServer((socket) => {
    // The proxy resets its upstream side too.
    socket.on("error", () => {});
    socket.pipe(socket);
  });
  echo.listen(0, "127.0.0.1");
  await once(echo, "listening");
  const address = echo.address();
  if (!address || typeof address !== "object") throw new Error("no address");
  proxy = await startFaultProxy({ host: "127.0.0.1", port: address.port });
});

afterAll(async () => {
  await proxy.close();
  echo.close();
});

async function open(): Promise<{ socket: Socket; received: () => string; closed: Promise<string> }> {
  const url = new URL(proxy.endpoint);
  const socket = connect(Number(url.port), url.hostname);
  await once(socket, "connect");
  let text = "";
  socket.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  const closed = new Promise<string>((resolve) => {
    socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
    socket.on("close", () => resolve("closed"));
  });
  return { socket, received: () => text, closed };
}

const until = async (done: () => boolean) => {
  while (!done()) await new Promise((r) => setTimeout(r, 5));
};

test("forwards both ways, and delays by the latency set, in order", async () => {
  const c = await open();
  c.socket.write("ab");
  await until(() => c.received() === "ab");
  proxy.latency(150);
  const sent = performance.now();
  c.socket.write("c");
  c.socket.write("d");
  await until(() => c.received() === "abcd");
  proxy.latency(0);
  // Each way is held back 150 ms.
  expect(performance.now() - sent).toBeGreaterThanOrEqual(290);
  c.socket.destroy();
});

test("a black hole swallows bytes and then resets the connections that lost some", async () => {
  const lost = await open();
  const idle = await open();
  proxy.blackhole(true);
  lost.socket.write("gone");
  await new Promise((r) => setTimeout(r, 100));
  expect(lost.received()).toBe("");
  proxy.blackhole(false);
  expect(await lost.closed).toBe("ECONNRESET");
  idle.socket.write("still here");
  await until(() => idle.received() === "still here");
  idle.socket.destroy();
});

test("reset sends RST on every open connection", async () => {
  const a = await open();
  const b = await open();
  await until(() => proxy.connections() >= 2);
  expect(proxy.reset()).toBeGreaterThanOrEqual(2);
  expect(await a.closed).toBe("ECONNRESET");
  expect(await b.closed).toBe("ECONNRESET");
});
