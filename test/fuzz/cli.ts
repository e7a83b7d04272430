/**
 * `npm run fuzz -- --runs N [--seed S] [--survey]`: the wire fuzz tests (wire.test.ts) with N in-process cases
 * per backend (N/25 per backend and transport over loopback HTTP). `--survey` counts violations by class
 * instead of stopping at the first (to measure an older build).
 */
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "8000" },
    seed: { type: "string" },
    survey: { type: "boolean", default: false },
  },
});
if (!/^[1-9]\d*$/.test(values.runs)) throw new Error(`--runs must be a positive integer, not ${values.runs}`);
const env: NodeJS.ProcessEnv = { ...process.env, LEASEHOLD_FUZZ_RUNS: values.runs };
if (values.seed !== undefined) env.LEASEHOLD_FUZZ_SEED = values.seed;
if (values.survey) env.LEASEHOLD_FUZZ_SURVEY = "1";
const run = spawnSync("npx", ["vitest", "run", "--project", "fuzz"], { stdio: "inherit", env });
process.exit(run.status ?? 1);
