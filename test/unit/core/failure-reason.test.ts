/**
 * The reason in a TransportError's message, to the letter, for the causes a user meets: found wherever the
 * platform put it (Node's fetch: `cause`, sometimes `cause.cause`; undici: the error itself; an AggregateError
 * of several addresses; Bun's codes, Deno's messages). And the summary of an answer that is not the store's,
 * shared by the etcd and ZooKeeper backends.
 */
import { describe, expect, it } from "vitest";
import { zookeeper } from "../../../adapters/zookeeper/index.ts";
import {
  createLease,
  fetchTransport,
  type HttpRequest,
  HttpStatusError,
  TransportError,
  toTransportError,
} from "../../../src/backend-kit.ts";

const HTTP = "http://127.0.0.1:23798";
const HTTPS = "https://etcd-1.internal:2379";
const coded = (code: string, message: string) => Object.assign(new Error(message), { code });
/** Node's fetch: the socket's error is the cause of `fetch failed`. */
const viaFetch = (cause: unknown) => new TypeError("fetch failed", { cause });

async function reason(thrown: unknown, origin = HTTP): Promise<string> {
  const transport = fetchTransport({
    fetch: async () => {
      throw thrown;
    },
  });
  const error = await transport
    .request({ method: "POST", url: `${origin}/v3/lease/grant`, signal: AbortSignal.timeout(1000) })
    .then(
      () => expect.unreachable(),
      (e: unknown) => e,
    );
  expect(error).toBeInstanceOf(TransportError);
  expect((error as Error).cause).toBe(thrown);
  const { message } = error as Error;
  const prefix = `POST ${origin}/v3/lease/grant failed: `;
  expect(message.startsWith(prefix)).toBe(true);
  return message.slice(prefix.length);
}

