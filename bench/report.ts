/** Renders a run's figures as the markdown report printed and written to bench/results/latest.md. */
import type { BundleSize } from "../scripts/bundle-size.ts";
import type { ClientId } from "./clients/types.ts";
import type { BenchConfig } from "./config.ts";
import { FAILOVER_TTL_MS, type FailoverTrial } from "./failover.ts";
import { HANDOVER_TTL_MS, type HandoverFigures } from "./handover.ts";
import type { MachineInfo } from "./machine.ts";
import type { MemoryFigures } from "./memory.ts";
import { OPS, type OpId, op } from "./ops.ts";
import type { RoundTripRow, RoundTrips } from "./round-trips.ts";
import { kib, median, mib, type Percentiles, ratio, sig } from "./stats.ts";
import type { ThroughputCell } from "./throughput.ts";

export interface LatencyFigures extends Percentiles {
  /** This process's CPU time per timed call, in µs. */
  clientCpuMicros: number;
}

export interface BenchResults {
  config: BenchConfig;
  machine: MachineInfo;
  clients: readonly { id: ClientId; label: string }[];
  roundTrips: RoundTrips;
  latency: Map<OpId, Map<ClientId, LatencyFigures>>;
  /** Sequential latency through the delaying proxy. */
  network: Map<OpId, Map<ClientId, LatencyFigures>>;
  throughput: Map<OpId, Map<ClientId, Map<number, ThroughputCell>>>;
  failover: FailoverTrial[];
  handover: HandoverFigures;
  memory: MemoryFigures;
  bundles: BundleSize[];
  wallMs: number;
}

const LEASEHOLD: readonly ClientId[] = ["lh-undici", "lh-fetch"];

/**
 * The round-trip floor on etcd, from docs/design.md, with pipelining (a pipelined pair is one round trip). The
 * cycle is claim (free) + release.
 */
const FLOOR: Partial<Record<OpId, string>> = {
  "claim-free": "2",
  "claim-held": "1",
  "claim-busy": "1",
  "claim-resume": "2",
  park: "1",
  renew: "1",
  leader: "1",
  "do-if-leader": "1",
  release: "1",
  cycle: "3",
};

/** Losing claims: the design says they write nothing and leave nothing behind. */
const LOSING_CLAIMS: readonly OpId[] = ["claim-held", "claim-busy"];

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

const num = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
const plural = (n: number, word: string) => `${num(n)} ${word}${n === 1 ? "" : "s"}`;
const signed = (n: number) => (n > 0 ? `+${num(n)}` : num(n));

function machineSection(r: BenchResults): string {
  const m = r.machine;
  return [
    "## Machine",
    "",
    table(
      ["", ""],
      [
        ["CPU", `${m.cpu} × ${m.cores}`],
        ["memory", m.memory],
        ["OS", m.os],
        ["Node", m.node],
        ["etcd", `${m.etcd} (single member, WAL on local disk, loopback)`],
        ["load average (1/5/15 min)", `${m.loadBefore} before, ${m.loadAfter ?? "?"} after`],
        ["date", m.date],
        [
          "run",
          `${(r.wallMs / 1000).toFixed(0)} s${r.config.quick ? " (--quick: smoke sizes, not figures)" : ""}`,
        ],
      ],
    ),
  ].join("\n");
}

function latencyTable(r: BenchResults, figures: BenchResults["latency"]): string {
  const rows: string[][] = [];
  for (const spec of OPS) {
    const byClient = figures.get(spec.id);
    if (!byClient) continue;
    const raw = byClient.get("raw")?.p50;
    const etcd3 = byClient.get("etcd3")?.p50;
    for (const client of r.clients) {
      const p = byClient.get(client.id);
      if (!p) continue;
      const compared = LEASEHOLD.includes(client.id);
      rows.push([
        spec.label,
        client.label,
        sig(p.p50),
        sig(p.p90),
        sig(p.p99),
        compared ? ratio(p.p50, raw) : "",
        compared ? ratio(p.p50, etcd3) : "",
        sig(p.clientCpuMicros),
      ]);
    }
  }
  return table(
    ["operation", "client", "p50", "p90", "p99", "p50 / raw", "p50 / etcd3", "client CPU µs"],
    rows,
  );
}

