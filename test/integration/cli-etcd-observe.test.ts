import { connect, createServer, type Socket } from "node:net";
import { expect, it } from "vitest";
import { etcd } from "../../adapters/etcd/index.ts";
import { startEtcd } from "../../scripts/lib/etcd-server.ts";
import { etcdctl } from "../../scripts/lib/etcdctl.ts";
import { startFaultProxy } from "../../scripts/lib/fault-proxy.ts";
import { makeTestPki } from "../../scripts/lib/tls.ts";
import { createLease } from "../../src/index.ts";

import { backend, type Cli, cli, cliRun, endpoint, lease, nodeChild, prefix } from "./cli-harness.ts";

interface ObserveLine {
  event: string;
  mode?: string;
  reason?: string;
  revision?: string | null;
  leader: { holder: string; token: string; parked: boolean } | null;
}

const observeLines = (c: Cli) =>
  c
    .stdout()
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as ObserveLine);

it("observe follows etcd's watch: one line per change of the term, each at a higher revision", async () => {
  const c = cli(["observe", "jobs/observed", "--json"]);
  await c.waitFor(/"leader":null/);
  const a = lease("jobs/observed", "a");
  const state = await a.claim();
  await c.waitFor(/"holder":"a"/);
  await a.park();
  await c.waitFor(/"parked":true/);
  await a.release();
  await c.waitFor(/("leader":null[\s\S]*){2}/);
  c.process.kill("SIGTERM");
  expect((await c.exited).code).toBe(0);
  const [mode, ...changes] = observeLines(c);
  expect(mode).toMatchObject({ event: "mode", mode: "watch", reason: "following the etcd watch" });
  expect(changes.map((l) => [l.event, l.mode, l.leader && [l.leader.token, l.leader.parked]])).toEqual([
    ["leader", "watch", null],
    ["leader", "watch", [String(state.token), false]],
    ["leader", "watch", [String(state.token), true]],
    ["leader", "watch", null],
  ]);
  const revisions = changes.map((l) => BigInt(l.revision as string));
  expect(revisions).toEqual([...revisions].sort((x, y) => (x < y ? -1 : 1)));
  expect(new Set(revisions).size).toBe(4);
});

it("observe prints the claim and the release another process makes (a leasehold run)", async () => {
  const c = cli(["observe", "jobs/observed-run"]);
  await c.waitFor(/free \(no leader\)/);
  const r = await cliRun([
    "run",
    "--name",
    "jobs/observed-run",
    "--holder",
    "other-proc",
    "--json",
    "--",
    "true",
  ]);
  expect(r.code).toBe(0);
  const { token } = JSON.parse(r.stderr.split("\n")[0] as string) as { token: string };
  await c.waitFor(/other-proc[\s\S]*free \(no leader\)/);
  c.process.kill("SIGINT");
  expect((await c.exited).code).toBe(0);
  const lines = c
    .stdout()
    .trim()
    .split("\n")
    .map((line) => line.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /, ""));
  expect(lines).toEqual([
    "jobs/observed-run: watching: following the etcd watch",
    "jobs/observed-run: free (no leader)",
    expect.stringMatching(
      new RegExp(`^jobs/observed-run: held by other-proc \\(token ${token}, TTL 15s, lease [0-9a-f]+, busy`),
    ),
    "jobs/observed-run: free (no leader)",
  ]);
});

it("observe says when it falls back to polling: the watch cannot resume from a compacted revision", async () => {
  // Compaction is store-wide: on an etcd of its own, not the one other tests share.
  const own = await startEtcd();
  const url = new URL(own.endpoint);
  const proxy = await startFaultProxy({ host: url.hostname, port: Number(url.port) });
  let c: Cli | undefined;
  try {
    c = cli(["observe", "jobs/compacted", "--json", "--interval", "100ms"], {
      LEASEHOLD_ETCD_ENDPOINTS: proxy.endpoint,
    });
    await c.waitFor(/"leader":null/);
    // Two writes outside the lease's keys; compacting at the second makes the watch's next revision history.
    await etcdctl(own.endpoint, ["put", "unrelated", "1"]);
    const put = await etcdctl(own.endpoint, ["put", "unrelated", "2", "-w", "json"]);
    await etcdctl(own.endpoint, ["compaction", /"revision":(\d+)/.exec(put)?.[1] as string]);
    proxy.reset();
    await c.waitFor(/"mode":"poll"/);
    const store = etcd({ endpoints: [own.endpoint], prefix });
    const a = createLease({ backend: store, name: "jobs/compacted", holder: "a", ttlMs: 2000 });
    await a.claim();
    await c.waitFor(/"holder":"a"/);
    await a.release();
    await store.close?.();
    c.process.kill("SIGTERM");
    expect((await c.exited).code).toBe(0);
    const lines = observeLines(c);
    expect(lines.map((l) => [l.event, l.mode, l.leader?.holder ?? null])).toEqual([
      ["mode", "watch", null],
      ["leader", "watch", null],
      ["mode", "poll", null],
      ["leader", "poll", "a"],
    ]);
    expect(lines[2]).toMatchObject({
      reason: expect.stringMatching(/compacted.*; polling every 100 ms$/),
      code: "UNSUPPORTED",
    });
    expect(lines[3]?.revision).toBeNull();
  } finally {
    c?.process.kill("SIGKILL");
    await proxy.close();
    await own.stop();
  }
}, 20_000);

