/**
 * Authentication on a real etcd (3.4 and 3.5) with auth enabled by the test: a user whose role may only touch
 * the test's prefix, tokens that expire during the run (`--auth-token-ttl=2`), refused credentials and
 * missing permissions. Every thrown error is serialised and searched for the password and every token issued.
 */
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { etcd, etcdFromEnv } from "../../adapters/etcd/index.ts";
import { undiciTransport } from "../../adapters/node/index.ts";
import { type EtcdServer, etcd35Binary, startEtcd } from "../../scripts/lib/etcd-server.ts";
import {
  AuthError,
  createLease,
  fetchTransport,
  type HttpRequest,
  type Transport,
  TransportError,
} from "../../src/index.ts";

const ROOT_PASSWORD = "root-Pw-7c1d";
const PASSWORD = "svc-Pw-Zx93-secret";
const TOKEN_TTL_S = 2;
const b64 = (text: string) => Buffer.from(text).toString("base64");

/** Counts authenticate calls and remembers every token etcd issued, to search errors for them. */
function observing(base: Transport) {
  const tokens: string[] = [];
  let authentications = 0;
  const transport: Transport = {
    async request(req: HttpRequest) {
      const res = await base.request(req);
      if (req.url.endsWith("/v3/auth/authenticate")) {
        authentications++;
        const token = (JSON.parse(res.body) as { token?: string }).token;
        if (token) tokens.push(token);
      }
      return res;
    },
    pipeline: (reqs) => base.pipeline?.(reqs) ?? reqs.map((r) => base.request(r)),
    close: () => base.close?.() ?? Promise.resolve(),
  };
  return { transport, tokens, authentications: () => authentications };
}

