/**
 * etcd options from environment variables, from `process.env`-like objects and from Workers-style `env`
 * bindings (where some values are not strings).
 */
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { etcd, etcdFromEnv, etcdOptionsFromEnv } from "../../../adapters/etcd/index.ts";
import { createLease, InvalidArgumentError } from "../../../src/index.ts";

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

describe("one endpoint rule for etcd() and etcdFromEnv()", () => {
  it("reads a bare host:port as http://host:port in both", () => {
    expect(etcdOptionsFromEnv({ LEASEHOLD_ETCD_ENDPOINTS: "etcd-1:2379" }).endpoints).toEqual([
      "http://etcd-1:2379",
    ]);
    // etcd() normalises the same way: the requests go to http://etcd-1:2379.
    const urls: string[] = [];
    const transport = {
      request: async (req: { url: string }) => {
        urls.push(req.url);
        throw new Error("stop");
      },
    };
    const lease = createLease({
      backend: etcd({ endpoints: ["etcd-1:2379", "127.0.0.1:2379"], transport, maxAttempts: 2 }),
      name: "jobs/x",
      holder: "a",
      ttlMs: 3000,
    });
    return lease.leader().then(
      () => expect.unreachable(),
      () => expect(urls).toEqual(["http://etcd-1:2379/v3/kv/txn"]),
    );
  });

  it("echoes the value it refused, and how to fix it", () => {
    const rule = 'is not an etcd client URL: an http(s) origin like "http://127.0.0.1:2379"';
    const cases: [string, string][] = [
      ["ftp://b:2", `endpoints[0]: "ftp://b:2" ${rule}`],
      ["http://x:2379/v3", `endpoints[0]: "http://x:2379/v3" ${rule}`],
      ["http://x:2379?a=1", `endpoints[0]: "http://x:2379?a=1" ${rule}`],
      ["http://no pe:1", `endpoints[0]: "http://no pe:1" ${rule}`],
    ];
    for (const [value, message] of cases) {
      expect(() => etcd({ endpoints: [value] })).toThrow(message);
      expect(() => etcdFromEnv({ LEASEHOLD_ETCD_ENDPOINTS: value })).toThrow(
        message.replace("endpoints[0]", "LEASEHOLD_ETCD_ENDPOINTS[0]"),
      );
    }
    expect(() => etcd({ endpoints: [42 as never] })).toThrow(`endpoints[0]: "42" ${rule}`);
    expect(etcdOptionsFromEnv({ LEASEHOLD_ETCD_ENDPOINTS: "HTTP://Etcd-1:2379/" }).endpoints).toEqual([
      "http://etcd-1:2379",
    ]);
  });

  it("masks credentials in the value it echoes, whatever the password holds", () => {
    for (const [value, shown] of [
      [`http://svc:${SECRET}@etcd:2379`, '"http://***@etcd:2379"'],
      [`https://svc:p/a@ss${SECRET}@etcd:2379`, '"https://***@etcd:2379"'],
      [`svc:${SECRET}@etcd:2379`, '"***@etcd:2379"'],
    ] as const) {
      for (const fn of [
        () => etcd({ endpoints: [value] }),
        () => etcdFromEnv({ LEASEHOLD_ETCD_ENDPOINTS: `http://a:1,${value}` }),
      ]) {
        const error = thrown(fn);
        expect(error.rule).toBe(`${shown} has credentials in it: pass them as auth: { username, password }`);
        expect(dump(error)).not.toContain(SECRET);
        expect(dump(error)).not.toContain("p/a@ss");
      }
    }
  });
});