function latencySection(r: BenchResults): string {
  const c = r.config;
  return [
    "## Sequential latency (ms)",
    "",
    `${c.timedOps} timed calls per operation and client after ${c.warmupOps} warm-up calls, one call at a time;`,
    `clients take turns in blocks of ${c.blockOps} calls. Ratios compare p50s (lower is better for leasehold).`,
    "Client CPU: this process's CPU time (user + system) per timed call.",
    "",
    latencyTable(r, r.latency),
  ].join("\n");
}

function networkSection(r: BenchResults): string {
  const c = r.config;
  return [
    `## Sequential latency over a slower link (ms): ${c.networkDelayMs} ms added each way`,
    "",
    `The same clients through a TCP proxy that holds every chunk ${c.networkDelayMs} ms in each direction, so each round trip`,
    `costs about ${2 * c.networkDelayMs} ms more than on loopback (renew, one round trip for every client, shows how much).`,
    `${c.networkTimedOps} timed calls per operation and client after ${c.networkWarmupOps} warm-up calls, in blocks of ${c.networkBlockOps}.`,
    "Client CPU includes the proxy's, which runs in the same process.",
    "",
    latencyTable(r, r.network),
  ].join("\n");
}

function throughputSection(r: BenchResults): string {
  const levels = r.config.concurrency;
  const top = levels[levels.length - 1] as number;
  const rows: string[][] = [];
  for (const [id, byClient] of r.throughput) {
    const raw = byClient.get("raw")?.get(top)?.opsPerSecond;
    const etcd3 = byClient.get("etcd3")?.get(top)?.opsPerSecond;
    for (const client of r.clients) {
      const cells = byClient.get(client.id);
      if (!cells) continue;
      const compared = LEASEHOLD.includes(client.id);
      const last = cells.get(top);
      rows.push([
        op(id).label,
        client.label,
        ...levels.map((c) => sig(cells.get(c)?.opsPerSecond ?? Number.NaN, 3)),
        compared ? ratio(last?.opsPerSecond, raw) : "",
        compared ? ratio(last?.opsPerSecond, etcd3) : "",
        last
          ? `${sig(last.clientCpuMicros)} + ${last.serverCpuMicros === null ? "?" : sig(last.serverCpuMicros)}`
          : "",
      ]);
    }
  }
  return [
    "## Throughput (operations per second)",
    "",
    `Each cell: ${r.config.cellMs / 1000} s of back-to-back calls by N workers of one client, each worker on its own`,
    `lease, in ${r.config.cellSlices} slices with the client order reversed every slice. The undici clients use`,
    `${r.config.connections} keep-alive connections; etcd3 multiplexes one HTTP/2 connection. Ratios compare the`,
    "highest concurrency (higher is better).",
    `CPU: µs of CPU time per call at c=${top}, client (this process) + etcd; both share the machine's cores.`,
    "",
    table(
      [
        "operation",
        "client",
        ...levels.map((c) => `c=${c}`),
        `c=${top} / raw`,
        `c=${top} / etcd3`,
        `CPU µs at c=${top}: client + etcd`,
      ],
      rows,
    ),
  ].join("\n");
}

function wireCell(row: RoundTripRow | undefined, connections: boolean): string {
  if (!row) return "";
  const base = `${num(row.requests)} req, ${num(row.roundTrips)} RT`;
  return connections && row.connections > 0 ? `${base}, ${num(row.connections)} new conn` : base;
}

function costCell(row: RoundTripRow | undefined): string {
  if (!row) return "";
  return `${plural(row.proposals, "proposal")}, ${signed(row.leases)} lease${Math.abs(row.leases) === 1 ? "" : "s"}`;
}

