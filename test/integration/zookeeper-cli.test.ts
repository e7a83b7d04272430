/**
 * The `leasehold` bin on a real ZooKeeper 3.8 through leasehold-zk-gateway (`--zookeeper URL`): the term in the
 * child's environment (the leader znode's czxid as the token; no etcd variables), try-once 75 and --wait, and a
 * term lost under the child (its REST session deleted at the gateway) stopping the child with exit 70, and observe
 * following the gateway's watch while another process claims and releases.
 */
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { zookeeper } from "../../adapters/zookeeper/index.ts";
import { ZkSession } from "../../packages/zk-gateway/src/zk.ts";
import { createLease } from "../../src/index.ts";
import { spawnCli } from "./cli-process.ts";

const url = inject("zkGatewayUrl");
const prefix = `/cli-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
const backend = zookeeper({ url, prefix });
const lease = (name: string, holder: string) => createLease({ backend, name, holder, ttlMs: 2000 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let zk: ZkSession;

beforeAll(async () => {
  zk = await ZkSession.open(inject("zkConnectString"), { sessionTimeoutMs: 10_000, callTimeoutMs: 5000 });
});
afterAll(() => zk.close());

/** Spawns the CLI on the gateway; `out()` is its stdout so far, `exited` its exit code. */
function cli(args: readonly string[]) {
  const [command, ...rest] = args;
  const c = spawnCli([command as string, "--zookeeper", url, "--prefix", prefix, ...rest], {
    ETCD_LOCK_KEY: "stale",
    ETCD_LOCK_REV: "1",
  });
  return { process: c.process, out: c.stdout, err: c.stderr, exited: c.exited.then((end) => end.code) };
}

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

it("runs the child with the leader znode's czxid as LEASEHOLD_TOKEN and no etcd variables", async () => {
  const c = cli([
    "run",
    "--name",
    "jobs/zk-env",
    "--holder",
    "zk-a",
    "--",
    process.execPath,
    "-e",
    'const e = process.env; console.log([e.LEASEHOLD_TOKEN, e.LEASEHOLD_LEASE_ID, e.ETCD_LOCK_KEY ?? "-"].join(" ")); setTimeout(() => process.exit(4), 300);',
  ]);
  await until(() => c.out().includes("\n"), "the child's line");
  const [token, leaseId, lockKey] = c.out().trim().split(" ");
  const { stat } = await zk.getData(`${prefix}/jobs^zk-env`);
  expect(token).toBe(String(stat.czxid));
  expect(BigInt(token as string)).toBeGreaterThan(0n);
  expect(await lease("jobs/zk-env", "reader").leader()).toMatchObject({ holder: "zk-a", leaseId });
  expect(lockKey).toBe("-");
  expect(await c.exited).toBe(4);
  expect(await lease("jobs/zk-env", "reader").leader()).toBeNull();
});

it("exits 75 naming the holder while another holder has the lease; --wait runs once it is released", async () => {
  const other = lease("jobs/zk-held", "zk-other");
  await other.claim();
  const once = cli(["run", "--name", "jobs/zk-held", "--", "sh", "-c", "echo ran"]);
  expect(await once.exited).toBe(75);
  expect(once.err()).toContain("jobs/zk-held is held by zk-other");
  const waiter = cli(["run", "--name", "jobs/zk-held", "--wait=10s", "--", "sh", "-c", "echo ran"]);
  await until(
    () => /waiting for jobs\/zk-held \(for up to [\d.]+s\): held by zk-other/.test(waiter.err()),
    "the waiter",
  );
  await until(
    () => waiter.err().includes("watching jobs/zk-held: following the zookeeper watch"),
    "its watch",
  );
  expect(waiter.out()).toBe("");
  await other.release();
  expect(await waiter.exited).toBe(0);
  expect(waiter.out()).toBe("ran\n");
});

it("stops the child and exits 70 when the term is lost (its REST session deleted at the gateway)", async () => {
  const c = cli([
    "run",
    "--name",
    "jobs/zk-lost",
    "--ttl",
    "3s",
    "--grace",
    "300ms",
    "--",
    process.execPath,
    "-e",
    'process.on("SIGTERM", () => { console.log("term"); process.exit(0); }); console.log("ready"); setInterval(() => {}, 1000);',
  ]);
  await until(() => c.out().includes("ready"), "the child");
  const { data } = await zk.getData(`${prefix}/jobs^zk-lost`);
  const { session } = JSON.parse(String(data)) as { session: string };
  expect((await fetch(`${url}/sessions/v1/${session}`, { method: "DELETE" })).status).toBe(204);
  const deletedAt = Date.now();
  expect(await c.exited).toBe(70);
  // The next heartbeat (every TTL/3) finds the session gone.
  expect(Date.now() - deletedAt).toBeLessThan(1000 + 300 + 1000);
  expect(c.out()).toBe("ready\nterm\n");
  expect(c.err()).toMatch(/term of jobs\/zk-lost lost: .*; the child exited with code 0/);
});

it("observe follows the gateway's watch, says so, and prints another process's claim and release", async () => {
  const observer = cli(["observe", "jobs/zk-observed", "--json", "--interval", "100ms"]);
  await until(() => observer.out().includes('"leader":null'), "the first reading");
  const holder = cli([
    "run",
    "--name",
    "jobs/zk-observed",
    "--holder",
    "zk-proc",
    "--",
    process.execPath,
    "-e",
    'process.on("SIGTERM", () => process.exit(0)); console.log(process.env.LEASEHOLD_TOKEN); setInterval(() => {}, 1000);',
  ]);
  await until(() => observer.out().includes('"holder":"zk-proc"'), "the claim");
  await until(() => holder.out().includes("\n"), "the holder's child");
  holder.process.kill("SIGTERM");
  expect(await holder.exited).toBe(0);
  await until(() => observer.out().split('"leader":null').length === 3, "the release");
  observer.process.kill("SIGINT");
  expect(await observer.exited).toBe(0);
  const lines = observer
    .out()
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(lines).toMatchObject([
    { event: "mode", mode: "watch", reason: "following the zookeeper watch" },
    { event: "leader", mode: "watch", leader: null },
    {
      event: "leader",
      mode: "watch",
      revision: holder.out().trim(),
      leader: { holder: "zk-proc", token: holder.out().trim(), parked: false },
    },
    { event: "leader", mode: "watch", leader: null },
  ]);
  expect(lines).toHaveLength(4);
  const revisions = lines.slice(1).map((line) => BigInt(line.revision as string));
  expect(revisions.every((r, i) => i === 0 || r > (revisions[i - 1] as bigint))).toBe(true);
});
