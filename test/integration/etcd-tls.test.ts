/**
 * TLS on a real etcd (3.4 and 3.5) serving https with `--client-cert-auth`, with a CA and certificates made by
 * the test with openssl: the Node transport with a custom CA and a client certificate, verification on by
 * default, and TLS files named by environment variables.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { etcd, etcdFromEnv } from "../../adapters/etcd/index.ts";
import { undiciTransport, undiciTransportFromEnv } from "../../adapters/node/index.ts";
import { type EtcdServer, etcd35Binary, startEtcd } from "../../scripts/lib/etcd-server.ts";
import { makeTestPki, type TestPki } from "../../scripts/lib/tls.ts";
import { createLease, fetchTransport, type Transport, TransportError } from "../../src/index.ts";

/** The messages along an error's cause chain. */
function chain(error: unknown): string {
  const messages: string[] = [];
  for (let e = error; e instanceof Error; e = e.cause) messages.push(e.message);
  return messages.join(" <- ");
}

const versions = [
  { version: "3.4", binary: undefined },
  { version: "3.5", binary: etcd35Binary() },
];

describe.each(versions)("etcd $version over TLS", ({ binary }) => {
  let pki: TestPki;
  let server: EtcdServer;
  const transports: Transport[] = [];

  beforeAll(async () => {
    pki = await makeTestPki();
    server = await startEtcd({
      ...(binary ? { binary } : {}),
      tls: {
        caFile: pki.caFile,
        certFile: pki.serverCertFile,
        keyFile: pki.serverKeyFile,
        clientCertAuth: true,
        clientCertFile: pki.clientCertFile,
        clientKeyFile: pki.clientKeyFile,
      },
    });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close?.()));
    await server?.stop();
    await pki?.remove();
  });

  const lease = (transport: Transport, name = "jobs/tls") => {
    transports.push(transport);
    const backend = etcd({ endpoints: [server.endpoint], prefix: "tls-test/", transport });
    return createLease({ backend, name, holder: "a", ttlMs: 4000 });
  };

  it("serves https", () => {
    expect(server.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it("claims, renews and releases with the CA and a client certificate", async () => {
    const a = lease(undiciTransport({ tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } }));
    const s = await a.claim();
    expect(s.isLeader).toBe(true);
    expect((await a.renew()).token).toBe(s.token);
    expect(await a.leader()).toMatchObject({ holder: "a", token: s.token });
    await a.release();
    expect(await a.leader()).toBeNull();
  });

  it("keeps a claim's pipelined grant before its txn over TLS (HTTP/1.1, not HTTP/2 streams)", async () => {
    const transport = undiciTransport({ tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } });
    const states = await Promise.all(
      Array.from({ length: 40 }, (_, i) => lease(transport, `jobs/pipelined-${i}`).claim()),
    );
    expect(states.every((s) => s.isLeader)).toBe(true);
  });

  it("verifies the server by default: without the CA the claim fails closed", async () => {
    for (const transport of [
      undiciTransport({ tls: { cert: pki.clientCert, key: pki.clientKey } }),
      undiciTransport({ tls: { ca: pki.otherCa, cert: pki.clientCert, key: pki.clientKey } }),
      fetchTransport(),
    ]) {
      const a = lease(transport, "jobs/unverified");
      const error = await a.claim().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransportError);
      expect(chain(error)).toMatch(/unable to verify|self.signed|certificate/i);
      expect(a.state().isLeader).toBe(false);
    }
  });

  it("says the certificate is not trusted, and how to pass the CA", async () => {
    for (const transport of [undiciTransport(), fetchTransport()]) {
      const error = await lease(transport, "jobs/unverified")
        .claim()
        .then(
          () => expect.unreachable(),
          (e: unknown) => e as Error,
        );
      expect(error.message).toBe(
        `POST ${server.endpoint}/v3/kv/txn failed: the server's certificate is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE): pass its CA as tls: { ca } to the Node transport of leasehold/node`,
      );
    }
  });

  it("asks whether the endpoint is https:// when http:// is used for the https etcd", async () => {
    const endpoint = server.endpoint.replace(/^https:/, "http:");
    for (const transport of [undiciTransport(), fetchTransport()]) {
      transports.push(transport);
      const backend = etcd({ endpoints: [endpoint], prefix: "tls-test/", transport });
      const error = await createLease({ backend, name: "jobs/plain", holder: "a", ttlMs: 4000 })
        .claim()
        .then(
          () => expect.unreachable(),
          (e: unknown) => e as Error,
        );
      // etcd's listener closes a plain-HTTP connection to its TLS port without an answer.
      expect(error).toBeInstanceOf(TransportError);
      expect(error.message).toBe(
        `POST ${endpoint}/v3/kv/txn failed: the server closed the connection (UND_ERR_SOCKET): is it an https:// endpoint?`,
      );
    }
  });

  it("is refused without a client certificate when etcd requires one", async () => {
    const a = lease(undiciTransport({ tls: { ca: pki.ca } }), "jobs/no-client-cert");
    const error = await a.claim().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    // With TLS 1.3 the server's alert can race the client's first write: the client then sees the close.
    expect(chain(error)).toMatch(/bad certificate|certificate required|alert|other side closed|ECONNRESET/i);
    expect(a.state().isLeader).toBe(false);
  });

  it("takes the endpoints and TLS files from environment variables", async () => {
    const env = {
      LEASEHOLD_ETCD_ENDPOINTS: server.endpoint,
      LEASEHOLD_ETCD_PREFIX: "tls-test/env/",
      LEASEHOLD_ETCD_CACERT: pki.caFile,
      ETCDCTL_CERT: pki.clientCertFile,
      ETCDCTL_KEY: pki.clientKeyFile,
    };
    const transport = undiciTransportFromEnv(env);
    transports.push(transport);
    const a = createLease({
      backend: etcdFromEnv(env, { transport }),
      name: "jobs/env",
      holder: "a",
      ttlMs: 4000,
    });
    expect((await a.claim()).isLeader).toBe(true);
    await a.release();
  });
});
