import { expect, it } from "vitest";
import { etcdctl } from "../../scripts/lib/etcdctl.ts";

import {
  cli,
  cliRun,
  endpoint,
  lease,
  nodeChild,
  prefix,
  running,
  STUBBORN,
  waitUntilGone,
} from "./cli-harness.ts";

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
    [
      64,
      'leasehold: --endpoints: "ftp://127.0.0.1:1" is not an etcd client URL: an http(s) origin like "http://127.0.0.1:2379"',
    ],
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
