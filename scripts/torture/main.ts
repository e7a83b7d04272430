/**
 * `npm run torture [-- --seconds N] [--scenario etcd|etcd-cluster|zookeeper ...] [--keep]`: the fault-injection
 * history test (run.ts) on its own, for long runs. Exits 1 on any violation and prints where the evidence is.
 */
import { parseArgs } from "node:util";
import { formatReport } from "./report.ts";
import { runTorture } from "./run.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    scenario: { type: "string", multiple: true },
    keep: { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);
if (!Number.isInteger(seconds) || seconds < 5) throw new RangeError("--seconds must be a whole number >= 5");
const started = Date.now();
const report = await runTorture({
  seconds,
  keep: values.keep,
  say: (line) => console.log(line),
  ...(values.scenario ? { scenarios: values.scenario } : {}),
});
console.log(formatReport(report));
console.log(`took ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exitCode = report.ok ? 0 : 1;