/** A loopback forwarder to etcd that can refuse: `down()` drops every connection and each new one at once. */
async function switchableProxy(target: string) {
  const url = new URL(target);
  const sockets = new Set<Socket>();
  let up = true;
  const server = createServer((client) => {
    if (!up) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(url.port), url.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined);
      s.on("close", () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(s);
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    down() {
      up = false;
      for (const s of sockets) s.destroy();
    },
    up() {
      up = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

it("observe prints unknown while etcd cannot be reached, then the term again though it did not change", async () => {
  const proxy = await switchableProxy(endpoint);
  const a = createLease({ backend, name: "jobs/unreachable", holder: "a", ttlMs: 15_000 });
  let c: Cli | undefined;
  try {
    c = cli(["observe", "jobs/unreachable", "--json", "--interval", "100ms"], {
      LEASEHOLD_ETCD_ENDPOINTS: proxy.endpoint,
    });
    await c.waitFor(/"leader":null/);
    await a.claim();
    await c.waitFor(/"holder":"a"/);
    proxy.down();
    await c.waitFor(/"leader":"unknown"/);
    proxy.up();
    await c.waitFor(/("holder":"a"[\s\S]*){2}/);
    c.process.kill("SIGTERM");
    expect((await c.exited).code).toBe(0);
    const lines: unknown[] = observeLines(c);
    const unknown = { event: "leader", leader: "unknown", code: "TRANSPORT" };
    const held = { event: "leader", mode: "watch", leader: expect.objectContaining({ holder: "a" }) };
    expect(lines).toMatchObject([
      { event: "mode", mode: "watch" },
      { event: "leader", mode: "watch", leader: null },
      held,
      { event: "mode", mode: "poll", reason: expect.stringMatching(/watch was lost/) },
      unknown,
      { event: "mode", mode: "watch" },
      held,
    ]);
    expect(lines).toHaveLength(7);
  } finally {
    c?.process.kill("SIGKILL");
    await a.release();
    await proxy.close();
  }
});

it("run --wait claims as soon as the holder's run releases (woken by the watch) and starts its child", async () => {
  const holder = cli([
    "run",
    "--name",
    "jobs/handover",
    "--holder",
    "first",
    ...nodeChild(
      `process.on("SIGTERM", () => process.exit(0)); console.log("first " + process.env.LEASEHOLD_TOKEN); setInterval(() => {}, 1000);`,
    ),
  ]);
  const first = BigInt((await holder.waitFor(/first (\d+)/))[1] as string);
  const waiter = cli([
    "run",
    "--name",
    "jobs/handover",
    "--holder",
    "second",
    "--wait",
    "--json",
    ...nodeChild(`console.log("second " + process.env.LEASEHOLD_TOKEN);`),
  ]);
  await waiter.waitFor(/"event":"observing".*"mode":"watch"/, 5000, "stderr");
  expect(waiter.stderr()).toContain(`"event":"waiting","at"`);
  expect(waiter.stdout()).toBe("");
  holder.process.kill("SIGTERM");
  expect((await holder.exited).code).toBe(0);
  // Well before the first claim the waiter would send without the watch (every TTL, at most 10 s, -20 %).
  const second = BigInt((await waiter.waitFor(/second (\d+)/, 5000))[1] as string);
  expect(second).toBeGreaterThan(first);
  expect((await waiter.exited).code).toBe(0);
  const events = waiter
    .stderr()
    .trim()
    .split("\n")
    .map((line) => (JSON.parse(line) as { event: string }).event);
  expect(events).toEqual(["waiting", "observing", "claimed", "child-exited", "released"]);
});

it("run --wait of a busy holder resumes its term (same token) as soon as the other invocation parks it", async () => {
  const args = ["run", "--name", "jobs/resume-wait", "--holder", "cron", "--keep"];
  const first = cli([
    ...args,
    ...nodeChild(
      `process.on("SIGTERM", () => process.exit(0)); console.log("first " + process.env.LEASEHOLD_TOKEN); setInterval(() => {}, 1000);`,
    ),
  ]);
  const token = (await first.waitFor(/first (\d+)/))[1] as string;
  const waiter = cli([
    ...args,
    "--wait",
    "--json",
    ...nodeChild(`console.log("second " + process.env.LEASEHOLD_TOKEN);`),
  ]);
  await waiter.waitFor(/"event":"waiting".*"busy":true/, 5000, "stderr");
  await waiter.waitFor(/"event":"observing".*"mode":"watch"/, 5000, "stderr");
  first.process.kill("SIGTERM");
  expect((await first.exited).code).toBe(0);
  expect(first.stderr()).toContain("parked jobs/resume-wait");
  // Well before the waiter's next claim without the watch (every TTL, at most 10 s, -20 %).
  expect((await waiter.waitFor(/second (\d+)/, 5000))[1]).toBe(token);
  expect((await waiter.exited).code).toBe(0);
  await cliRun(["release", "jobs/resume-wait", "--holder", "cron"]);
});

it("observe follows the watch over TLS with the files named in the environment (undici's fetch)", async () => {
  const pki = await makeTestPki();
  const server = await startEtcd({
    tls: {
      caFile: pki.caFile,
      certFile: pki.serverCertFile,
      keyFile: pki.serverKeyFile,
      clientCertAuth: true,
      clientCertFile: pki.clientCertFile,
      clientKeyFile: pki.clientKeyFile,
    },
  });
  let c: Cli | undefined;
  try {
    c = cli(["observe", "jobs/tls", "--json"], {
      LEASEHOLD_ETCD_ENDPOINTS: server.endpoint,
      LEASEHOLD_ETCD_CACERT: pki.caFile,
      LEASEHOLD_ETCD_CERT: pki.clientCertFile,
      LEASEHOLD_ETCD_KEY: pki.clientKeyFile,
    });
    await c.waitFor(/"leader":null/, 10_000);
    expect(observeLines(c)[0]).toMatchObject({ event: "mode", mode: "watch" });
  } finally {
    c?.process.kill("SIGKILL");
    await server.stop();
    await pki.remove();
  }
}, 60_000);
