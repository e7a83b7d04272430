/**
 * The fault-injection history test in `npm test` (a short profile; `npm run torture -- --seconds N` runs it
 * longer): etcd (one member restarted on its data dir; a 3-member cluster with member kills) and ZooKeeper
 * behind leasehold-zk-gateway (both killed and restarted), with workers killed and stopped past the TTL and a
 * fault proxy injecting latency, black holes and resets. Safety is asserted from the stores' own histories;
 * liveness only as counts.
 */
import { expect, test } from "vitest";
import { formatReport } from "../../scripts/torture/report.ts";
import { runTorture } from "../../scripts/torture/run.ts";

test("no violation of safety under faults, on etcd, an etcd cluster and ZooKeeper", async () => {
  const report = await runTorture({ seconds: 48 });
  console.log(formatReport(report));
  expect(report.scenarios.map((s) => s.name).sort()).toEqual(["etcd", "etcd-cluster", "zookeeper"]);
  for (const s of report.scenarios) {
    const { main, steady } = s.verdicts;
    expect([...main.violations, ...steady.violations], `${s.name}: evidence under ${s.evidence}`).toEqual([]);
    expect(main.terms).toBeGreaterThanOrEqual(2);
    expect(main.writesAcked).toBeGreaterThanOrEqual(3);
    expect(steady.terms).toBeGreaterThanOrEqual(1);
    expect(Object.values(s.faults).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(5);
  }
});
