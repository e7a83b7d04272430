/**
 * Operating leasehold-zk-gateway, on its own real ZooKeeper (so that ZooKeeper's connection count belongs to
 * this file alone): basic auth, the session bound, the expire range without leaked ZooKeeper sessions,
 * request logging, graceful shutdown, ZooKeeper going away, and the bin.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { zookeeper } from "../../adapters/zookeeper/index.ts";
import { createZkGateway, type ZkGatewayOptions } from "../../packages/zk-gateway/src/server.ts";
import { ZkSession } from "../../packages/zk-gateway/src/zk.ts";
import { GATEWAY_BIN } from "../../scripts/lib/gateway-process.ts";
import { fourLetterWord, startZooKeeper, type ZooKeeperServer } from "../../scripts/lib/zookeeper-server.ts";
import { AuthError, createLease, HttpStatusError } from "../../src/index.ts";

let server: ZooKeeperServer;
let zk: ZkSession;
const OCTET = { "content-type": "application/octet-stream" };

beforeAll(async () => {
  server = await startZooKeeper();
  zk = await ZkSession.open(server.connectString, { sessionTimeoutMs: 10_000, callTimeoutMs: 5000 });
});
afterAll(async () => {
  await zk.close();
  await server.stop();
});

/** ZooKeeper's open client connections, without the one asking. */
async function zkConnections(): Promise<number> {
  const match = /Connections: (\d+)/.exec(await fourLetterWord(server.connectString, "srvr"));
  return Number(match?.[1]) - 1;
}

