/** TLS files named by environment variables, read on Node by `leasehold/node`. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { etcdTlsFromEnv, undiciTransportFromEnv } from "../../../adapters/node/index.ts";

let dir = "";
const file = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "leasehold-node-env-"));
  await writeFile(file("ca.pem"), "CA PEM");
  await writeFile(file("client.pem"), "CERT PEM");
  await writeFile(file("client.key"), "KEY PEM");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const text = (value: unknown) => (Buffer.isBuffer(value) ? value.toString() : value);

describe("etcdTlsFromEnv", () => {
  it("is undefined when no TLS variable is set", () => {
    expect(etcdTlsFromEnv({ LEASEHOLD_ETCD_ENDPOINTS: "https://etcd:2379" })).toBeUndefined();
  });

  it("reads the CA, certificate and key files", () => {
    const tls = etcdTlsFromEnv({
      LEASEHOLD_ETCD_CACERT: file("ca.pem"),
      LEASEHOLD_ETCD_CERT: file("client.pem"),
      LEASEHOLD_ETCD_KEY: file("client.key"),
    });
    expect({ ca: text(tls?.ca), cert: text(tls?.cert), key: text(tls?.key) }).toEqual({
      ca: "CA PEM",
      cert: "CERT PEM",
      key: "KEY PEM",
    });
  });

  it("falls back to etcdctl's ETCDCTL_CACERT, ETCDCTL_CERT and ETCDCTL_KEY", () => {
    const tls = etcdTlsFromEnv({
      ETCDCTL_CACERT: file("ca.pem"),
      ETCDCTL_CERT: file("client.pem"),
      ETCDCTL_KEY: file("client.key"),
    });
    expect(text(tls?.ca)).toBe("CA PEM");
    expect(text(tls?.key)).toBe("KEY PEM");
  });

  it("names the variable of a file that cannot be read", () => {
    expect(() => etcdTlsFromEnv({ LEASEHOLD_ETCD_CACERT: file("missing.pem") })).toThrow(
      expect.objectContaining({ code: "INVALID_ARGUMENT", field: "LEASEHOLD_ETCD_CACERT" }),
    );
    expect(() =>
      etcdTlsFromEnv({ ETCDCTL_CERT: file("client.pem"), ETCDCTL_KEY: file("missing.key") }),
    ).toThrow(expect.objectContaining({ field: "ETCDCTL_KEY" }));
  });

  it("requires the certificate and the key together", () => {
    expect(() => etcdTlsFromEnv({ LEASEHOLD_ETCD_CERT: file("client.pem") })).toThrow(
      expect.objectContaining({ field: "LEASEHOLD_ETCD_KEY" }),
    );
    expect(() => etcdTlsFromEnv({ LEASEHOLD_ETCD_KEY: file("client.key") })).toThrow(
      expect.objectContaining({ field: "LEASEHOLD_ETCD_CERT" }),
    );
  });

  it("builds a transport from the environment", async () => {
    const transport = undiciTransportFromEnv({ LEASEHOLD_ETCD_CACERT: file("ca.pem") });
    expect(typeof transport.pipeline).toBe("function");
    await transport.close?.();
  });
});
