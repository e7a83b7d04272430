/**
 * `npm run demo`: the main job on a real etcd. Three regions fire a cron invocation every second, each in a new
 * process with the region's fixed holder name; whoever holds the lease appends to a journal with a guarded
 * transaction and ends its run with `park()`, so the region's next invocation resumes the same term. Early on,
 * one delivery of the leading region arrives twice at once: exactly one of the two processes leads. Midway the
 * leader's process is killed while it works, and the timeline shows the failover. Later the next leader's
 * process is frozen mid-work (as a GC pause or a suspended isolate would) until another region has taken over;
 * when it wakes, the store refuses its guarded write. At the end the demo re-reads etcd's history to verify
 * that no two terms overlapped and that every journal entry was committed while its term led and was held by
 * the writing invocation; it exits non-zero when that fails.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { startEtcd } from "../lib/etcd-server.ts";
import { type ClaimEvent, type DemoEvent, LEASE_NAME, TTL_MS } from "./events.ts";
import { readHistory } from "./history.ts";
import { termsFrom } from "./terms.ts";
import { verify } from "./verify.ts";

const REGIONS = ["region-eu", "region-us", "region-ap"] as const;
const TICK_MS = 1000;
const LEADER_WORK_MS = 400;
const DUPLICATE_AFTER_MS = 2500;
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

interface Disrupted {
  region: string;
  token: string;
  delivery: string;
  pid: number;
}

const claims: ClaimEvent[] = [];
const running = new Map<number, { region: string; child: ChildProcess }>();
const ticks = new Map<string, number>();
const down = new Set<string>();
let duplicated: string | null = null;
/** The leaders killed and frozen (set from event handlers, hence an object rather than narrowed variables). */
const disrupted: { killed: Disrupted | null; frozen: Disrupted | null } = { killed: null, frozen: null };
let lateWriteRefused = false;
const failovers: { from: string; to: string; ms: number }[] = [];
let current: { token: string; region: string } | null = null;

function onEvent(event: DemoEvent): void {
  const dup =
    event.delivery === duplicated ? `  <- duplicated delivery ${event.delivery}, pid ${event.pid}` : "";
  if (event.type === "error") {
    say(event.at, event.region, `error ${event.code}: ${event.message}${dup}`);
    return;
  }
  if (event.type === "journal") {
    if (event.applied) {
      say(
        event.at,
        event.region,
        `journal   + ${event.key} under term ${event.token}, hold ${event.hold}${dup}`,
      );
    } else {
      say(event.at, event.region, `journal   REFUSED by etcd (${event.reason}): term ${event.token} is over`);
    }
    if (!event.applied && event.pid === disrupted.frozen?.pid) lateWriteRefused = true;
    return;
  }
  claims.push(event);
  if (!event.isLeader) {
    const text = event.busy
      ? `busy      its own term ${event.token} is held by another invocation of ${event.holder}`
      : `follower  leader is ${event.holder ?? "nobody"} (term ${event.token ?? "-"})`;
    say(event.returnedAt, event.region, text + dup);
    return;
  }
  const validFor = ((event.validUntil ?? 0) - event.returnedAt) / 1000;
  let note = "";
  const resumed = event.token === current?.token;
  if (!resumed) {
    note = "  <- first term";
    const previous = claims.filter((c) => c.isLeader && c.token === current?.token);
    if (current && previous.length > 0) {
      const ms = event.returnedAt - Math.max(...previous.map((c) => c.sentAt));
      failovers.push({ from: current.region, to: event.region, ms });
      note = `  <- FAILOVER ${(ms / 1000).toFixed(2)} s after ${current.region}'s last renewal (TTL ${TTL_MS / 1000} s)`;
    }
    current = { token: event.token ?? "", region: event.region };
  }
  say(
    event.returnedAt,
    event.region,
    `LEADER    term ${event.token} ${resumed ? "resumed" : "new"}, hold ${event.hold}, valid for ${validFor.toFixed(2)} s${note}${dup}`,
  );
  const since = event.returnedAt - t0;
  if (!disrupted.killed && since >= KILL_AFTER_MS) disrupted.killed = disrupt(event, "SIGKILL");
  else if (disrupted.killed && !disrupted.frozen && since >= FREEZE_AFTER_MS) {
    disrupted.frozen = disrupt(event, "SIGSTOP");
  }
}

