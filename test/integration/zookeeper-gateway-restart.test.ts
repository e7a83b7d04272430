/**
 * leasehold-zk-gateway surviving its own restart, on real ZooKeeper: REST session IDs seal the ZooKeeper
 * session (ID, password, expire), so a gateway killed with SIGKILL and started again serves the same
 * sessions; forged and tampered IDs are unknown; a session ZooKeeper ended is gone on every instance.
 * Several instances at once: zookeeper-gateway-instances.test.ts.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { zookeeper } from "../../adapters/zookeeper/index.ts";
import { SESSION_ID } from "../../adapters/zookeeper/wire.ts";
import { parseSessionKeys, SessionSealer } from "../../packages/zk-gateway/src/session-token.ts";
import { ZkSession } from "../../packages/zk-gateway/src/zk.ts";
import { GATEWAY_BIN } from "../../scripts/lib/gateway-process.ts";
import { createLease } from "../../src/index.ts";
import {
  createEphemeral,
  createSession,
  type GatewayBody,
  gatewaysOn,
  heartbeat,
} from "./zk-gateway-harness.ts";

const connectString = inject("zkConnectString");
const KEY = randomBytes(32);
const run = Math.random().toString(36).slice(2, 8);
let n = 0;
const fresh = (what: string) => `${what}-${run}-${n++}`;
let zk: ZkSession;
let dir: string;
let keyFile: string;

beforeAll(async () => {
  zk = await ZkSession.open(connectString, { sessionTimeoutMs: 10_000, callTimeoutMs: 5000 });
  dir = await mkdtemp(join(tmpdir(), "leasehold-zk-restart-"));
  keyFile = join(dir, "session-keys");
  await writeFile(keyFile, `# the first key seals\n${KEY.toString("base64")}\n`);
});
afterAll(async () => {
  await zk.close();
  await rm(dir, { recursive: true, force: true });
});

/** The bin (cli.ts) as a child process; `start` again listens on the port of the first start. */
function gatewayProcess(args: string[], env: Record<string, string> = {}) {
  let child: ChildProcess | null = null;
  let port = 0;
  const proc = {
    url: "",
    async start() {
      const next = spawn(
        process.execPath,
        [
          ...GATEWAY_BIN,
          ...["--zookeeper", connectString, "--listen", `127.0.0.1:${port}`, "--zk-timeout", "3000"],
          ...args,
        ],
        { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } },
      );
      child = next;
      let output = "";
      const url = await new Promise<string>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          const match = /listening on (\S+)/.exec(output);
          if (match) resolve(match[1] as string);
        };
        next.stdout?.on("data", onData);
        next.stderr?.on("data", onData);
        next.once("exit", (code) => reject(new Error(`gateway exited (${code}): ${output}`)));
      });
      proc.url = url;
      port = Number(new URL(url).port);
    },
    async kill() {
      const current = child;
      child = null;
      if (!current || current.exitCode !== null || current.signalCode !== null) return;
      const exited = once(current, "exit");
      current.kill("SIGKILL");
      await exited;
    },
  };
  return proc;
}

const withGateways = <T>(keys: readonly (readonly Uint8Array[])[], body: GatewayBody<T>) =>
  gatewaysOn(
    keys.map((sessionKeys) => ({ zookeeper: connectString, sessionKeys })),
    body,
  );
const sessionOfZnode = async (path: string) => {
  const { data } = await zk.getData(path);
  return (JSON.parse((data as Buffer).toString()) as { session: string }).session;
};

