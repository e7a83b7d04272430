/**
 * Runs the torture scenarios at once for `seconds` of faults each: the workers (invokers with a duplicated
 * holder, electors, both transports) against the scenario's store, one fault at a time (through the fault
 * proxy, on the workers, on the store), then the store's history of each lease checked against the logs of
 * the workers that contended for it. A failing run's evidence (worker logs, faults, history dumps, verdicts)
 * stays under os.tmpdir().
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { check, type Verdict } from "./checker.ts";
import type { WorkerConfig, WorkerEvent } from "./events.ts";
import { LEASES, SCENARIOS, type Scenario, sleep, type TortureLease } from "./scenarios.ts";
import { type FaultRecord, survivals } from "./survival.ts";
import { WorkerPool } from "./workers.ts";

export const TTL_MS = 3000;

export interface ScenarioReport {
  name: string;
  /** Per lease (`main`, `steady`). */
  verdicts: Record<keyof typeof LEASES, Verdict>;
  faults: Record<string, number>;
  /** Per store or proxy fault kind: steady terms held when it began, and how many were still led after it. */
  survived: Record<string, { held: number; survived: number }>;
  /** Set when the scenario failed: where its evidence is. */
  evidence: string | null;
}

export interface TortureOptions {
  seconds: number;
  scenarios?: readonly string[];
  /** Keep the run directory even when every scenario passed. */
  keep?: boolean;
  /** Progress lines. */
  say?: (line: string) => void;
  /** Fewest terms and acknowledged writes of the main lease per scenario (liveness as counts, never times). */
  minTerms?: number;
  minWrites?: number;
}

function workerConfigs(s: Scenario, dir: string): WorkerConfig[] {
  const worker = (
    id: string,
    role: WorkerConfig["role"],
    transport: WorkerConfig["transport"],
    holder: string,
    lease: TortureLease = LEASES.main,
  ): WorkerConfig => ({
    id,
    role,
    store: s.store,
    endpoints: s.endpoints,
    transport,
    holder,
    name: lease.name,
    ttlMs: TTL_MS,
    writePrefix: lease.writePrefix,
    periodMs: 500,
    log: join(dir, `${id}.jsonl`),
    ...(lease === LEASES.steady ? { steady: true } : {}),
  });
  return [
    // Two invokers of one holder on one schedule: every tick is a duplicated delivery.
    worker("cron-a1", "invoker", "fetch", "cron-a"),
    worker("cron-a2", "invoker", "undici", "cron-a"),
    worker("cron-b1", "invoker", "undici", "cron-b"),
    worker("svc-1", "elector", "fetch", "svc-1"),
    worker("svc-2", "elector", "undici", "svc-2"),
    worker("steady-1", "elector", "undici", "steady-1", LEASES.steady),
  ];
}

const between = (lo: number, hi: number) => Math.round(lo + Math.random() * (hi - lo));
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

/** The JSON lines of `file`. A last line cut short (a write interrupted by SIGKILL) is left out. */
function readLines<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, "utf8").split("\n");
  return lines.flatMap((line, i) => {
    if (line.trim() === "") return [];
    try {
      return [JSON.parse(line) as T];
    } catch (error) {
      if (i >= lines.length - 2) return [];
      throw new Error(`${file}:${i + 1} is not JSON`, { cause: error });
    }
  });
}

/** The runner's own faults: on the workers. The targets are mostly workers leading right now. */
function workerFaults(pool: WorkerPool): Record<string, () => Promise<string>> {
  const target = () => {
    const leading = pool.leading();
    return leading.length > 0 && Math.random() < 0.8 ? pick(leading) : pick(pool.ids);
  };
  return {
    "kill9-worker": async () => {
      const id = target();
      const downMs = between(200, 1000);
      await pool.kill9(id, downMs);
      return `${id}, restarted after ${downMs} ms`;
    },
    "sigstop-worker": async () => {
      const id = target();
      const ms = TTL_MS + between(500, 2000);
      await pool.pause(id, ms);
      return `${id} for ${ms} ms (TTL ${TTL_MS} ms)`;
    },
  };
}