async function admin(endpoint: string, path: string, body: unknown, token?: string): Promise<unknown> {
  const res = await fetch(`${endpoint}${path}`, {
    method: "POST",
    body: JSON.stringify(body),
    headers: token ? { authorization: token } : {},
  });
  const json = (await res.json()) as unknown;
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Root user, and user `svc` whose role may read and write `[auth-test/, auth-test0)` only. */
async function enableAuth(endpoint: string): Promise<void> {
  await admin(endpoint, "/v3/auth/role/add", { name: "root" });
  await admin(endpoint, "/v3/auth/user/add", { name: "root", password: ROOT_PASSWORD });
  await admin(endpoint, "/v3/auth/user/grant", { user: "root", role: "root" });
  await admin(endpoint, "/v3/auth/role/add", { name: "leases" });
  await admin(endpoint, "/v3/auth/role/grant", {
    name: "leases",
    perm: { permType: "READWRITE", key: b64("auth-test/"), range_end: b64("auth-test0") },
  });
  await admin(endpoint, "/v3/auth/user/add", { name: "svc", password: PASSWORD });
  await admin(endpoint, "/v3/auth/user/grant", { user: "svc", role: "leases" });
  await admin(endpoint, "/v3/auth/enable", {});
}

function leaks(error: unknown, secrets: readonly string[]): string[] {
  const own = (e: unknown): unknown =>
    e instanceof Error ? { ...e, message: e.message, stack: e.stack, cause: own(e.cause) } : e;
  const text = [
    String(error),
    JSON.stringify(own(error)),
    inspect(error, { depth: 20, showHidden: true }),
  ].join();
  return secrets.filter((s) => text.includes(s));
}

const versions = [
  { version: "3.4", binary: undefined },
  { version: "3.5", binary: etcd35Binary() },
];

describe.each(versions)("etcd $version with auth", ({ binary }) => {
  let server: EtcdServer;
  const transports: Transport[] = [];
  const thrown: unknown[] = [];
  const issued: string[] = [];

  beforeAll(async () => {
    server = await startEtcd({ args: [`--auth-token-ttl=${TOKEN_TTL_S}`], ...(binary ? { binary } : {}) });
    await enableAuth(server.endpoint);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close?.()));
    await server?.stop();
  });

  const setup = (password = PASSWORD, prefix = "auth-test/leases/") => {
    const observed = observing(undiciTransport());
    transports.push(observed.transport);
    const backend = etcd({
      endpoints: [server.endpoint],
      prefix,
      auth: { username: "svc", password },
      transport: observed.transport,
    });
    return { ...observed, backend, issued: () => issued.push(...observed.tokens) };
  };
  const capture = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    thrown.push(error);
    return error;
  };

  it("claims, renews, guards a txn and releases as a user limited to its prefix", async () => {
    const s = setup();
    const a = createLease({ backend: s.backend, name: "jobs/report", holder: "a", ttlMs: 5000 });
    const b = createLease({ backend: s.backend, name: "jobs/report", holder: "b", ttlMs: 5000 });
    const held = await a.claim();
    expect(held.isLeader).toBe(true);
    expect(await b.claim()).toMatchObject({ isLeader: false, holder: "a", token: held.token });
    expect((await a.renew()).isLeader).toBe(true);
    const put = await a.doIfLeader([{ type: "put", key: "auth-test/data/report", value: "ok" }]);
    expect(put.applied).toBe(true);
    await a.release();
    expect(await a.leader()).toBeNull();
    expect(s.authentications()).toBe(1);
    s.issued();
  });

  it("re-authenticates once when the token expires during the run", async () => {
    const s = setup();
    const a = createLease({ backend: s.backend, name: "jobs/expiry", holder: "a", ttlMs: 8000 });
    const held = await a.claim();
    expect(s.authentications()).toBe(1);
    // etcd drops a simple token after --auth-token-ttl seconds without use (checked once a second).
    await new Promise((resolve) => setTimeout(resolve, TOKEN_TTL_S * 1000 + 1500));
    const put = await a.doIfLeader([{ type: "put", key: "auth-test/data/expiry", value: "after" }]);
    expect(put.applied).toBe(true);
    expect(await a.leader()).toMatchObject({ holder: "a", token: held.token });
    expect(s.authentications()).toBe(2);
    expect(new Set(s.tokens).size).toBe(2);
    await a.release();
    s.issued();
  }, 15_000);

  it("rejects a wrong password with AuthError, once, without quoting it", async () => {
    const wrong = "wrong-Pw-4471";
    const s = setup(wrong);
    const a = createLease({ backend: s.backend, name: "jobs/report", holder: "a", ttlMs: 5000 });
    const error = await capture(a.claim());
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toMatchObject({ retryable: false });
    expect(a.state().isLeader).toBe(false);
    expect(s.authentications()).toBe(1);
    expect(leaks(error, [wrong, PASSWORD])).toEqual([]);
  });

  it("without credentials, says how to give them: the auth option or the environment variables", async () => {
    for (const backend of [
      etcd({ endpoints: [server.endpoint], prefix: "auth-test/leases/", transport: undiciTransport() }),
      etcdFromEnv({ LEASEHOLD_ETCD_ENDPOINTS: server.endpoint, LEASEHOLD_ETCD_PREFIX: "auth-test/leases/" }),
    ]) {
      const a = createLease({ backend, name: "jobs/report", holder: "a", ttlMs: 5000 });
      const error = await capture(a.claim());
      expect(error).toBeInstanceOf(AuthError);
      expect(error).toMatchObject({ retryable: false });
      expect((error as Error).message).toBe(
        "etcd range: etcdserver: user name is empty: etcd requires authentication; pass auth: { username, password } to etcd(), or set LEASEHOLD_ETCD_USERNAME and LEASEHOLD_ETCD_PASSWORD",
      );
      expect(a.state().isLeader).toBe(false);
      await backend.close?.();
    }
  });

  it("reports a missing permission as AuthError and never as leadership", async () => {
    const s = setup(PASSWORD, "elsewhere/");
    const a = createLease({ backend: s.backend, name: "jobs/report", holder: "a", ttlMs: 5000 });
    const error = await capture(a.claim());
    expect(error).toBeInstanceOf(AuthError);
    expect(String(error)).toContain("permission denied");
    expect(a.state().isLeader).toBe(false);
    expect(s.authentications()).toBe(1);
    s.issued();
  });

  it("keeps credentials and tokens out of transport errors", async () => {
    const s = setup();
    const a = createLease({ backend: s.backend, name: "jobs/down", holder: "a", ttlMs: 5000 });
    await a.claim();
    s.issued();
    const down = etcd({
      endpoints: ["http://127.0.0.1:9"],
      auth: { username: "svc", password: PASSWORD },
      transport: fetchTransport(),
    });
    const error = await capture(
      createLease({ backend: down, name: "jobs/x", holder: "a", ttlMs: 5000 }).claim(),
    );
    expect(error).toBeInstanceOf(TransportError);
    await a.release();
  });

  it("reads credentials from the environment", async () => {
    const observed = observing(undiciTransport());
    transports.push(observed.transport);
    const backend = etcdFromEnv(
      {
        LEASEHOLD_ETCD_ENDPOINTS: server.endpoint,
        LEASEHOLD_ETCD_PREFIX: "auth-test/env/",
        ETCDCTL_USER: `svc:${PASSWORD}`,
      },
      { transport: observed.transport },
    );
    const a = createLease({ backend, name: "jobs/env", holder: "a", ttlMs: 5000 });
    expect((await a.claim()).isLeader).toBe(true);
    await a.release();
    expect(observed.authentications()).toBe(1);
    issued.push(...observed.tokens);
  });

  it("no thrown error contains the password or any token issued", () => {
    expect(issued.length).toBeGreaterThanOrEqual(4);
    expect(thrown.length).toBeGreaterThanOrEqual(3);
    for (const error of thrown) expect(leaks(error, [PASSWORD, ROOT_PASSWORD, ...issued])).toEqual([]);
  });
});