describe("sealed session IDs", () => {
  const ticket = {
    zk: { id: Buffer.from("7fffffffffffff01", "hex"), password: randomBytes(16) },
    expireS: 3600,
  };

  it("carry the ZooKeeper session ID, password and expire, as a token the clients' SESSION_ID accepts", () => {
    const sealer = new SessionSealer([KEY]);
    const id = sealer.seal(ticket);
    expect(id).toMatch(SESSION_ID);
    expect(id).toMatch(/^[A-Za-z0-9_-]{76}$/);
    expect(sealer.open(id)).toEqual(ticket);
    // A fresh nonce per seal: the same session never yields the same ID twice.
    expect(sealer.seal(ticket)).not.toBe(id);
    expect(id).not.toContain(ticket.zk.password.toString("base64url").slice(0, 8));
  });

  it("open with any configured key (rotation) and refuse every altered character, length and foreign key", () => {
    const old = new SessionSealer([KEY]);
    const rotated = new SessionSealer([randomBytes(32), KEY]);
    const id = old.seal(ticket);
    expect(rotated.open(id)).toEqual(ticket);
    expect(old.open(rotated.seal(ticket))).toBeNull();
    for (let i = 0; i < id.length; i += 1) {
      const flipped = `${id.slice(0, i)}${id[i] === "A" ? "B" : "A"}${id.slice(i + 1)}`;
      expect(old.open(flipped)).toBeNull();
    }
    for (const forged of [
      id.slice(0, -1),
      `${id}A`,
      "",
      crypto.randomUUID(),
      "A".repeat(76),
      `${id.slice(0, 75)}=`,
    ]) {
      expect(old.open(forged)).toBeNull();
    }
  });

  it("parses keys as base64, base64url or hex lines, and refuses others without echoing them", () => {
    const key = randomBytes(32);
    const text = `# comment\n${key.toString("base64")}\n\n${key.toString("base64url")}, ${key.toString("hex")}\n`;
    expect(parseSessionKeys(text)).toEqual([key, key, key]);
    const secret = randomBytes(16).toString("hex");
    expect(() => parseSessionKeys(secret)).toThrow(RangeError);
    expect(() => parseSessionKeys(secret)).not.toThrow(new RegExp(secret));
    expect(() => new SessionSealer([randomBytes(16)])).toThrow(RangeError);
  });
});

describe("a gateway killed with SIGKILL and started again", () => {
  it("keeps the term in the middle: renew and doIfLeader work on, same token, same lease ID", async () => {
    const gateway = gatewayProcess(["--session-key-file", keyFile]);
    await gateway.start();
    try {
      const prefix = fresh("restart");
      const backend = zookeeper({ url: gateway.url, prefix });
      const lease = createLease({ backend, name: "jobs/nightly", holder: "h", ttlMs: 10_000 });
      const held = await lease.claim();
      expect(held.isLeader).toBe(true);
      const key = `${prefix}-data/k`;
      expect(await lease.doIfLeader([{ type: "put", key, value: "before" }])).toMatchObject({
        applied: true,
      });
      const znode = `/${prefix}/jobs^nightly`;
      const owner = (await zk.exists(znode))?.ephemeralOwner;
      expect(owner?.toString()).toBe(held.leaseId);

      await gateway.kill();
      await gateway.start();

      const renewed = await lease.renew();
      expect(renewed).toMatchObject({ isLeader: true, token: held.token, leaseId: held.leaseId });
      expect(renewed.validUntil).toBeGreaterThan(held.validUntil as number);
      expect(await lease.doIfLeader([{ type: "put", key, value: "after" }])).toMatchObject({ applied: true });
      expect((await zk.getData(`/${key}`)).data?.toString()).toBe("after");
      expect((await zk.exists(znode))?.ephemeralOwner).toBe(owner);
      const state = await lease.claim();
      expect(state).toMatchObject({ isLeader: true, token: held.token, leaseId: held.leaseId });
      await lease.release();
      expect(await zk.exists(znode)).toBeNull();
    } finally {
      await gateway.kill();
    }
  });

  it("refuses a malformed session key at start (exit 2) without echoing it", async () => {
    const secret = randomBytes(20).toString("hex");
    const child = spawn(
      process.execPath,
      [...GATEWAY_BIN, "--zookeeper", connectString, "--listen", "127.0.0.1:0"],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, LEASEHOLD_ZK_GATEWAY_SESSION_KEYS: secret },
      },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const [code] = (await once(child, "exit")) as [number];
    expect(code).toBe(2);
    expect(output).toContain("session key entry 1 is not 32 bytes");
    expect(output).not.toContain(secret);
  });

  it("forgets its sessions without a session key (a random one per process)", async () => {
    const gateway = gatewayProcess([]);
    await gateway.start();
    try {
      const id = await createSession(gateway.url, 30);
      await gateway.kill();
      await gateway.start();
      expect(await heartbeat(gateway.url, id)).toBe(404);
    } finally {
      await gateway.kill();
    }
  });
});

