/**
 * The `leasehold` bin on a real etcd, spawned as users run it (the pinned Node running adapters/cli/main.ts):
 * try-once 75 naming the holder, --wait then run (and giving up), the term in the child's environment (checked
 * against etcd with etcdctl), exit codes passed through, signals forwarded, --keep / resume / release, at most
 * one child for concurrent runs of one holder, the child stopped within the grace period when the term expires
 * under a frozen CLI, no orphan after kill -9 of the CLI, errors naming the flag or variable, leader, observe on
 * etcd's watch (its fall back to polling, over TLS), and --wait woken by the watch when the holder releases or
 * (same holder) parks.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { expect, inject, it } from "vitest";
import { etcd } from "../../adapters/etcd/index.ts";
import { startEtcd } from "../../scripts/lib/etcd-server.ts";
import { etcdctl } from "../../scripts/lib/etcdctl.ts";
import { startFaultProxy } from "../../scripts/lib/fault-proxy.ts";
import { makeTestPki } from "../../scripts/lib/tls.ts";
import { createLease } from "../../src/index.ts";

const MAIN = fileURLToPath(new URL("../../adapters/cli/main.ts", import.meta.url));
const NODE = process.execPath;
const endpoint = inject("etcdEndpoint");
const prefix = `cli-${Date.now()}-${Math.floor(Math.random() * 1e9)}/`;
const backend = etcd({ endpoints: [endpoint], prefix });
const lease = (name: string, holder: string) => createLease({ backend, name, holder, ttlMs: 2000 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A child program: `node -e <code>`. */
const nodeChild = (code: string) => ["--", NODE, "-e", code];
/** Prints "ready <pid>", then keeps running; SIGTERM only prints "term" (so only SIGKILL ends it). */
const STUBBORN = `process.on("SIGTERM", () => console.log("term")); console.log("ready " + process.pid); setInterval(() => {}, 1000);`;

interface Cli {
  process: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout (or stderr) matches `pattern`; rejects after `timeoutMs` or when the CLI exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number, from?: "stdout" | "stderr"): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Cli {
  const started = Date.now();
  const child = spawn(NODE, [MAIN, ...args], {
    env: { ...process.env, LEASEHOLD_ETCD_ENDPOINTS: endpoint, LEASEHOLD_ETCD_PREFIX: prefix, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, ms: Date.now() - started })),
  );
  const waitFor = async (pattern: RegExp, timeoutMs = 5000, from: "stdout" | "stderr" = "stdout") => {
    const until = Date.now() + timeoutMs;
    let done = false;
    void exited.then(() => {
      done = true;
    });
    for (;;) {
      const match = pattern.exec(from === "stdout" ? out : err);
      if (match) return match;
      if (done || Date.now() > until) throw new Error(`no ${pattern} in stdout ${out} / stderr ${err}`);
      await sleep(20);
    }
  };
  return { process: child, stdout: () => out, stderr: () => err, waitFor, exited };
}

/** Runs the CLI to completion. */
async function cliRun(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const c = cli(args, env);
  const end = await c.exited;
  return { ...end, stdout: c.stdout(), stderr: c.stderr() };
}