function roundTripSection(r: BenchResults): string {
  const wire: string[][] = [];
  const server: string[][] = [];
  const cost: string[][] = [];
  for (const [id, byClient] of r.roundTrips) {
    const label = op(id).label;
    cost.push([label, ...r.clients.map((c) => costCell(byClient.get(c.id)))]);
    wire.push([
      label,
      FLOOR[id] ?? "–",
      ...r.clients.map((c) =>
        c.id === "etcd3"
          ? byClient.has(c.id)
            ? plural(byClient.get(c.id)?.serverCalls ?? 0, "call")
            : ""
          : wireCell(byClient.get(c.id), true),
      ),
    ]);
    server.push([label, ...r.clients.map((c) => byClient.get(c.id)?.methods ?? "")]);
  }
  const labels = r.clients.map((c) => c.label);
  return [
    "## Round trips per operation",
    "",
    `Averaged over ${r.config.roundTripOps} calls after a warm-up. HTTP clients: requests written and round trips, from undici's`,
    "diagnostics channels (a request written while another awaits its answer is pipelined: same round trip), and",
    "new connections opened. etcd3: gRPC calls counted by etcd, each awaited before the next. The floor counts a",
    "pipelined pair (a free claim's grant + txn, a resume's txn + keepalive) as one round trip; the fetch transport",
    "cannot pipeline, so it pays one more for each.",
    "",
    table(["operation", "round-trip floor (docs/design.md)", ...labels], wire),
    "",
    "etcd calls per operation as counted by the server (`grpc_server_started_total`; the JSON gateway makes one",
    "gRPC call per HTTP request):",
    "",
    table(["operation", ...labels], server),
    "",
    "What each call costs the store, per call over the same calls: raft proposals etcd committed",
    "(`etcd_server_proposals_committed_total`) and the leases it holds after the call minus before",
    "(`/v3/lease/leases`; a won claim's own term counts +1, a release −1, a lease left behind would show too).",
    "The etcd3 client has no park/resume hand-off: its cells of those rows stay empty.",
    "",
    table(["operation", ...labels], cost),
  ].join("\n");
}

function failoverSection(r: BenchResults): string {
  const ms = r.failover.map((t) => t.failoverMs);
  const margins = r.failover.map((t) => t.marginAfterValidUntilMs);
  const s = (v: number) => `${(v / 1000).toFixed(2)} s`;
  return [
    "## Failover (leasehold, undici transport)",
    "",
    `The holder renews twice, then stops (no release); a contender polls \`claim()\` every 50 ms. Measured from the`,
    `holder's last renewal (send time) to the contender's successful claim, ${ms.length} trials on separate leases.`,
    "",
    table(
      ["TTL", "trials", "min", "median", "max", "max − TTL", "earliest takeover after holder's validUntil"],
      [
        [
          s(FAILOVER_TTL_MS),
          String(ms.length),
          s(Math.min(...ms)),
          s(median(ms)),
          s(Math.max(...ms)),
          s(Math.max(...ms) - FAILOVER_TTL_MS),
          `${Math.min(...margins)} ms`,
        ],
      ],
    ),
  ].join("\n");
}

/** The hand-over target of issue 12: the successor leads within 50 ms (p50) of the leader's release. */
const HANDOVER_TARGET_MS = 50;

function handoverSection(r: BenchResults): string {
  const h = r.handover;
  const ms = (v: number) => `${sig(v)} ms`;
  const row = (label: string, samples: readonly number[]) => [
    label,
    String(samples.length),
    ms(median(samples)),
    ms(Math.max(...samples)),
  ];
  const pair = (a: number | null, b: number | null, fmt: (v: number) => string) =>
    a === null || b === null ? "–" : `${fmt(a)} → ${fmt(b)}`;
  const { idle } = h;
  return [
    "## Hand-over and observe (leasehold elector on `etcdWithWatch`, undici transport)",
    "",
    "Queued electors (`startElector`). After release: from the leader's `stop({ release: true })` to the queued",
    `follower's \`onElected\`. After a crash: from the holder's claim (its last renewal; it never renews nor`,
    `releases) to the follower's \`onElected\`, minus the TTL (${HANDOVER_TTL_MS / 1000} s). Observe delivery: from`,
    "a release sent to the `observe()` event reporting the lease free.",
    "",
    table(
      ["row", "trials", "p50", "max"],
      [
        row("hand-over after release", h.afterReleaseMs),
        row("hand-over after a crash, beyond the TTL", h.afterCrashOverTtlMs),
        row("observe delivery", h.observeDeliveryMs),
      ],
    ),
    "",
    `etcd with ${idle.observers} idle \`observe()\` iterables open (each one watch stream), over ${idle.windowMs} ms:`,
    "",
    table(
      ["figure", "without → with"],
      [
        ["watchers (etcd_debugging_mvcc_watcher_total)", `${idle.watchers[0]} → ${idle.watchers[1]}`],
        [
          "watch streams (etcd_debugging_mvcc_watch_stream_total)",
          `${idle.watchStreams[0]} → ${idle.watchStreams[1]}`,
        ],
        ["etcd CPU over the window", pair(idle.cpuMs[0], idle.cpuMs[1], ms)],
        ["etcd RSS", pair(idle.rssBytes[0], idle.rssBytes[1], mib)],
      ],
    ),
  ].join("\n");
}