async function runScenario(name: string, root: string, options: TortureOptions): Promise<ScenarioReport> {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const make = SCENARIOS[name];
  if (!make) throw new RangeError(`no scenario ${name}; known: ${Object.keys(SCENARIOS).join(", ")}`);
  const scenario = await make();
  const configs = workerConfigs(scenario, dir);
  const pool = new WorkerPool(configs);
  const faults: Record<string, number> = {};
  const faultLog = join(dir, "faults.jsonl");
  const all = { ...scenario.faults, ...workerFaults(pool) };
  const verdicts = {} as Record<keyof typeof LEASES, Verdict>;
  try {
    try {
      pool.startAll();
      const endAt = Date.now() + options.seconds * 1000;
      await sleep(1000);
      while (Date.now() < endAt) {
        const kind = pick(Object.keys(all));
        const at = Date.now();
        const detail = await (all[kind] as () => Promise<string>)();
        faults[kind] = (faults[kind] ?? 0) + 1;
        appendFileSync(faultLog, `${JSON.stringify({ t: at, until: Date.now(), kind, detail })}\n`);
        await sleep(between(300, 1500));
      }
      await scenario.heal();
      // A moment without faults, so that the last terms and writes go through.
      await sleep(2000);
    } finally {
      await pool.close();
    }
    for (const [key, lease] of Object.entries(LEASES) as [keyof typeof LEASES, TortureLease][]) {
      const events = configs
        .filter((c) => c.name === lease.name)
        .flatMap((c) => readLines<WorkerEvent>(c.log));
      const history = await scenario.history(lease);
      writeFileSync(join(dir, `history-${key}.txt`), history.dump);
      verdicts[key] = check(events, history);
      const exact = (_: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v);
      writeFileSync(
        join(dir, `terms-${key}.json`),
        JSON.stringify({ store: history.terms, windows: verdicts[key].windows }, exact, 1),
      );
    }
  } finally {
    await scenario.teardown();
  }
  const { main, steady } = verdicts;
  for (const crash of pool.crashes) main.violations.push(`worker crash: ${crash}`);
  const minTerms = options.minTerms ?? 2;
  const minWrites = options.minWrites ?? 3;
  if (main.terms < minTerms) main.violations.push(`liveness: ${main.terms} terms, fewer than ${minTerms}`);
  if (main.writesAcked < minWrites) {
    main.violations.push(`liveness: ${main.writesAcked} acknowledged writes, fewer than ${minWrites}`);
  }
  if (steady.terms < 1) steady.violations.push("liveness: the steady lease never had a term");
  const steadyEvents = readLines<WorkerEvent>(join(dir, "steady-1.jsonl"));
  const faultRecords = readLines<FaultRecord>(faultLog);
  const survived = survivals(steadyEvents, steady.windows, faultRecords, Object.keys(scenario.faults));
  const figures = Object.fromEntries(
    Object.entries(verdicts).map(([k, { windows, ...v }]) => [k, { ...v, windows: windows.length }]),
  );
  writeFileSync(join(dir, "verdict.json"), JSON.stringify({ figures, faults, survived }, null, 1));
  options.say?.(`${name}: ${main.violations.length + steady.violations.length} violations`);
  const failed = main.violations.length + steady.violations.length > 0;
  return { name, verdicts, faults, survived, evidence: failed ? dir : null };
}

export interface TortureReport {
  ok: boolean;
  scenarios: ScenarioReport[];
  /** The run directory, when kept (a failure, or `keep`). */
  dir: string | null;
}

export async function runTorture(options: TortureOptions): Promise<TortureReport> {
  const root = mkdtempSync(join(tmpdir(), "leasehold-torture-"));
  const names = options.scenarios ?? Object.keys(SCENARIOS);
  let scenarios: ScenarioReport[];
  try {
    scenarios = await Promise.all(names.map((name) => runScenario(name, root, options)));
  } catch (error) {
    throw new Error(`torture run failed; evidence under ${root}`, { cause: error });
  }
  const ok = scenarios.every((s) => s.evidence === null);
  if (ok && !options.keep) rmSync(root, { recursive: true, force: true });
  return { ok, scenarios, dir: ok && !options.keep ? null : root };
}