/** True while process `pid` runs (a zombie does not count: some container inits reap late). Linux /proc. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
  } catch {
    return false;
  }
}

async function waitUntilGone(pid: number, timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (running(pid)) {
    if (Date.now() > until) throw new Error(`process ${pid} still runs after ${timeoutMs} ms`);
    await sleep(20);
  }
  return Date.now();
}

it("runs the child with the term in its environment (ETCD_LOCK_KEY as etcdctl sees it), then releases", async () => {
  const c = cli([
    "run",
    "--name",
    "jobs/env",
    "--holder",
    "cron-eu",
    "--json",
    ...nodeChild(
      `const e = process.env; console.log(JSON.stringify(Object.fromEntries(Object.entries(e).filter(([k]) => /^(LEASEHOLD_(NAME|HOLDER|TOKEN|LEASE_ID|LEASE_ID_HEX|VALID_UNTIL_MS|TTL_MS)|ETCD_LOCK_.*)$/.test(k))))); setTimeout(() => {}, 600);`,
    ),
  ]);
  const env = JSON.parse((await c.waitFor(/^\{.*\}$/m))[0]) as Record<string, string>;
  const token = BigInt(env.LEASEHOLD_TOKEN as string);
  expect(env).toMatchObject({
    LEASEHOLD_NAME: "jobs/env",
    LEASEHOLD_HOLDER: "cron-eu",
    LEASEHOLD_TTL_MS: "15000",
  });
  expect(env.LEASEHOLD_LEASE_ID_HEX).toBe(BigInt(env.LEASEHOLD_LEASE_ID as string).toString(16));
  expect(env.ETCD_LOCK_KEY).toBe(`${prefix}jobs/env/${env.LEASEHOLD_LEASE_ID_HEX}`);
  expect(env.ETCD_LOCK_REV).toBe(token.toString());
  expect(Number(env.LEASEHOLD_VALID_UNTIL_MS)).toBeGreaterThan(Date.now());
  expect(await lease("jobs/env", "reader").leader()).toMatchObject({
    holder: "cron-eu",
    token,
    parked: false,
  });
  // etcdctl prints 64-bit numbers as JSON numbers: read them as text, not through JSON.parse.
  const json = await etcdctl(endpoint, ["get", env.ETCD_LOCK_KEY as string, "-w", "json"]);
  expect(/"create_revision":(\d+)/.exec(json)?.[1]).toBe(token.toString());
  expect(BigInt(/"lease":(\d+)/.exec(json)?.[1] ?? "0").toString(16)).toBe(env.LEASEHOLD_LEASE_ID_HEX);

  expect((await c.exited).code).toBe(0);
  const events = c
    .stderr()
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { event: string; token?: string });
  expect(events.map((e) => e.event)).toEqual(["claimed", "child-exited", "released"]);
  expect(events[0]?.token).toBe(token.toString());
  expect(await lease("jobs/env", "reader").leader()).toBeNull();
});

it("tries once: exits 75 at once naming the holder when another holder has the lease; the child never runs", async () => {
  const other = lease("jobs/held", "billing-us");
  const state = await other.claim();
  const r = await cliRun(["run", "--name", "jobs/held", "--", "sh", "-c", "echo ran"]);
  expect(r.code).toBe(75);
  expect(r.stdout).toBe("");
  expect(r.stderr).toBe(`leasehold: jobs/held is held by billing-us (token ${state.token})\n`);
  await other.release();
});

it("--wait waits for the lease, then runs the child; --wait=DURATION gives up with 75", async () => {
  const other = lease("jobs/wait", "other");
  await other.claim();
  const gaveUp = await cliRun(["run", "--name", "jobs/wait", "--wait=700ms", "--", "sh", "-c", "echo ran"]);
  expect(gaveUp.code).toBe(75);
  expect(gaveUp.ms).toBeGreaterThanOrEqual(700);
  expect(gaveUp.stdout).toBe("");
  expect(gaveUp.stderr).toContain("gave up waiting: jobs/wait is held by other");

  const waiter = cli(["run", "--name", "jobs/wait", "--wait", "--", "sh", "-c", "echo ran"]);
  const interrupted = cli(["run", "--name", "jobs/wait", "--wait", "--", "sh", "-c", "echo ran"]);
  await waiter.waitFor(/waiting for jobs\/wait: held by other/, 5000, "stderr");
  await interrupted.waitFor(/waiting for jobs\/wait: held by other/, 5000, "stderr");
  expect(waiter.stdout()).toBe("");
  interrupted.process.kill("SIGINT");
  expect((await interrupted.exited).code).toBe(130);
  expect(interrupted.stdout()).toBe("");
  await other.release();
  const end = await waiter.exited;
  expect(end.code).toBe(0);
  expect(waiter.stdout()).toBe("ran\n");
});

it("exits with the child's code: its own, 128 + N for signal N, 127 for a missing command", async () => {
  const [seven, signalled, missing] = await Promise.all([
    cliRun(["run", "--name", "jobs/code-7", "--", "sh", "-c", "exit 7"]),
    cliRun(["run", "--name", "jobs/code-term", "--", "sh", "-c", "kill -TERM $$"]),
    cliRun(["run", "--name", "jobs/code-missing", "--", "leasehold-no-such-command"]),
  ]);
  expect([seven.code, signalled.code, missing.code]).toEqual([7, 143, 127]);
  expect(missing.stderr).toContain("could not start");
  expect(await lease("jobs/code-7", "reader").leader()).toBeNull();
});

it("ends what the child left running in its process group before the term is released", async () => {
  const r = await cliRun(["run", "--name", "jobs/leftover", "--", "sh", "-c", "sleep 30 & echo $!"]);
  expect(r.code).toBe(0);
  expect(running(Number(r.stdout.trim()))).toBe(false);
  expect(r.stderr).toContain(
    "the child exited with code 0; what it left running in its group was terminated",
  );
});

it("forwards SIGTERM, SIGINT and SIGHUP to the child and exits with its code", async () => {
  const signals = ["SIGTERM", "SIGINT", "SIGHUP"] as const;
  const runs = signals.map((signal) =>
    cli([
      "run",
      "--name",
      `jobs/signal-${signal}`,
      ...nodeChild(
        `process.on("${signal}", () => { console.log("got ${signal}"); process.exit(20); }); console.log("ready"); setInterval(() => {}, 1000);`,
      ),
    ]),
  );
  await Promise.all(runs.map((r) => r.waitFor(/ready/)));
  runs.forEach((r, i) => {
    r.process.kill(signals[i]);
  });
  const ends = await Promise.all(runs.map((r) => r.exited));
  expect(ends.map((e) => e.code)).toEqual([20, 20, 20]);
  runs.forEach((r, i) => {
    expect(r.stdout()).toBe(`ready\ngot ${signals[i]}\n`);
    expect(r.stderr()).toContain(`forwarding ${signals[i]} to the child`);
  });
});

it("--keep parks the term: the holder's next run resumes it (same token), others are refused; release ends it", async () => {
  const args = ["run", "--name", "jobs/keep", "--holder", "sync-eu", "--keep"];
  const first = await cliRun([...args, "--", "sh", "-c", 'echo "$LEASEHOLD_TOKEN"']);
  expect(first.code).toBe(0);
  const token = first.stdout.trim();
  expect(first.stderr).toContain("parked jobs/keep");

  const shown = await cliRun(["leader", "jobs/keep", "--json"]);
  const { leader } = JSON.parse(shown.stdout);
  expect(leader).toMatchObject({ holder: "sync-eu", token, ttlMs: 15000, parked: true });
  // The time left, from etcd's own figure: an upper bound (whole seconds rounded down + 1 s + expiry slack).
  expect(leader.ttlLeftMs).toBeGreaterThan(10_000);
  expect(leader.ttlLeftMs).toBeLessThanOrEqual(16_500);
  expect((await cliRun(["leader", "jobs/keep"])).stdout).toMatch(
    new RegExp(
      `^jobs/keep: held by sync-eu \\(token ${token}, TTL 15s, at most \\d+(\\.\\d+)?s left, lease [0-9a-f]+, parked`,
    ),
  );
  expect((await cliRun(["run", "--name", "jobs/keep", "--", "true"])).code).toBe(75);

  const second = await cliRun([...args, "--", "sh", "-c", 'echo "$LEASEHOLD_TOKEN"']);
  expect(second.stdout.trim()).toBe(token);

  const released = await cliRun(["release", "jobs/keep", "--holder", "sync-eu"]);
  expect(released).toMatchObject({
    code: 0,
    stdout: `jobs/keep: released the parked term of sync-eu (token ${token})\n`,
  });
  expect(await lease("jobs/keep", "reader").leader()).toBeNull();
});

it("runs at most one child for concurrent runs with one --holder: the others exit 75 (busy)", async () => {
  const child = ["--", "sh", "-c", "echo ran; sleep 1"];
  const runs = await Promise.all(
    [1, 2, 3, 4].map(() => cliRun(["run", "--name", "jobs/once", "--holder", "cron", ...child])),
  );
  expect(runs.map((r) => r.code).sort()).toEqual([0, 75, 75, 75]);
  expect(runs.map((r) => r.stdout).join("")).toBe("ran\n");
  for (const r of runs.filter((r) => r.code === 75)) {
    expect(r.stderr).toContain("busy: another invocation of this holder holds it");
  }
});

it("stops the child's process group when the term is lost (its lease revoked by etcdctl) and exits 70", async () => {
  const c = cli([
    "run",
    "--name",
    "jobs/revoked",
    "--ttl",
    "3s",
    "--grace",
    "300ms",
    ...nodeChild(`${STUBBORN} console.log("hex " + process.env.LEASEHOLD_LEASE_ID_HEX);`),
  ]);
  const pid = Number((await c.waitFor(/ready (\d+)/))[1]);
  const hex = (await c.waitFor(/hex ([0-9a-f]+)/))[1] as string;
  await etcdctl(endpoint, ["lease", "revoke", hex]);
  const revokedAt = Date.now();
  await c.waitFor(/term/, 2500);
  const goneAt = await waitUntilGone(pid, 2000);
  // The next renewal (every TTL/3) finds the lease gone; SIGKILL follows the grace period.
  expect(goneAt - revokedAt).toBeLessThan(1000 + 300 + 700);
  const end = await c.exited;
  expect(end.code).toBe(70);
  expect(c.stderr()).toMatch(/term of jobs\/revoked lost: .*; the child was ended by SIGKILL/);
});

it("stops the child within the grace period once validUntil passes while the CLI is frozen (SIGSTOP past the TTL)", async () => {
  const c = cli(["run", "--name", "jobs/frozen", "--ttl", "2s", "--grace", "500ms", ...nodeChild(STUBBORN)]);
  const pid = Number((await c.waitFor(/ready (\d+)/))[1]);
  c.process.kill("SIGSTOP");
  const frozenAt = Date.now();
  await c.waitFor(/term/, 3000);
  const termAt = Date.now();
  const goneAt = await waitUntilGone(pid, 2000);
  // The last renewal was at most TTL/3 before the freeze; validUntil is at most a TTL after it.
  expect(termAt - frozenAt).toBeLessThan(2000 + 700);
  expect(goneAt - termAt).toBeGreaterThanOrEqual(400);
  expect(goneAt - termAt).toBeLessThan(500 + 700);
  expect([c.process.exitCode, c.process.signalCode]).toEqual([null, null]);
  c.process.kill("SIGCONT");
  const end = await c.exited;
  expect(end.code).toBe(70);
  expect(c.stderr()).toMatch(/term of jobs\/frozen expired/);
});

it("leaves no orphan when the CLI is killed with SIGKILL: the child gets SIGTERM at once, SIGKILL after the grace", async () => {
  const c = cli(["run", "--name", "jobs/killed", "--grace", "500ms", ...nodeChild(STUBBORN)]);
  const pid = Number((await c.waitFor(/ready (\d+)/))[1]);
  c.process.kill("SIGKILL");
  const killedAt = Date.now();
  await c.waitFor(/term/, 1000).catch(() => {
    // The CLI has exited; the child writes to the same pipe, so its line still arrives.
  });
  expect(c.stdout()).toContain("term");
  const goneAt = await waitUntilGone(pid, 2000);
  expect(goneAt - killedAt).toBeGreaterThanOrEqual(400);
  expect(goneAt - killedAt).toBeLessThan(500 + 1000);
  // Nobody released the term: it stays until its lease expires.
  expect(await lease("jobs/killed", "reader").leader()).toMatchObject({ parked: false });
});

it("names the flag or variable in errors, with sysexits codes", async () => {
  const env = { LEASEHOLD_ETCD_ENDPOINTS: "", ETCDCTL_ENDPOINTS: "" };
  const results = await Promise.all([
    cliRun(["run", "--", "true"]),
    cliRun(["run", "--name", "jobs/e", "--ttl", "1s", "--", "true"]),
    cliRun(["run", "--name", "jobs/e", "--ttl", "soon", "--", "true"]),
    cliRun(["run", "--name", "jobs/e", "--keep", "--", "true"]),
    cliRun(["run", "--name", "jobs/e", "true"]),
    cliRun(["run", "--name", "jobs/e", "--endpoints", "ftp://127.0.0.1:1", "--", "true"]),
    cliRun(["run", "--name", "jobs/e", "--", "true"], env),
    cliRun(["run", "--name", "jobs/e", "--endpoints", "127.0.0.1:1", "--", "true"]),
    cliRun(["run", "--name", "jobs/e", "--wait", "15s", "--", "true"]),
    cliRun(["leader", "jobs/e", "--zookeeper", "http://127.0.0.1:1", "--endpoints", "127.0.0.1:1"]),
    cliRun(["frobnicate"]),
  ]);
  expect(results.map((r) => [r.code, r.stderr.split("\n")[0]])).toEqual([
    [64, "leasehold: --name: is required (the lease name, e.g. jobs/nightly)"],
    [64, "leasehold: --ttl: must be from 2000 to 9000000000000 ms on etcd"],
    [64, 'leasehold: --ttl: must be a duration like 500ms, 15s or 2m (got "soon")'],
    [64, "leasehold: --keep: needs --holder: only a run with the same holder resumes the parked term"],
    [64, 'leasehold: run: unexpected argument "true": put the command after --'],
    [64, expect.stringMatching(/^leasehold: --endpoints: must be an http\(s\) origin/)],
    [78, expect.stringMatching(/^leasehold: LEASEHOLD_ETCD_ENDPOINTS: must be set/)],
    [69, expect.stringMatching(/^leasehold: claim of jobs\/e: .*\(TRANSPORT\)$/)],
    [64, 'leasehold: --wait: takes its duration after "=", e.g. --wait=15s'],
    [64, "leasehold: --zookeeper: cannot be used with --endpoints"],
    [64, 'leasehold: unknown command "frobnicate"; run "leasehold --help"'],
  ]);
  const help = await cliRun(["run", "--help"]);
  expect(help.code).toBe(0);
  expect(help.stdout).toContain("Examples:");
});

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