/** Waits (up to 3 s) until ZooKeeper counts `expected` connections: it drops a closed one asynchronously. */
async function expectZkConnections(expected: number): Promise<void> {
  const deadline = Date.now() + 3000;
  while ((await zkConnections()) !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(await zkConnections()).toBe(expected);
}

async function withGateway<T>(
  options: Partial<ZkGatewayOptions>,
  run: (url: string, gateway: ReturnType<typeof createZkGateway>) => Promise<T>,
): Promise<T> {
  const gateway = createZkGateway({ zookeeper: server.connectString, port: 0, ...options });
  const url = await gateway.listen();
  try {
    return await run(url, gateway);
  } finally {
    await gateway.close({ sessions: "close" });
  }
}

const createSession = (url: string, expire: number, headers: Record<string, string> = {}) =>
  fetch(`${url}/sessions/v1/?op=create&expire=${expire}`, { method: "POST", headers });

describe("basic auth", () => {
  const credentials = new Map([["ops", "s3cret"]]);
  const basic = (user: string, pass: string) => ({
    authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`,
  });

  it("answers 401 with Apache's challenge without the right credentials, and serves with them", async () => {
    await withGateway({ credentials }, async (url) => {
      for (const headers of [
        {},
        basic("ops", "wrong"),
        basic("nobody", "s3cret"),
        { authorization: "Bearer x" },
      ]) {
        const res = await fetch(`${url}/znodes/v1/`, { headers });
        expect(res.status).toBe(401);
        expect(res.headers.get("www-authenticate")).toBe('Basic realm="Restricted"');
      }
      expect((await fetch(`${url}/znodes/v1/`, { headers: basic("ops", "s3cret") })).status).toBe(200);
      expect((await createSession(url, 5)).status).toBe(401);
    });
  });

  it("the backend sends its auth option, and maps a refused one to AuthError", async () => {
    await withGateway({ credentials }, async (url) => {
      const ok = zookeeper({ url, prefix: "auth-ok", auth: { username: "ops", password: "s3cret" } });
      const lease = createLease({ backend: ok, name: "jobs/a", holder: "a", ttlMs: 5000 });
      expect((await lease.claim()).isLeader).toBe(true);
      await lease.release();
      const refused = zookeeper({ url, prefix: "auth-ok", auth: { username: "ops", password: "nope" } });
      const denied = createLease({ backend: refused, name: "jobs/a", holder: "a", ttlMs: 5000 });
      await expect(denied.claim()).rejects.toBeInstanceOf(AuthError);
      expect(denied.state().isLeader).toBe(false);
    });
  });
});

describe("sessions: bounds and leaks", () => {
  it("refuses more than maxSessions sessions with 503, and accepts again once one is closed", async () => {
    await withGateway({ maxSessions: 2 }, async (url, gateway) => {
      const first = (await (await createSession(url, 30)).json()) as { id: string };
      expect((await createSession(url, 30)).status).toBe(201);
      const third = await createSession(url, 30);
      expect(third.status).toBe(503);
      expect(((await third.json()) as { message: string }).message).toMatch(/maximum of 2 sessions/);
      expect(gateway.sessionCount).toBe(2);
      await fetch(`${url}/sessions/v1/${first.id}`, { method: "DELETE" });
      expect((await createSession(url, 30)).status).toBe(201);
    });
  });

  it("refuses an expire outside its range or above ZooKeeper's maximum with 400, leaking no ZooKeeper session", async () => {
    await withGateway({ minExpireS: 2, maxExpireS: 120 }, async (url, gateway) => {
      // The gateway's own ZooKeeper session (used by reads without ?session=) is opened first.
      await fetch(`${url}/znodes/v1/`);
      const before = await zkConnections();
      for (const expire of [1, 121, 0, -5]) {
        const res = await createSession(url, expire);
        expect(res.status).toBe(400);
        expect(((await res.json()) as { message: string }).message).toBe(
          "expire must be a whole number of seconds from 2 to 120",
        );
      }
      // Inside the gateway's range but above the server's maxSessionTimeout (60 s): a session is opened, found
      // too short, and closed again before the answer.
      const tooLong = await createSession(url, 90);
      expect(tooLong.status).toBe(400);
      expect(gateway.sessionCount).toBe(0);
      await expectZkConnections(before);
      const backend = zookeeper({ url, prefix: "too-long" });
      const lease = createLease({ backend, name: "n", holder: "a", ttlMs: 90_000 });
      await expect(lease.claim()).rejects.toMatchObject({ code: "INVALID_ARGUMENT", field: "ttlMs" });
      expect(gateway.sessionCount).toBe(0);
      await expectZkConnections(before);
    });
  });

  it("closes a losing claimant's session at once: racing claims leave one session on the gateway", async () => {
    await withGateway({}, async (url, gateway) => {
      const backend = zookeeper({ url, prefix: "race" });
      const states = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          createLease({ backend, name: "jobs/race", holder: `h${i}`, ttlMs: 10_000 }).claim(),
        ),
      );
      const leaders = states.filter((s) => s.isLeader);
      expect(leaders).toHaveLength(1);
      expect(new Set(states.map((s) => s.token))).toEqual(new Set([leaders[0]?.token]));
      expect(gateway.sessionCount).toBe(1);
    });
  });
});

describe("request logging", () => {
  it("is off by default and logs one line per request when asked", async () => {
    const lines: string[] = [];
    await withGateway({ log: (line) => lines.push(line) }, async (url) => {
      await fetch(`${url}/znodes/v1/?view=children`);
      await fetch(`${url}/znodes/v1/missing`);
    });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^GET \/znodes\/v1\/ 200 \d+ms$/);
    expect(lines[1]).toMatch(/^GET \/znodes\/v1\/missing 404 \d+ms$/);
  });
});

describe("graceful shutdown", () => {
  it("close() stops serving at once but keeps each session until its expire runs out", async () => {
    const gateway = createZkGateway({ zookeeper: server.connectString, port: 0 });
    const url = await gateway.listen();
    const backend = zookeeper({ url, prefix: "drain" });
    const a = createLease({ backend, name: "a", holder: "a", ttlMs: 2000 });
    const held = await a.claim();
    const closed = gateway.close().then(() => Date.now());
    await expect(fetch(`${url}/znodes/v1/`)).rejects.toThrow();
    await expect(a.renew()).rejects.toMatchObject({ code: "TRANSPORT" });
    expect(await zk.exists("/drain/a")).not.toBeNull();
    // The holder may act until validUntil: its session, and so its znode, must outlive that.
    expect(await closed).toBeGreaterThanOrEqual(held.validUntil as number);
    expect(await zk.exists("/drain/a")).toBeNull();
  });

  it('close({ sessions: "close" }) closes every session now: ephemeral znodes gone, no ZooKeeper connection left', async () => {
    const before = await zkConnections();
    const gateway = createZkGateway({ zookeeper: server.connectString, port: 0 });
    const url = await gateway.listen();
    const backend = zookeeper({ url, prefix: "shutdown" });
    const a = createLease({ backend, name: "a", holder: "a", ttlMs: 30_000 });
    const b = createLease({ backend, name: "b", holder: "b", ttlMs: 30_000 });
    await Promise.all([a.claim(), b.claim()]);
    expect(await zk.exists("/shutdown/a")).not.toBeNull();
    await gateway.close({ sessions: "close" });
    expect(await zk.exists("/shutdown/a")).toBeNull();
    expect(await zk.exists("/shutdown/b")).toBeNull();
    await expectZkConnections(before);
    await expect(fetch(`${url}/znodes/v1/`)).rejects.toThrow();
  });

  it("the bin serves; on SIGTERM it keeps sessions until their expire, on a second signal it closes them and exits 0", async () => {
    const dir = await mkdtemp(join(tmpdir(), "leasehold-zk-gateway-"));
    const authFile = join(dir, "auth");
    await writeFile(authFile, "# user:password\nops:pw\n");
    const child = spawn(
      process.execPath,
      [
        ...GATEWAY_BIN,
        "--zookeeper",
        server.connectString,
        "--listen",
        "127.0.0.1:0",
        "--basic-auth-file",
        authFile,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      const [line] = (await once(createInterface({ input: child.stdout }), "line")) as [string];
      const url = /listening on (\S+)/.exec(line)?.[1] as string;
      const backend = zookeeper({ url, prefix: "bin", auth: { username: "ops", password: "pw" } });
      expect((await createLease({ backend, name: "x", holder: "a", ttlMs: 30_000 }).claim()).isLeader).toBe(
        true,
      );
      expect(await zk.exists("/bin/x")).not.toBeNull();
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await expect
        .poll(() =>
          fetch(`${url}/znodes/v1/`).then(
            () => "serving",
            () => "stopped",
          ),
        )
        .toBe("stopped");
      expect(await zk.exists("/bin/x")).not.toBeNull();
      child.kill("SIGINT");
      expect((await exited)[0]).toBe(0);
      expect(await zk.exists("/bin/x")).toBeNull();
    } finally {
      child.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("the bin prints usage with --help and refuses bad options with exit code 2", async () => {
    const run = async (args: string[]) => {
      const child = spawn(process.execPath, [...GATEWAY_BIN, ...args], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout.on("data", (c: Buffer) => {
        out += c.toString();
      });
      child.stderr.on("data", (c: Buffer) => {
        out += c.toString();
      });
      const [code] = (await once(child, "exit")) as [number];
      return { code, out };
    };
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("--max-sessions");
    expect((await run(["--listen", "nowhere"])).code).toBe(2);
    expect((await run(["--bogus"])).code).toBe(2);
    expect((await run(["--max-sessions", "-3"])).code).toBe(2);
  });
});

describe("ZooKeeper going away", () => {
  it("fails closed: heartbeats and new sessions answer 503, renew throws a retryable HttpStatusError", async () => {
    const gateway = createZkGateway({ zookeeper: server.connectString, port: 0, zkTimeoutMs: 600 });
    const url = await gateway.listen();
    try {
      const backend = zookeeper({ url, prefix: "outage" });
      const lease = createLease({ backend, name: "x", holder: "a", ttlMs: 10_000 });
      const held = await lease.claim();
      const id = ((await (await createSession(url, 30)).json()) as { id: string }).id;
      await zk.close();
      await server.stop();
      expect((await fetch(`${url}/sessions/v1/${id}`, { method: "PUT", headers: OCTET })).status).toBe(503);
      expect((await createSession(url, 30)).status).toBe(503);
      expect((await fetch(`${url}/znodes/v1/`)).status).toBe(504);
      const err = await lease.renew().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HttpStatusError);
      expect(err).toMatchObject({ status: 503, retryable: true });
      expect(lease.state().validUntil).toBe(held.validUntil);
    } finally {
      await gateway.close({ sessions: "close" });
      server = await startZooKeeper();
      zk = await ZkSession.open(server.connectString, { sessionTimeoutMs: 10_000, callTimeoutMs: 5000 });
    }
  });
});
