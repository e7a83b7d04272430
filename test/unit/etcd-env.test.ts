/**
 * etcd options from environment variables, from `process.env`-like objects and from Workers-style `env`
 * bindings (where some values are not strings).
 */
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { etcdFromEnv, etcdOptionsFromEnv } from "../../adapters/etcd/index.ts";
import { InvalidArgumentError } from "../../src/index.ts";

const SECRET = "s3cr3t:with:colons";

function thrown(fn: () => unknown): InvalidArgumentError {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidArgumentError) return error;
    throw error;
  }
  throw new Error("expected an InvalidArgumentError");
}

const dump = (error: unknown) => `${String(error)}\n${inspect(error, { depth: 10, showHidden: true })}`;

describe("etcdOptionsFromEnv", () => {
  it("reads comma-separated endpoints, adding http:// where the scheme is missing", () => {
    const options = etcdOptionsFromEnv({
      LEASEHOLD_ETCD_ENDPOINTS: " https://etcd-1:2379, 127.0.0.12:2379 ,http://[::1]:2379",
    });
    expect(options.endpoints).toEqual(["https://etcd-1:2379", "http://127.0.0.12:2379", "http://[::1]:2379"]);
    expect(options.auth).toBeUndefined();
  });

  it("falls back to ETCDCTL_ENDPOINTS, and LEASEHOLD_ETCD_ENDPOINTS wins over it", () => {
    expect(etcdOptionsFromEnv({ ETCDCTL_ENDPOINTS: "127.0.0.1:2379" }).endpoints).toEqual([
      "http://127.0.0.1:2379",
    ]);
    expect(
      etcdOptionsFromEnv({ ETCDCTL_ENDPOINTS: "127.0.0.1:2379", LEASEHOLD_ETCD_ENDPOINTS: "etcd:2379" })
        .endpoints,
    ).toEqual(["http://etcd:2379"]);
  });

  it("names the variable of an invalid endpoint", () => {
    expect(thrown(() => etcdOptionsFromEnv({ LEASEHOLD_ETCD_ENDPOINTS: "a:1,ftp://b:2" }))).toMatchObject({
      field: "LEASEHOLD_ETCD_ENDPOINTS[1]",
    });
    expect(thrown(() => etcdOptionsFromEnv({ ETCDCTL_ENDPOINTS: "http://a:1/v3" }))).toMatchObject({
      field: "ETCDCTL_ENDPOINTS[0]",
    });
    expect(thrown(() => etcdOptionsFromEnv({}))).toMatchObject({ field: "LEASEHOLD_ETCD_ENDPOINTS" });
  });

  it("reads credentials from LEASEHOLD_ETCD_USERNAME and LEASEHOLD_ETCD_PASSWORD", () => {
    const options = etcdOptionsFromEnv({
      LEASEHOLD_ETCD_ENDPOINTS: "etcd:2379",
      LEASEHOLD_ETCD_USERNAME: "svc",
      LEASEHOLD_ETCD_PASSWORD: SECRET,
    });
    expect(options.auth).toEqual({ username: "svc", password: SECRET });
  });

  it("falls back to etcdctl's ETCDCTL_USER (name:password, or name with ETCDCTL_PASSWORD)", () => {
    const base = { LEASEHOLD_ETCD_ENDPOINTS: "etcd:2379" };
    expect(etcdOptionsFromEnv({ ...base, ETCDCTL_USER: `svc:${SECRET}` }).auth).toEqual({
      username: "svc",
      password: SECRET,
    });
    expect(etcdOptionsFromEnv({ ...base, ETCDCTL_USER: "svc", ETCDCTL_PASSWORD: SECRET }).auth).toEqual({
      username: "svc",
      password: SECRET,
    });
    expect(
      etcdOptionsFromEnv({
        ...base,
        ETCDCTL_USER: "other:pw",
        LEASEHOLD_ETCD_USERNAME: "svc",
        LEASEHOLD_ETCD_PASSWORD: SECRET,
      }).auth,
    ).toEqual({ username: "svc", password: SECRET });
  });

  it("names the missing half of the credentials and never quotes the password", () => {
    const base = { LEASEHOLD_ETCD_ENDPOINTS: "etcd:2379" };
    const cases: [Record<string, string>, string][] = [
      [{ LEASEHOLD_ETCD_PASSWORD: SECRET }, "LEASEHOLD_ETCD_USERNAME"],
      [{ LEASEHOLD_ETCD_USERNAME: "svc" }, "LEASEHOLD_ETCD_PASSWORD"],
      [{ ETCDCTL_USER: "svc" }, "ETCDCTL_USER"],
      [{ ETCDCTL_USER: `:${SECRET}` }, "ETCDCTL_USER"],
    ];
    for (const [vars, field] of cases) {
      const error = thrown(() => etcdOptionsFromEnv({ ...base, ...vars }));
      expect(error.field).toBe(field);
      expect(dump(error)).not.toContain(SECRET);
    }
  });

  it("reads a Workers env object, ignoring bindings that are not strings", () => {
    const env = {
      LEASEHOLD_ETCD_ENDPOINTS: "https://etcd.example.com",
      LEASEHOLD_ETCD_PREFIX: "svc/",
      LEASEHOLD_ETCD_USERNAME: "worker",
      LEASEHOLD_ETCD_PASSWORD: SECRET,
      LEASES_KV: { get: () => null },
      ETCDCTL_USER: 42,
    };
    expect(etcdOptionsFromEnv(env)).toEqual({
      endpoints: ["https://etcd.example.com"],
      prefix: "svc/",
      auth: { username: "worker", password: SECRET },
    });
    expect(etcdFromEnv(env).kind).toBe("etcd");
  });

  it("lets options passed in code win over the environment", () => {
    const options = etcdOptionsFromEnv(
      { LEASEHOLD_ETCD_ENDPOINTS: "etcd:2379", LEASEHOLD_ETCD_USERNAME: "svc", LEASEHOLD_ETCD_PASSWORD: "x" },
      { endpoints: ["http://other:2379"], auth: { username: "code", password: SECRET } },
    );
    expect(options).toMatchObject({
      endpoints: ["http://other:2379"],
      auth: { username: "code", password: SECRET },
    });
  });
});
