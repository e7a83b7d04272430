/**
 * `npm run demo`: the main job on a real etcd. Three "regions" fire a cron invocation every second, each in a
 * new process; whoever holds the lease appends to a journal with a guarded transaction. Midway the leader's
 * process is killed while it works, and the timeline shows the failover. Later the next leader's process is
 * frozen mid-work (as a GC pause or a suspended isolate would) until another region has taken over; when it
 * wakes, the store refuses its guarded write. At the end the demo re-reads etcd to
 * verify that no two terms overlapped and that every journal entry was committed under the term that held the
 * lease; it exits non-zero when that fails.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { startEtcd } from "../lib/etcd-server.ts";
import { type ClaimEvent, type DemoEvent, LEASE_NAME, TTL_MS } from "./events.ts";
import { termsFrom, verify } from "./verify.ts";

const REGIONS = ["eu-west", "us-east", "ap-south"] as const;
const TICK_MS = 1000;
const LEADER_WORK_MS = 400;
const KILL_AFTER_MS = 5000;
const REVIVE_AFTER_MS = 10_000;
const FREEZE_AFTER_MS = 12_000;
const FROZEN_FOR_MS = TTL_MS + 2500;
const RUN_FOR_MS = 21_000;

const invocation = fileURLToPath(new URL("./invocation.ts", import.meta.url));
const t0 = Date.now();
const at = (ms: number) => `+${((ms - t0) / 1000).toFixed(2)}s`.padStart(7);
const say = (ms: number, region: string, text: string) =>
  console.log(`${at(ms)}  ${region.padEnd(9)} ${text}`);

console.log(
  `leasehold demo: ${REGIONS.length} regions fire every ${TICK_MS} ms; lease "${LEASE_NAME}", TTL ${TTL_MS} ms`,
);
console.log(`machine: ${cpus()[0]?.model ?? "unknown cpu"} x${cpus().length}, node ${process.version}\n`);
const etcd = await startEtcd();
console.log(`etcd ${etcd.endpoint} (temp data dir, stopped at the end)\n`);

const claims: ClaimEvent[] = [];
const running = new Map<string, ChildProcess>();
const down = new Set<string>();
let killed: { region: string; token: string; at: number } | null = null;
const failovers: { from: string; to: string; ms: number }[] = [];
let frozen: { region: string; token: string } | null = null;
let lateWriteRefused = false;
let currentToken: string | null = null;

function onEvent(event: DemoEvent): void {
  if (event.type === "error") {
    say(event.at, event.region, `error ${event.code}: ${event.message}`);
    return;
  }
  if (event.type === "journal") {
    if (event.applied) say(event.at, event.region, `journal   + ${event.key} under term ${event.token}`);
    else
      say(event.at, event.region, `journal   REFUSED by etcd (${event.reason}): term ${event.token} is over`);
    if (!event.applied && frozen?.region === event.region && frozen.token === event.token)
      lateWriteRefused = true;
    return;
  }
  claims.push(event);
  if (!event.isLeader) {
    say(
      event.returnedAt,
      event.region,
      `follower  leader is ${event.holder ?? "nobody"} (term ${event.token ?? "-"})`,
    );
    return;
  }
  const validFor = ((event.validUntil ?? 0) - event.returnedAt) / 1000;
  let note = "";
  if (event.token !== currentToken) {
    note = "  <- first term";
    const previous = claims.filter((c) => c.isLeader && c.token === currentToken);
    if (previous.length > 0) {
      const from = previous[0]?.region ?? "";
      const ms = event.returnedAt - Math.max(...previous.map((c) => c.sentAt));
      failovers.push({ from, to: event.region, ms });
      note = `  <- FAILOVER ${(ms / 1000).toFixed(2)} s after ${from}'s last renewal (TTL ${TTL_MS / 1000} s)`;
    }
    currentToken = event.token;
  }
  say(
    event.returnedAt,
    event.region,
    `LEADER    term ${event.token}, valid for ${validFor.toFixed(2)} s${note}`,
  );
  if (!killed && event.returnedAt - t0 >= KILL_AFTER_MS) killLeader(event);
  else if (killed && !frozen && event.returnedAt - t0 >= FREEZE_AFTER_MS) freezeLeader(event);
}

function freezeLeader(event: ClaimEvent): void {
  const child = running.get(event.region);
  if (!child) return;
  frozen = { region: event.region, token: event.token ?? "" };
  down.add(event.region);
  child.kill("SIGSTOP");
  say(
    Date.now(),
    event.region,
    `FROZEN    mid-work while leading term ${event.token}, for ${FROZEN_FOR_MS / 1000} s`,
  );
  timers.push(
    setTimeout(() => {
      child.kill("SIGCONT");
      down.delete(event.region);
      say(Date.now(), event.region, "THAWED    wakes up and tries its journal write");
    }, FROZEN_FOR_MS),
  );
}

function killLeader(event: ClaimEvent): void {
  const child = running.get(event.region);
  if (!child) return;
  killed = { region: event.region, token: event.token ?? "", at: Date.now() };
  down.add(event.region);
  child.kill("SIGKILL");
  say(killed.at, event.region, `KILLED    mid-work while leading term ${event.token}; region down`);
}

function fire(region: string): void {
  if (down.has(region) || running.has(region)) return;
  const child = spawn(process.execPath, [invocation, etcd.endpoint, region, String(LEADER_WORK_MS)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  running.set(region, child);
  let buffer = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline = buffer.indexOf("\n");
    while (newline >= 0) {
      onEvent(JSON.parse(buffer.slice(0, newline)) as DemoEvent);
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf("\n");
    }
  });
  child.once("exit", () => running.delete(region));
}

const timers = REGIONS.map((region, i) =>
  setTimeout(
    () => {
      fire(region);
      timers.push(setInterval(() => fire(region), TICK_MS));
    },
    (i * TICK_MS) / REGIONS.length,
  ),
);
timers.push(
  setTimeout(() => {
    if (!killed) return;
    down.delete(killed.region);
    say(Date.now(), killed.region, "REVIVED   region back; its next invocation finds the current leader");
  }, REVIVE_AFTER_MS),
);

let exitCode = 1;
try {
  await new Promise((resolve) => setTimeout(resolve, RUN_FOR_MS));
  for (const t of timers) clearTimeout(t);
  await Promise.all([...running.values()].map((c) => new Promise((r) => c.once("exit", r))));

  console.log("\nTerms (from the invocations' own reports):");
  for (const term of termsFrom(claims)) {
    console.log(
      `  term ${String(term.token).padEnd(4)} ${term.holder.padEnd(9)} led ${at(term.from)} .. ${at(term.until)}`,
    );
  }
  for (const f of failovers) {
    console.log(
      `Failover ${f.from} -> ${f.to}: ${(f.ms / 1000).toFixed(2)} s from the last renewal to the next leader`,
    );
  }
  console.log(
    `  (TTL ${TTL_MS / 1000} s, + up to 0.5 s etcd expiry slack, + up to ${TICK_MS / 1000} s until the next cron tick)`,
  );
  console.log("\nVerification (re-read from etcd):");
  const verdict = await verify(etcd.endpoint, claims);
  for (const line of verdict.lines) console.log(`  ${line}`);
  const killedOk = killed !== null && failovers.some((f) => f.from === killed?.region);
  console.log(`  ${killedOk ? "PASS" : "FAIL"}  the leader was killed and another region took over`);
  console.log(`  ${lateWriteRefused ? "PASS" : "FAIL"}  the frozen leader's late write was refused by etcd`);
  exitCode = verdict.ok && killedOk && lateWriteRefused ? 0 : 1;
  console.log(exitCode === 0 ? "\nDemo verified." : "\nDemo verification FAILED.");
} finally {
  await etcd.stop();
}
process.exit(exitCode);
