/**
 * Several leasehold-zk-gateway instances with one session key, on real ZooKeeper: behind one URL with
 * requests alternating between them (the term lives on; one instance holds a session at a time), any
 * instance serving and closing a session another created, a draining instance handing its sessions over,
 * and, on a three-server ensemble where the instances attach through different servers, an instance whose
 * connection lost the session neither closes it at its old expire nor serves its heartbeats stale.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { zookeeper } from "../../adapters/zookeeper/index.ts";
import { createZkGateway } from "../../packages/zk-gateway/src/server.ts";
import { ZkSession } from "../../packages/zk-gateway/src/zk.ts";
import { freePort } from "../../scripts/lib/free-port.ts";
import { fourLetterWord, zookeeperJar } from "../../scripts/lib/zookeeper-server.ts";
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

beforeAll(async () => {
  zk = await ZkSession.open(connectString, { sessionTimeoutMs: 10_000, callTimeoutMs: 5000 });
});
afterAll(() => zk.close());

/**
 * A reverse proxy sending each request to the next of `upstreams` in turn, one request at a time per client
 * connection (as an HTTP/1.1 proxy handles pipelining); the Host header is passed on, so every instance
 * answers as the proxy's URL.
 */
async function roundRobin(upstreams: string[]) {
  const served = upstreams.map(() => 0);
  let next = 0;
  const forward = (req: IncomingMessage, res: ServerResponse) =>
    new Promise<void>((resolve) => {
      const i = next;
      next = (next + 1) % upstreams.length;
      served[i] = (served[i] ?? 0) + 1;
      const target = new URL(req.url ?? "/", upstreams[i]);
      const upstream = httpRequest(target, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        res.once("close", resolve);
      });
      upstream.once("error", () => {
        res.destroy();
        resolve();
      });
      req.pipe(upstream);
    });
  const queues = new WeakMap<object, Promise<void>>();
  const server = createServer((req, res) => {
    const current = (queues.get(req.socket) ?? Promise.resolve()).then(() => forward(req, res));
    queues.set(req.socket, current);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const withGateways = <T>(zookeepers: readonly string[], body: GatewayBody<T>) =>
  gatewaysOn(
    zookeepers.map((zookeeper) => ({ zookeeper, sessionKeys: [KEY] })),
    body,
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("two instances behind one URL", () => {
  it("alternate requests: the term lives on, one instance holds the session at a time, no reconnect tug of war", async () => {
    await withGateways([connectString, connectString], async ([a, b]) => {
      if (!a || !b) throw new Error("two gateways");
      const proxy = await roundRobin([a.url, b.url]);
      try {
        const prefix = fresh("pair");
        const lease = createLease({
          backend: zookeeper({ url: proxy.url, prefix }),
          name: "jobs/nightly",
          holder: "h",
          ttlMs: 10_000,
        });
        const held = await lease.claim();
        expect(held.isLeader).toBe(true);
        const key = `${prefix}-data/k`;
        for (let i = 0; i < 15; i += 1) {
          expect(await lease.renew()).toMatchObject({
            isLeader: true,
            token: held.token,
            leaseId: held.leaseId,
          });
          expect(await lease.doIfLeader([{ type: "put", key, value: `v${i}` }])).toMatchObject({
            applied: true,
          });
        }
        expect(proxy.served[0]).toBeGreaterThanOrEqual(15);
        expect(proxy.served[1]).toBeGreaterThanOrEqual(15);
        expect((await zk.getData(`/${key}`)).data?.toString()).toBe("v14");
        expect((await zk.exists(`/${prefix}/jobs^nightly`))?.ephemeralOwner.toString()).toBe(held.leaseId);
        // The instance that lost the session to the other does not reconnect to take it back.
        for (let i = 0; i < 5; i += 1) {
          expect(a.gateway.sessionCount + b.gateway.sessionCount).toBe(1);
          await new Promise((r) => setTimeout(r, 200));
        }
        await lease.release();
        expect(await zk.exists(`/${prefix}/jobs^nightly`)).toBeNull();
        expect(a.gateway.sessionCount + b.gateway.sessionCount).toBe(0);
      } finally {
        await proxy.close();
      }
    });
  });

  it("heartbeats, znode ops and DELETE on either instance serve the session the other created", async () => {
    await withGateways([connectString, connectString], async ([a, b]) => {
      if (!a || !b) throw new Error("two gateways");
      const id = await createSession(a.url, 30);
      const parent = fresh("either");
      await zk.create(`/${parent}`, null, { ephemeral: false, sequence: false });
      expect((await createEphemeral(b.url, id, `${parent}/e`)).status).toBe(201);
      expect([a.gateway.sessionCount, b.gateway.sessionCount]).toEqual([0, 1]);
      expect(await heartbeat(a.url, id)).toBe(200);
      expect([a.gateway.sessionCount, b.gateway.sessionCount]).toEqual([1, 0]);
      expect(await heartbeat(b.url, id)).toBe(200);
      expect(await zk.exists(`/${parent}/e`)).not.toBeNull();
      expect((await fetch(`${a.url}/sessions/v1/${id}`, { method: "DELETE" })).status).toBe(204);
      expect(await zk.exists(`/${parent}/e`)).toBeNull();
      expect(await heartbeat(b.url, id)).toBe(404);
      expect(await heartbeat(a.url, id)).toBe(404);
    });
  });

  it("a draining instance leaves a session the other takes over to it, and exits before the expire", async () => {
    await withGateways([connectString], async ([b]) => {
      if (!b) throw new Error("a gateway");
      const a = createZkGateway({ zookeeper: connectString, port: 0, sessionKeys: [KEY] });
      const id = await createSession(await a.listen(), 30);
      const parent = fresh("drain");
      await zk.create(`/${parent}`, null, { ephemeral: false, sequence: false });
      expect((await createEphemeral(a.url, id, `${parent}/e`)).status).toBe(201);
      const closed = a.close();
      expect(await heartbeat(b.url, id)).toBe(200);
      await closed;
      expect(await zk.exists(`/${parent}/e`)).not.toBeNull();
      expect(await heartbeat(b.url, id)).toBe(200);
    });
  });
});

/** A throwaway three-server ZooKeeper ensemble on loopback (QuorumPeerMain from the same jar). */
async function startEnsemble() {
  const dir = await mkdtemp(join(tmpdir(), "leasehold-zk-ensemble-"));
  const ports = [];
  for (let i = 0; i < 3; i += 1)
    ports.push({ client: await freePort(), peer: await freePort(), election: await freePort() });
  const peers = ports.map((p, i) => `server.${i + 1}=127.0.0.1:${p.peer}:${p.election}`);
  const children: ChildProcess[] = [];
  const servers = ports.map((p) => `127.0.0.1:${p.client}`);
  const stop = async () => {
    await Promise.all(
      children.map((child) => {
        if (child.exitCode !== null || child.signalCode !== null) return undefined;
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGKILL");
        return exited;
      }),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const [i, port] of ports.entries()) {
      const data = join(dir, `server-${i + 1}`);
      await mkdir(data);
      await writeFile(join(data, "myid"), `${i + 1}\n`);
      const config = [
        "tickTime=500",
        "initLimit=20",
        "syncLimit=10",
        `dataDir=${data}`,
        `clientPort=${port.client}`,
        "clientPortAddress=127.0.0.1",
        "admin.enableServer=false",
        "4lw.commands.whitelist=srvr",
        ...peers,
        "",
      ].join("\n");
      await writeFile(join(data, "zoo.cfg"), config);
      const args = ["-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", zookeeperJar()];
      const main = "org.apache.zookeeper.server.quorum.QuorumPeerMain";
      children.push(
        spawn(process.env.LEASEHOLD_JAVA || "java", [...args, main, join(data, "zoo.cfg")], {
          stdio: "ignore",
        }),
      );
    }
    const deadline = Date.now() + 60_000;
    for (const server of servers) {
      while (!/Mode: (leader|follower)/.test(await fourLetterWord(server, "srvr"))) {
        if (Date.now() > deadline) throw new Error("the ZooKeeper ensemble did not form within 60 s");
        await sleep(100);
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { servers, stop };
}

describe("two instances attached through different servers of an ensemble", () => {
  let ensemble: Awaited<ReturnType<typeof startEnsemble>>;
  let observer: ZkSession;
  beforeAll(async () => {
    ensemble = await startEnsemble();
    observer = await ZkSession.open(ensemble.servers.join(","), {
      sessionTimeoutMs: 10_000,
      callTimeoutMs: 5000,
    });
  }, 90_000);
  afterAll(async () => {
    await observer?.close();
    await ensemble?.stop();
  });

  const parentFor = async (what: string) => {
    const parent = `/${fresh(what)}`;
    await observer.create(parent, null, { ephemeral: false, sequence: false });
    return parent;
  };

  it("the instance that lost the session to the other's server does not close it at its old expire", async () => {
    await withGateways(ensemble.servers.slice(0, 2), async ([a, b]) => {
      if (!a || !b) throw new Error("two gateways");
      const id = await createSession(a.url, 2);
      const parent = await parentFor("stale-expire");
      expect((await createEphemeral(a.url, id, `${parent.slice(1)}/e`)).status).toBe(201);
      await sleep(500);
      // b attaches through another server: a's connection stays open, and a's expire timer runs out at 2 s.
      for (let i = 0; i < 6; i += 1) {
        expect(await heartbeat(b.url, id)).toBe(200);
        await sleep(600);
      }
      expect(await observer.exists(`${parent}/e`)).not.toBeNull();
      expect([a.gateway.sessionCount, b.gateway.sessionCount]).toEqual([0, 1]);
    });
  });

  it("a heartbeat on the instance whose connection went stale takes the session back, and the other lets go", async () => {
    await withGateways(ensemble.servers.slice(0, 2), async ([a, b]) => {
      if (!a || !b) throw new Error("two gateways");
      const id = await createSession(a.url, 2);
      const parent = await parentFor("stale-heartbeat");
      expect((await createEphemeral(a.url, id, `${parent.slice(1)}/e`)).status).toBe(201);
      expect(await heartbeat(b.url, id)).toBe(200);
      // a still has its (stale) connection; its heartbeats must re-attach, or b's expire (2 s) closes it.
      for (let i = 0; i < 6; i += 1) {
        await sleep(600);
        expect(await heartbeat(a.url, id)).toBe(200);
      }
      expect(await observer.exists(`${parent}/e`)).not.toBeNull();
      expect([a.gateway.sessionCount, b.gateway.sessionCount]).toEqual([1, 0]);
    });
  });
});
