/**
 * The messages of failed connections on real sockets, to the letter, through both transports (fetch and
 * undici) and the etcd backend: a closed port, an unknown host, https to the plain-http test etcd, several dead
 * endpoints, certificates that do not verify (self-signed, another host name), and a web server that is not
 * etcd.
 */
import { readFile } from "node:fs/promises";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { etcd } from "../../adapters/etcd/index.ts";
import { undiciTransport } from "../../adapters/node/index.ts";
import { freePort } from "../../scripts/lib/free-port.ts";
import { makeTestPki, type TestPki } from "../../scripts/lib/tls.ts";
import {
  createLease,
  fetchTransport,
  HttpStatusError,
  type Transport,
  TransportError,
} from "../../src/index.ts";

const transports: [string, () => Transport][] = [
  ["fetch", () => fetchTransport()],
  ["undici", () => undiciTransport()],
];

const opened: Transport[] = [];
const servers: Server[] = [];

async function claimError(endpoints: string[], transport: Transport): Promise<Error> {
  opened.push(transport);
  const backend = etcd({ endpoints, transport, prefix: "errors-test/" });
  const lease = createLease({ backend, name: "jobs/x", holder: "a", ttlMs: 6000 });
  const error = await lease.claim().then(
    () => expect.unreachable("the claim should fail"),
    (e: unknown) => e as Error,
  );
  expect(lease.state().isLeader).toBe(false);
  return error;
}

async function listen(server: Server, host = "127.0.0.1"): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as { port: number }).port;
}

let pki: TestPki;
let selfSignedPort: number;
let serverCertPort: number;
let htmlPort: number;

beforeAll(async () => {
  pki = await makeTestPki();
  const answer = (_: unknown, res: import("node:http").ServerResponse) => res.end("{}");
  selfSignedPort = await listen(
    createHttpsServer(
      {
        cert: await readFile(pki.selfSignedCertFile, "utf8"),
        key: await readFile(pki.selfSignedKeyFile, "utf8"),
      },
      answer,
    ) as unknown as Server,
  );
  // The server certificate names 127.0.0.1 and localhost; 127.0.0.2 reaches the same listener.
  serverCertPort = await listen(
    createHttpsServer(
      {
        cert: await readFile(pki.serverCertFile, "utf8"),
        key: await readFile(pki.serverKeyFile, "utf8"),
      },
      answer,
    ) as unknown as Server,
    "0.0.0.0",
  );
  htmlPort = await listen(
    createHttpServer((_, res) => {
      res.writeHead(404, { "content-type": "text/html" });
      res.end("<html><head><title>404 Not Found</title></head><body><center>nginx</center></body></html>");
    }),
  );
});

afterAll(async () => {
  await Promise.all(opened.map((t) => t.close?.()));
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await pki?.remove();
});

describe.each(transports)("%s transport", (_, transport) => {
  it("a closed port: connection refused, is the server listening?", async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const error = await claimError([endpoint], transport());
    expect(error).toBeInstanceOf(TransportError);
    expect(error.message).toBe(
      `POST ${endpoint}/v3/kv/txn failed: connection refused (ECONNREFUSED): is the server listening at ${endpoint}?`,
    );
  });

  it("an unknown host", async () => {
    const error = await claimError(["http://nothing.invalid:2379"], transport());
    expect(error).toBeInstanceOf(TransportError);
    expect(error.message).toMatch(
      /^POST http:\/\/nothing\.invalid:2379\/v3\/kv\/txn failed: unknown host nothing\.invalid \((ENOTFOUND|EAI_AGAIN)\)$/,
    );
  });

  it("https to a plain-http server: a protocol mismatch", async () => {
    const endpoint = `https://127.0.0.1:${htmlPort}`;
    const error = await claimError([endpoint], transport());
    expect(error).toBeInstanceOf(TransportError);
    // OpenSSL reads the server's plain-text 400 as a record of a bad version or of a bad length.
    const code = error.message.match(/\((ERR_SSL_\w+)\)/)?.[1];
    expect(code).toMatch(/^ERR_SSL_(WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG)$/);
    expect(error.message).toBe(
      `POST ${endpoint}/v3/kv/txn failed: ${endpoint} does not speak TLS (${code}): is it an http:// endpoint?`,
    );
  });

  it("https to the plain-http etcd, which drops the handshake", async () => {
    const endpoint = inject("etcdEndpoint").replace(/^http:/, "https:");
    const error = await claimError([endpoint], transport());
    expect(error).toBeInstanceOf(TransportError);
    expect(error.message).toBe(
      `POST ${endpoint}/v3/kv/txn failed: the server closed the connection (ECONNRESET): is it an http:// endpoint, or does it require a client certificate (tls: { cert, key } to the Node transport of leasehold/node)?`,
    );
  });

  it("three dead endpoints: each with its cause", async () => {
    const dead = [await freePort(), await freePort(), await freePort()].map((p) => `http://127.0.0.1:${p}`);
    const error = await claimError(dead, transport());
    expect(error).toBeInstanceOf(TransportError);
    expect(error.message).toBe(
      `etcd: all 3 endpoints failed: ${dead
        .map((e) => `${e}: connection refused (ECONNREFUSED): is the server listening at ${e}?`)
        .join("; ")}`,
    );
    expect(error.cause).toBeInstanceOf(TransportError);
  });

  it("a self-signed certificate", async () => {
    const endpoint = `https://127.0.0.1:${selfSignedPort}`;
    const error = await claimError([endpoint], transport());
    expect(error.message).toBe(
      `POST ${endpoint}/v3/kv/txn failed: the server's certificate is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT): pass its CA as tls: { ca } to the Node transport of leasehold/node`,
    );
  });

  it("a web server that is not etcd: summarised, never pasted", async () => {
    const endpoint = `http://127.0.0.1:${htmlPort}`;
    const error = await claimError([endpoint], transport());
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({ retryable: false });
    expect(error.message).toBe(
      "HTTP 404: etcd range: answered HTTP 404 with text/html (89 bytes), not etcd's JSON gateway: is the endpoint etcd's client URL?",
    );
  });
});

describe("undici transport with the CA", () => {
  it("a certificate of another host name", async () => {
    const endpoint = `https://127.0.0.2:${serverCertPort}`;
    const error = await claimError([endpoint], undiciTransport({ tls: { ca: pki.ca } }));
    expect(error.message).toBe(
      `POST ${endpoint}/v3/kv/txn failed: the server's certificate does not name 127.0.0.2 (ERR_TLS_CERT_ALTNAME_INVALID)`,
    );
  });
});