/** Kills or freezes the process that just reported leadership, mid-work; its region fires no more meanwhile. */
function disrupt(event: ClaimEvent, signal: "SIGKILL" | "SIGSTOP"): Disrupted | null {
  const child = running.get(event.pid)?.child;
  if (!child) return null;
  down.add(event.region);
  child.kill(signal);
  const term = `term ${event.token}, hold ${event.hold}`;
  if (signal === "SIGKILL") {
    say(Date.now(), event.region, `KILLED    mid-work while leading ${term}; region down`);
  } else {
    say(Date.now(), event.region, `FROZEN    mid-work while leading ${term}, for ${FROZEN_FOR_MS / 1000} s`);
    timers.push(
      setTimeout(() => {
        child.kill("SIGCONT");
        down.delete(event.region);
        say(Date.now(), event.region, "THAWED    wakes up and tries its journal write");
      }, FROZEN_FOR_MS),
    );
  }
  return { region: event.region, token: event.token ?? "", delivery: event.delivery, pid: event.pid };
}

function spawnInvocation(region: string, delivery: string): number {
  const child = spawn(
    process.execPath,
    [invocation, etcd.endpoint, region, String(LEADER_WORK_MS), delivery],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const pid = child.pid ?? -1;
  running.set(pid, { region, child });
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
  child.once("exit", () => running.delete(pid));
  return pid;
}

/**
 * One cron tick of `region`: skipped while the region is down or its previous run is still going. Once, the
 * leading region's tick is delivered twice at once, as an at-least-once scheduler may do.
 */
function fire(region: string): void {
  if (down.has(region) || [...running.values()].some((r) => r.region === region)) return;
  const tick = (ticks.get(region) ?? 0) + 1;
  ticks.set(region, tick);
  const delivery = `${region}#${tick}`;
  if (duplicated === null && region === current?.region && Date.now() - t0 >= DUPLICATE_AFTER_MS) {
    duplicated = delivery;
    const pids = [spawnInvocation(region, delivery), spawnInvocation(region, delivery)];
    say(
      Date.now(),
      region,
      `DUPLICATE delivery ${delivery} delivered twice at once (pids ${pids.join(", ")})`,
    );
    return;
  }
  spawnInvocation(region, delivery);
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
    const { killed } = disrupted;
    if (!killed) return;
    down.delete(killed.region);
    say(Date.now(), killed.region, "REVIVED   region back; its next invocation finds the current leader");
  }, REVIVE_AFTER_MS),
);

let exitCode = 1;
try {
  await new Promise((resolve) => setTimeout(resolve, RUN_FOR_MS));
  for (const t of timers) clearTimeout(t);
  await Promise.all([...running.values()].map(({ child }) => new Promise((r) => child.once("exit", r))));

  console.log("\nTerms (from the invocations' own reports):");
  for (const term of termsFrom(claims)) {
    console.log(
      `  term ${String(term.token).padEnd(4)} ${term.holder.padEnd(9)} led ${at(term.from)} .. ${at(term.until)}, ${term.invocations} invocations`,
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
  for (const c of claims.filter((e) => e.delivery === duplicated)) {
    const outcome = c.isLeader ? `led term ${c.token} (hold ${c.hold})` : `busy: ${c.busy}, not leader`;
    console.log(`Duplicated delivery ${duplicated}: pid ${c.pid} ${outcome}`);
  }

  console.log("\nVerification (re-read from etcd's history):");
  const history = await readHistory(etcd.endpoint);
  const { killed, frozen } = disrupted;
  const verdict = verify(history, {
    claims,
    disruptions: (killed ? 1 : 0) + (frozen ? 1 : 0),
    duplicated,
    frozen: frozen?.delivery ?? null,
  });
  for (const line of verdict.lines) console.log(`  ${line}`);
  const killedOk = killed !== null && failovers.some((f) => f.from === killed.region);
  console.log(`  ${killedOk ? "PASS" : "FAIL"}  the leader was killed and another region took over`);
  console.log(`  ${lateWriteRefused ? "PASS" : "FAIL"}  the frozen leader's late write was refused by etcd`);
  exitCode = verdict.ok && killedOk && lateWriteRefused ? 0 : 1;
  console.log(exitCode === 0 ? "\nDemo verified." : "\nDemo verification FAILED.");
} finally {
  await etcd.stop();
}
process.exit(exitCode);