describe("toTransportError: the root cause in the message", () => {
  it("a refused connection: is the server listening?", async () => {
    const expected = `connection refused (ECONNREFUSED): is the server listening at ${HTTP}?`;
    expect(await reason(viaFetch(coded("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:23798")))).toBe(
      expected,
    );
    // Two levels down, as some fetch versions wrap it.
    const deep = viaFetch(
      new Error("connect failed", { cause: coded("ECONNREFUSED", "connect ECONNREFUSED") }),
    );
    expect(await reason(deep)).toBe(expected);
    // Every address of a name refused (IPv6 and IPv4 of localhost).
    const all = Object.assign(
      new AggregateError([coded("ECONNREFUSED", "connect ECONNREFUSED ::1:23798")], ""),
      {
        code: "ECONNREFUSED",
      },
    );
    expect(await reason(viaFetch(all))).toBe(expected);
    // Bun's code; Deno's message.
    expect(await reason(coded("ConnectionRefused", "Unable to connect"))).toBe(
      `connection refused (ConnectionRefused): is the server listening at ${HTTP}?`,
    );
    expect(
      await reason(
        new TypeError("client error (Connect): tcp connect error: Connection refused (os error 111)"),
      ),
    ).toBe(`connection refused: is the server listening at ${HTTP}?`);
  });

  it("an unknown host", async () => {
    expect(
      await reason(
        viaFetch(coded("ENOTFOUND", "getaddrinfo ENOTFOUND nothing.invalid")),
        "http://nothing.invalid:2379",
      ),
    ).toBe("unknown host nothing.invalid (ENOTFOUND)");
  });

  it("certificate errors: untrusted, self-signed, another name, expired", async () => {
    const tls = (code: string) => reason(viaFetch(coded(code, "certificate problem")), HTTPS);
    const untrusted =
      "the server's certificate is not trusted (%s): pass its CA as tls: { ca } to the Node transport of leasehold/node";
    for (const code of [
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      "DEPTH_ZERO_SELF_SIGNED_CERT",
      "SELF_SIGNED_CERT_IN_CHAIN",
    ]) {
      expect(await tls(code)).toBe(untrusted.replace("%s", code));
    }
    // Deno's words.
    expect(await reason(new TypeError("invalid peer certificate: UnknownIssuer"), HTTPS)).toBe(
      untrusted.replace(" (%s)", ""),
    );
    expect(await tls("ERR_TLS_CERT_ALTNAME_INVALID")).toBe(
      "the server's certificate does not name etcd-1.internal (ERR_TLS_CERT_ALTNAME_INVALID)",
    );
    expect(await tls("CERT_HAS_EXPIRED")).toBe(
      "the server's certificate has expired or is not yet valid (CERT_HAS_EXPIRED)",
    );
    expect(await tls("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED")).toBe(
      "the server closed the connection (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED): is it an http:// endpoint, or does it require a client certificate (tls: { cert, key } to the Node transport of leasehold/node)?",
    );
  });

  it("https to a plain-http server: a protocol mismatch", async () => {
    const openssl =
      "C06C4586567F0000:error:0A00010B:SSL routines:tls_validate_record_header:wrong version number:../deps/openssl/openssl/ssl/record/methods/tlsany_meth.c:77:\n";
    const expected = (code: string) => `${HTTPS} does not speak TLS${code}: is it an http:// endpoint?`;
    expect(await reason(viaFetch(coded("ERR_SSL_WRONG_VERSION_NUMBER", openssl)), HTTPS)).toBe(
      expected(" (ERR_SSL_WRONG_VERSION_NUMBER)"),
    );
    expect(await reason(viaFetch(coded("EPROTO", openssl)), HTTPS)).toBe(expected(" (EPROTO)"));
    expect(
      await reason(viaFetch(coded("ERR_SSL_PACKET_LENGTH_TOO_LONG", "packet length too long")), HTTPS),
    ).toBe(expected(" (ERR_SSL_PACKET_LENGTH_TOO_LONG)"));
    expect(await reason(new TypeError("received corrupt message of type InvalidContentType"), HTTPS)).toBe(
      expected(""),
    );
  });

  it("a closed connection: perhaps the other scheme, or a missing client certificate", async () => {
    const reset = viaFetch(coded("ECONNRESET", "read ECONNRESET"));
    expect(await reason(reset)).toBe(
      "the server closed the connection (ECONNRESET): is it an https:// endpoint?",
    );
    expect(await reason(reset, HTTPS)).toBe(
      "the server closed the connection (ECONNRESET): is it an http:// endpoint, or does it require a client certificate (tls: { cert, key } to the Node transport of leasehold/node)?",
    );
  });

  it("anything else in the platform's deepest words, with its code", async () => {
    expect(await reason(viaFetch(new Error("bad port")))).toBe("bad port");
    expect(await reason(viaFetch(coded("EMFILE", "too many open files")))).toBe(
      "too many open files (EMFILE)",
    );
    expect(await reason("a string")).toBe("a string");
  });

  it("an undici error, thrown bare, reads the same", () => {
    const req: Pick<HttpRequest, "method" | "url" | "signal"> = {
      method: "POST",
      url: `${HTTP}/v3/kv/txn?x=1`,
      signal: AbortSignal.timeout(1000),
    };
    expect(toTransportError(coded("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:23798"), req).message).toBe(
      `POST ${HTTP}/v3/kv/txn failed: connection refused (ECONNREFUSED): is the server listening at ${HTTP}?`,
    );
  });
});

describe("a server that is not a ZooKeeper REST gateway", () => {
  it("is summarised, never pasted", async () => {
    const page = "<html><body><h1>502 Bad Gateway</h1><hr><center>nginx</center></body></html>";
    const transport = {
      request: async () => ({ status: 502, headers: { "content-type": "text/html" }, body: page }),
    };
    const backend = zookeeper({ url: "http://127.0.0.1:9998", transport });
    const lease = createLease({ backend, name: "jobs/x", holder: "a", ttlMs: 10_000 });
    const error = await lease.claim().catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect((error as Error).message).toBe(
      `HTTP 502: ZooKeeper gateway get /leasehold/jobs^x: answered HTTP 502 with text/html (${page.length} bytes), not a ZooKeeper REST gateway's JSON: is the endpoint the gateway's base URL?`,
    );
  });
});