function memorySection(r: BenchResults): string {
  const m = r.memory;
  return [
    "## Memory (leasehold, undici transport, in a fresh Node process)",
    "",
    table(
      ["figure", "value"],
      [
        [
          `retained heap per idle lease handle (${m.idleHandles} fresh handles)`,
          `${Math.round(m.bytesPerIdleHandle)} B`,
        ],
        [`retained heap per held lease (${m.renewedLeases} claimed)`, `${Math.round(m.bytesPerHeldLease)} B`],
        [
          `heap retained by ${m.renewedLeases} leases after ${m.renewalRounds} renewal rounds`,
          mib(m.heapAfterRenewals),
        ],
        [
          "RSS of that process: at start → after the renewal rounds",
          `${mib(m.rssBefore)} → ${mib(m.rssAfterRenewals)}`,
        ],
        [`one round renewing all ${m.renewedLeases} leases (64 in flight)`, `${sig(m.msPerRound)} ms`],
        ["CPU (user + system) per renewal", `${sig(m.cpuMsPerRenewal * 1000)} µs`],
      ],
    ),
  ].join("\n");
}

function bundleSection(r: BenchResults): string {
  return [
    "## Bundle sizes (esbuild, minified, ESM, worker conditions; hono external)",
    "",
    table(
      ["bundle", "minified", "gzip"],
      r.bundles.map((b) => [b.name, kib(b.minifiedBytes), kib(b.gzipBytes)]),
    ),
  ].join("\n");
}

