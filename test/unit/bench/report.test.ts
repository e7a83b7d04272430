/**
 * The benchmark's arithmetic and report, on synthetic figures: the bench itself (`npm run bench`) is not part
 * of `npm test`, so this keeps its pure parts from rotting.
 */
import { describe, expect, it } from "vitest";
import type { ClientId } from "../../../bench/clients/types.ts";
import { QUICK } from "../../../bench/config.ts";
import { callsBetween } from "../../../bench/etcd-metrics.ts";
import type { OpId } from "../../../bench/ops.ts";
import { type BenchResults, type LatencyFigures, renderReport } from "../../../bench/report.ts";
import { percentile, percentiles, ratio, sig } from "../../../bench/stats.ts";

describe("bench stats", () => {
  it("takes nearest-rank percentiles", () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentiles(samples)).toEqual({ count: 100, p50: 50, p90: 90, p99: 99 });
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it("formats significant digits and ratios", () => {
    expect(sig(0.4567)).toBe("0.457");
    expect(sig(12.345)).toBe("12.3");
    expect(sig(4795.2)).toBe("4795");
    expect(ratio(1.1, 1)).toBe("1.10×");
    expect(ratio(1, undefined)).toBe("–");
  });

  it("diffs etcd's call counters by method", () => {
    const before = new Map([
      ["Range", 10],
      ["Txn", 4],
    ]);
    const after = new Map([
      ["Range", 10],
      ["Txn", 5],
      ["LeaseGrant", 1],
    ]);
    expect([...callsBetween(before, after)]).toEqual([
      ["Txn", 1],
      ["LeaseGrant", 1],
    ]);
  });
});

describe("bench report", () => {
  const cell = (opsPerSecond: number) => ({ opsPerSecond, clientCpuMicros: 100, serverCpuMicros: 200 });
  const latency = (p50: number) => ({ count: 2000, p50, p90: p50 * 2, p99: p50 * 3, clientCpuMicros: 150 });
  const results: BenchResults = {
    config: { ...QUICK, quick: false },
    machine: {
      cpu: "test CPU",
      cores: 2,
      memory: "1 GiB",
      os: "Linux",
      node: "v24",
      etcd: "3.4.23",
      loadBefore: "0 / 0 / 0",
      loadAfter: "0 / 0 / 0",
      date: "2026-01-01T00:00:00.000Z",
    },
    clients: [
      { id: "raw", label: "raw" },
      { id: "lh-undici", label: "lh" },
      { id: "etcd3", label: "etcd3" },
    ],
    roundTrips: new Map([
      [
        "claim-free",
        new Map([
          [
            "raw",
            {
              requests: 2,
              roundTrips: 2,
              connections: 0,
              serverCalls: 2,
              methods: "LeaseGrant + Txn",
              proposals: 2,
              leases: 1,
            },
          ],
          [
            "lh-undici",
            {
              requests: 2,
              roundTrips: 1,
              connections: 0,
              serverCalls: 2,
              methods: "LeaseGrant + Txn",
              proposals: 2,
              leases: 1,
            },
          ],
          [
            "etcd3",
            {
              requests: 0,
              roundTrips: 0,
              connections: 0,
              serverCalls: 2,
              methods: "LeaseGrant + Txn",
              proposals: 2,
              leases: 1,
            },
          ],
        ]),
      ],
    ]),
    latency: new Map([
      [
        "renew",
        new Map([
          ["raw", latency(0.5)],
          ["lh-undici", latency(0.6)],
          ["etcd3", latency(0.4)],
        ]),
      ],
      ["cycle", new Map([["lh-undici", latency(2)]])],
      ["election-cycle", new Map([["etcd3", latency(3)]])],
    ]),
    network: new Map<OpId, Map<ClientId, LatencyFigures>>([
      ["cycle", new Map([["lh-undici", latency(6)]])],
      ["election-cycle", new Map([["etcd3", latency(5)]])],
    ]),
    throughput: new Map([
      [
        "renew",
        new Map([
          ["raw", new Map([[64, cell(5000)]])],
          ["lh-undici", new Map([[64, cell(4000)]])],
          ["etcd3", new Map([[64, cell(6000)]])],
        ]),
      ],
    ]),
    failover: [
      { failoverMs: 2100, attempts: 3, marginAfterValidUntilMs: 150 },
      { failoverMs: 2500, attempts: 9, marginAfterValidUntilMs: 300 },
    ],
    handover: {
      afterReleaseMs: [4, 6, 70],
      afterCrashOverTtlMs: [300, 450],
      observeDeliveryMs: [2, 3],
      idle: {
        observers: 100,
        windowMs: 5000,
        watchers: [1, 101],
        watchStreams: [1, 101],
        cpuMs: [20, 35],
        rssBytes: [40 * 1024 * 1024, 44 * 1024 * 1024],
      },
    },
    memory: {
      idleHandles: 10,
      bytesPerIdleHandle: 300,
      renewedLeases: 10,
      bytesPerHeldLease: 2600,
      heapAfterRenewals: 1_000_000,
      rssBefore: 100_000_000,
      rssAfterRenewals: 150_000_000,
      renewalRounds: 3,
      msPerRound: 200,
      cpuMsPerRenewal: 0.18,
    },
    bundles: [],
    wallMs: 1000,
  };

  it("judges every target and shows the ratios", () => {
    const report = renderReport(results);
    expect(report).toContain(
      "| leasehold (undici) p50 ≤ 1.10× raw floor, every operation | over: renew 1.20× | **missed** |",
    );
    expect(report).toContain(
      "| claim+release cycle faster than etcd3's Election cycle (p50, loopback) | 2.00 ms vs 3.00 ms | met |",
    );
    expect(report).toContain(
      "| claim+release cycle faster than etcd3's Election cycle (p50, +2 ms per round trip) | 6.00 ms vs 5.00 ms | **missed** |",
    );
    expect(report).toContain("| throughput at c=64 ≥ etcd3's: renew | 4000 vs 6000 ops/s | **missed** |");
    expect(report).toContain("| failover ≤ TTL + 0.6 s (2.6 s) | max 2.50 s | met |");
    expect(report).toContain("| ≤ 2 KB retained heap per idle lease handle | 300 B | met |");
    expect(report).toContain(
      "| hand-over after release p50 ≤ 50 ms (queued elector, etcdWithWatch) | p50 6.00 ms, max 70.0 ms | met |",
    );
    expect(report).toContain(
      "| hand-over after a crash ≤ TTL + etcd's expiry slack (0.5 s) + 0.1 s | max TTL + 450 ms | met |",
    );
    expect(report).toContain("| hand-over after release | 3 | 6.00 ms | 70.0 ms |");
    expect(report).toContain("| watchers (etcd_debugging_mvcc_watcher_total) | 1 → 101 |");
    expect(report).toContain("| renew | lh | 0.600 | 1.20 | 1.80 | 1.20× | 1.50× | 150 |");
    expect(report).toContain("| claim (lease free) | 2 | 2 req, 2 RT | 2 req, 1 RT | 2 calls |");
  });
});