describe("forged, tampered and foreign session IDs", () => {
  it("are unknown (heartbeat 404, znode op 401, DELETE 204) and never disturb the genuine session", async () => {
    await withGateways([[KEY], [randomBytes(32)]], async ([a, foreign]) => {
      if (!a || !foreign) throw new Error("two gateways");
      const id = await createSession(a.url, 30);
      const parent = fresh("forged");
      await zk.create(`/${parent}`, null, { ephemeral: false, sequence: false });
      expect((await createEphemeral(a.url, id, `${parent}/e`)).status).toBe(201);
      const owner = (await zk.exists(`/${parent}/e`))?.ephemeralOwner;
      const swap = (i: number) => `${id.slice(0, i)}${id[i] === "x" ? "y" : "x"}${id.slice(i + 1)}`;
      const forged = [
        swap(0),
        swap(20),
        swap(40),
        swap(75),
        id.slice(0, -4),
        crypto.randomUUID(),
        randomBytes(57).toString("base64url"),
        await createSession(foreign.url, 30),
      ];
      for (const other of forged) {
        expect(await heartbeat(a.url, other)).toBe(404);
        expect((await fetch(`${a.url}/znodes/v1/${parent}?session=${other}`)).status).toBe(401);
        const multi = await fetch(`${a.url}/leasehold/v1/multi?session=${other}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ ops: [{ op: "check", path: `/${parent}` }] }),
        });
        expect(multi.status).toBe(401);
        expect((await fetch(`${a.url}/sessions/v1/${other}`, { method: "DELETE" })).status).toBe(204);
      }
      // Still held by its connection: a forged ID naming its ZooKeeper session would have made ZooKeeper
      // close that connection before it checked the password.
      expect(a.gateway.sessionCount).toBe(1);
      expect(await heartbeat(a.url, id)).toBe(200);
      expect((await zk.exists(`/${parent}/e`))?.ephemeralOwner).toBe(owner);
    });
  });
});

describe("a session ZooKeeper no longer has", () => {
  it("is gone on every instance once its expire closed it", async () => {
    await withGateways([[KEY], [KEY]], async ([a, b]) => {
      if (!a || !b) throw new Error("two gateways");
      const id = await createSession(a.url, 1);
      await expect.poll(() => a.gateway.sessionCount, { timeout: 5000 }).toBe(0);
      for (const url of [a.url, b.url]) {
        expect(await heartbeat(url, id)).toBe(404);
        expect((await fetch(`${url}/znodes/v1/?session=${id}`)).status).toBe(401);
      }
    });
  });

  it("is gone on every instance after its gateway was killed and ZooKeeper expired it", async () => {
    const gateway = gatewayProcess([], { LEASEHOLD_ZK_GATEWAY_SESSION_KEYS: KEY.toString("hex") });
    await gateway.start();
    try {
      const id = await createSession(gateway.url, 2);
      const parent = fresh("expired");
      await zk.create(`/${parent}`, null, { ephemeral: false, sequence: false });
      expect((await createEphemeral(gateway.url, id, `${parent}/e`)).status).toBe(201);
      await gateway.kill();
      await expect.poll(() => zk.exists(`/${parent}/e`), { timeout: 10_000, interval: 200 }).toBeNull();
      await gateway.start();
      await withGateways([[KEY]], async ([b]) => {
        for (const url of [gateway.url, b?.url as string]) {
          expect(await heartbeat(url, id)).toBe(404);
          expect((await createEphemeral(url, id, `${parent}/late`)).status).toBe(401);
        }
      });
      expect(await zk.exists(`/${parent}/late`)).toBeNull();
    } finally {
      await gateway.kill();
    }
  });

  it("the leader znode's REST session is such a sealed ID", async () => {
    const prefix = fresh("record");
    const lease = createLease({
      backend: zookeeper({ url: inject("zkGatewayUrl"), prefix }),
      name: "jobs/nightly",
      holder: "h",
      ttlMs: 10_000,
    });
    await lease.claim();
    expect(await sessionOfZnode(`/${prefix}/jobs^nightly`)).toMatch(/^[A-Za-z0-9_-]{76}$/);
    await lease.release();
  });
});