function targetsSection(r: BenchResults): string {
  const rows: string[][] = [];
  const verdict = (ok: boolean) => (ok ? "met" : "**missed**");

  const losing = LOSING_CLAIMS.flatMap((id) => {
    const row = r.roundTrips.get(id)?.get("lh-undici");
    return row ? [{ label: op(id).label, row }] : [];
  });
  if (losing.length > 0) {
    const costly = losing.filter((x) => x.row.proposals !== 0 || x.row.leases !== 0);
    rows.push([
      "a losing claim writes nothing and leaves no lease (leasehold undici)",
      losing.map((x) => `${x.label}: ${costCell(x.row)}`).join("; "),
      verdict(costly.length === 0),
    ]);
  }

  const ratios = OPS.flatMap((spec) => {
    const byClient = r.latency.get(spec.id);
    const lh = byClient?.get("lh-undici")?.p50;
    const raw = byClient?.get("raw")?.p50;
    return lh !== undefined && raw !== undefined ? [{ label: spec.label, ratio: lh / raw }] : [];
  });
  if (ratios.length > 0) {
    const worst = ratios.reduce((a, b) => (b.ratio > a.ratio ? b : a));
    const over = ratios.filter((x) => x.ratio > 1.1).map((x) => `${x.label} ${x.ratio.toFixed(2)}×`);
    rows.push([
      "leasehold (undici) p50 ≤ 1.10× raw floor, every operation",
      over.length > 0 ? `over: ${over.join(", ")}` : `worst: ${worst.label} ${worst.ratio.toFixed(2)}×`,
      verdict(over.length === 0),
    ]);
  }

  const issue = (["renew", "leader", "do-if-leader"] as const).flatMap((id) => {
    const byClient = r.latency.get(id);
    const lh = byClient?.get("lh-undici");
    const raw = byClient?.get("raw");
    const grpc = byClient?.get("etcd3");
    return lh && raw ? [{ label: op(id).label, ratio: lh.p50 / raw.p50, lh, grpc }] : [];
  });
  if (issue.length > 0) {
    rows.push([
      "leasehold (undici) p50 ≤ 1.05× raw floor (undici `Pool.request`, one connection, `JSON.parse`): renew, leader(), doIfLeader",
      issue.map((x) => `${x.label} ${x.ratio.toFixed(3)}×`).join(", "),
      verdict(issue.every((x) => x.ratio <= 1.05)),
    ]);
    rows.push([
      "leasehold (undici) client CPU per call below etcd3's: renew, leader(), doIfLeader",
      issue
        .map(
          (x) =>
            `${x.label} ${sig(x.lh.clientCpuMicros)} vs ${sig(x.grpc?.clientCpuMicros ?? Number.NaN)} µs`,
        )
        .join(", "),
      verdict(issue.every((x) => x.grpc !== undefined && x.lh.clientCpuMicros < x.grpc.clientCpuMicros)),
    ]);
  }

  for (const [figures, where] of [
    [r.latency, "loopback"],
    [r.network, `+${2 * r.config.networkDelayMs} ms per round trip`],
  ] as const) {
    const cycle = figures.get("cycle")?.get("lh-undici")?.p50;
    const election = figures.get("election-cycle")?.get("etcd3")?.p50;
    if (cycle === undefined || election === undefined) continue;
    rows.push([
      `claim+release cycle faster than etcd3's Election cycle (p50, ${where})`,
      `${sig(cycle)} ms vs ${sig(election)} ms`,
      verdict(cycle < election),
    ]);
  }

  const top = r.config.concurrency[r.config.concurrency.length - 1] as number;
  for (const [id, byClient] of r.throughput) {
    const lh = byClient.get("lh-undici")?.get(top)?.opsPerSecond;
    const etcd3 = byClient.get("etcd3")?.get(top)?.opsPerSecond;
    if (lh === undefined || etcd3 === undefined) continue;
    rows.push([
      `throughput at c=${top} ≥ etcd3's: ${op(id).label}`,
      `${sig(lh)} vs ${sig(etcd3)} ops/s`,
      verdict(lh >= etcd3),
    ]);
  }

  if (r.failover.length > 0) {
    const max = Math.max(...r.failover.map((t) => t.failoverMs));
    rows.push([
      `failover ≤ TTL + 0.6 s (${(FAILOVER_TTL_MS + 600) / 1000} s)`,
      `max ${(max / 1000).toFixed(2)} s`,
      verdict(max <= FAILOVER_TTL_MS + 600),
    ]);
  }
  if (r.handover.afterReleaseMs.length > 0) {
    const p50 = median(r.handover.afterReleaseMs);
    rows.push([
      `hand-over after release p50 ≤ ${HANDOVER_TARGET_MS} ms (queued elector, etcdWithWatch)`,
      `p50 ${sig(p50)} ms, max ${sig(Math.max(...r.handover.afterReleaseMs))} ms`,
      verdict(p50 <= HANDOVER_TARGET_MS),
    ]);
  }
  if (r.handover.afterCrashOverTtlMs.length > 0) {
    const max = Math.max(...r.handover.afterCrashOverTtlMs);
    rows.push([
      "hand-over after a crash ≤ TTL + etcd's expiry slack (0.5 s) + 0.1 s",
      `max TTL + ${sig(max)} ms`,
      verdict(max <= 600),
    ]);
  }
  rows.push([
    "≤ 2 KB retained heap per idle lease handle",
    `${Math.round(r.memory.bytesPerIdleHandle)} B`,
    verdict(r.memory.bytesPerIdleHandle <= 2048),
  ]);
  return ["## Targets (reported, not asserted)", "", table(["target", "measured", ""], rows)].join("\n");
}

export function renderReport(r: BenchResults): string {
  return [
    "# leasehold benchmarks",
    "",
    "`npm run bench`: leasehold against the raw HTTP floor (hand-written undici requests making the same",
    "exchanges) and against the etcd3 gRPC client, on one local etcd. How to read it: docs/benchmarks.md.",
    "",
    targetsSection(r),
    "",
    latencySection(r),
    "",
    networkSection(r),
    "",
    throughputSection(r),
    "",
    roundTripSection(r),
    "",
    failoverSection(r),
    "",
    handoverSection(r),
    "",
    memorySection(r),
    "",
    bundleSection(r),
    "",
    machineSection(r),
    "",
  ].join("\n");
}
