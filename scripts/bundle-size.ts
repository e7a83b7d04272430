/**
 * Measures what leasehold adds to an edge bundle, built the way a user bundles a Worker: esbuild with
 * `bundle: true, minify: true, format: "esm", platform: "browser"` (the CLI's `--bundle --minify --format=esm
 * --platform=browser`, no other option that changes the output), then gzip at level 9. The package names are
 * pointed at the sources (as wrangler.toml's `[alias]` does): the same modules tsup builds dist/ from, so that
 * the figure needs no build and names each source module.
 *
 * - `core+etcd`: {@link WORKER_ENTRY}, a Worker that imports `createLease` from `leasehold` and `etcd` from
 *   `leasehold/etcd` and claims, writes with `doIfLeader` and parks: what a Worker using etcd pays;
 * - `example-worker`: the example Worker (example/worker.ts) with hono left out, as hono is the app's own cost.
 *
 * `node scripts/bundle-size.ts` prints the figures and the largest modules. `--check` (the last step of
 * `npm test`) fails when core+etcd is over {@link CORE_ETCD_BUDGET_BYTES}, when an edge bundle contains `node:*`
 * or undici, or when the figure README.md and docs/edge.md quote (between `<!-- bundle-size -->` markers) is
 * more than {@link DOC_TOLERANCE_BYTES} off the measurement. `--write` puts the measured figure into those docs.
 * test/unit/scripts/bundle-size.test.ts checks the measurement and each of these checks.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { type BuildOptions, build, type Metafile } from "esbuild";

const root = resolve(import.meta.dirname, "..");

/**
 * The budget for core + etcd adapter, in gzip bytes: 16.7 KB (the figure this round's work measured, 16.5 KB,
 * plus the handling of a transfer record alone at the term record's key, 62 bytes, plus 143 bytes for the JSON
 * text of an election's read and of a held term's guards kept instead of serialised on every call, about 1 µs
 * of client CPU per leader() and per doIfLeader, plus 39 bytes for the grant+txn helper that claim shares with
 * the queued campaign). The error messages that
 * name a failure's cause and fix (src/failure-reason.ts, the etcd adapter's endpoint, auth and all-endpoints
 * messages) take about 1.35 KB of it. The aim of 12 KB is out of reach while zod/mini
 * validates every answer (about 5 KB of the bundle) and `createLease` + `etcd` reach every backend method: see
 * docs/edge.md#bundle-size.
 */
export const CORE_ETCD_BUDGET_BYTES = 17_140;

/** How far the docs' figure may drift from the measurement, in bytes, before `--check` asks for `--write`. */
export const DOC_TOLERANCE_BYTES = 256;

/** The docs that quote the core+etcd figure. */
export const DOC_FILES = ["README.md", "docs/edge.md"] as const;

/** The options a user's `esbuild --bundle --minify --format=esm --platform=browser` build has. */
export const USER_BUILD = {
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
} as const satisfies BuildOptions;

/** The Worker of `core+etcd`. */
export const WORKER_ENTRY = `import { createLease } from "leasehold";
import { etcd } from "leasehold/etcd";

export default {
  async fetch(_request, env) {
    const lease = createLease({
      backend: etcd({ endpoints: [env.ETCD_ENDPOINT] }),
      name: "jobs/report",
      holder: "worker",
      ttlMs: 10_000,
    });
    const state = await lease.claim();
    if (!state.isLeader) return Response.json({ holder: state.holder }, { status: 409 });
    const outcome = await lease.doIfLeader([{ type: "put", key: "reports/last", value: "done" }]);
    await lease.park();
    return Response.json({ applied: outcome.applied });
  },
};
`;

export interface ModuleSize {
  /** Path relative to the repository, e.g. `src/lease.ts` or `node_modules/zod/v4/core/schemas.js`. */
  path: string;
  /** Minified bytes this module contributes to the bundle. */
  bytes: number;
}

export interface BundleSize {
  name: string;
  minifiedBytes: number;
  gzipBytes: number;
  /** Modules by contribution, largest first. */
  modules: ModuleSize[];
  /** Imports left in the bundle (external), e.g. `hono`. */
  externalImports: string[];
  /** The minified bundle. */
  code: string;
}

/** The names a Worker imports, pointed at the sources. */
const aliases = {
  leasehold: "./src/index.ts",
  "leasehold/etcd": "./adapters/etcd/index.ts",
  "leasehold/hono": "./adapters/hono/index.ts",
  "leasehold/cloudflare": "./adapters/cloudflare/index.ts",
};

/** Bundles `entry` (a file, or module text resolved from the repository root) in memory and measures it. */
export async function measureBundle(
  name: string,
  entry: { file: string } | { contents: string },
  external: string[],
): Promise<BundleSize> {
  const result = await build({
    ...USER_BUILD,
    absWorkingDir: root,
    ...("file" in entry
      ? { entryPoints: [entry.file] }
      : { stdin: { contents: entry.contents, resolveDir: root, sourcefile: `${name}.ts`, loader: "ts" } }),
    alias: aliases,
    // Left external so that they show up as imports to assert on, instead of failing the build.
    external: [...external, "node:*", "undici"],
    metafile: true,
    write: false,
    logLevel: "silent",
  });
  const code = result.outputFiles[0]?.text ?? "";
  const output = Object.values(result.metafile.outputs)[0] as Metafile["outputs"][string];
  const modules = Object.entries(output.inputs)
    // A symlinked node_modules resolves outside the repository: name the package path alone.
    .map(([path, input]) => ({
      path: path.replace(/^(\.\.\/)+.*?(?=node_modules\/)/, ""),
      bytes: input.bytesInOutput,
    }))
    .filter((m) => m.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes);
  return {
    name,
    minifiedBytes: Buffer.byteLength(code),
    gzipBytes: gzipSync(code, { level: 9 }).length,
    modules,
    externalImports: [...new Set(output.imports.filter((i) => i.external).map((i) => i.path))].sort(),
    code,
  };
}

/** Builds both bundles in memory. */
export async function measureBundles(): Promise<{ coreEtcd: BundleSize; exampleWorker: BundleSize }> {
  const [coreEtcd, exampleWorker] = await Promise.all([
    measureBundle("core+etcd", { contents: WORKER_ENTRY }, []),
    measureBundle("example-worker", { file: "example/worker.ts" }, ["hono", "hono/*"]),
  ]);
  return { coreEtcd, exampleWorker };
}

/**
 * What an edge bundle must not contain: `node:*` imports, undici (imported or bundled). Returns the offending
 * import paths and module paths; empty when the bundle is clean.
 */
export function edgeViolations(bundle: BundleSize): string[] {
  const forbidden = (path: string) => /^node:|(^|\/)undici(\/|$)/.test(path);
  return [
    ...bundle.externalImports.filter(forbidden),
    ...bundle.modules
      .map((m) => m.path)
      .filter((path) => forbidden(path) || path.includes("node_modules/undici/")),
  ];
}

/** The figure as the docs quote it, e.g. `11 004 bytes (10.7 KB)`. */
export const docFigure = (gzipBytes: number): string =>
  `${String(gzipBytes).replace(/\B(?=(\d{3})+$)/g, " ")} bytes (${(gzipBytes / 1024).toFixed(1)} KB)`;

const MARKED = /<!-- bundle-size -->(.*?)<!-- \/bundle-size -->/g;

/** Replaces every marked figure in `text` with the measured one. */
export const writeDocFigure = (text: string, gzipBytes: number): string =>
  text.replace(MARKED, `<!-- bundle-size -->${docFigure(gzipBytes)}<!-- /bundle-size -->`);

/**
 * What is wrong with the figures `text` (a doc named `file`) quotes: none marked, one that does not read as
 * bytes, or one more than {@link DOC_TOLERANCE_BYTES} off `gzipBytes`. Empty when the doc is current.
 */
export function docProblems(file: string, text: string, gzipBytes: number): string[] {
  const quoted = [...text.matchAll(MARKED)].map((m) => m[1] as string);
  if (quoted.length === 0) return [`${file} quotes no <!-- bundle-size --> figure`];
  return quoted.flatMap((figure) => {
    const bytes = Number(/^([\d ]+) bytes/.exec(figure)?.[1]?.replaceAll(" ", "") ?? Number.NaN);
    return Math.abs(bytes - gzipBytes) <= DOC_TOLERANCE_BYTES
      ? []
      : [`${file} quotes ${figure}, measured ${gzipBytes} bytes: run \`npm run size -- --write\``];
  });
}

/** Every reason `--check` fails: over `budget`, Node-only modules, stale docs (`docs`: file → text). */
export function checkProblems(
  bundles: { coreEtcd: BundleSize; exampleWorker: BundleSize },
  docs: Readonly<Record<string, string>>,
  budget = CORE_ETCD_BUDGET_BYTES,
): string[] {
  const { coreEtcd, exampleWorker } = bundles;
  const violations = [...edgeViolations(coreEtcd), ...edgeViolations(exampleWorker)];
  return [
    ...(coreEtcd.gzipBytes > budget ? [`core+etcd is ${coreEtcd.gzipBytes} bytes, over ${budget}`] : []),
    ...(violations.length > 0 ? [`edge bundles import Node-only modules: ${violations.join(", ")}`] : []),
    ...Object.entries(docs).flatMap(([file, text]) => docProblems(file, text, coreEtcd.gzipBytes)),
  ];
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(2)} KB`;

/** A printable report: both figures, then each bundle's largest modules. */
export function formatReport(bundles: BundleSize[], top = 12): string {
  const lines: string[] = [];
  for (const b of bundles) {
    lines.push(`${b.name}: ${kb(b.minifiedBytes)} minified, ${kb(b.gzipBytes)} gzip (${b.gzipBytes} bytes)`);
    if (b.externalImports.length > 0) lines.push(`  external imports: ${b.externalImports.join(", ")}`);
    for (const m of b.modules.slice(0, top)) lines.push(`  ${kb(m.bytes).padStart(9)}  ${m.path}`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const bundles = await measureBundles();
  const { coreEtcd, exampleWorker } = bundles;
  const docs = Object.fromEntries(DOC_FILES.map((f) => [f, readFileSync(resolve(root, f), "utf8")]));
  if (process.argv.includes("--write")) {
    for (const [file, text] of Object.entries(docs)) {
      docs[file] = writeDocFigure(text, coreEtcd.gzipBytes);
      writeFileSync(resolve(root, file), docs[file]);
    }
  }
  const problems = checkProblems(bundles, docs);
  const over = coreEtcd.gzipBytes > CORE_ETCD_BUDGET_BYTES;
  console.log(formatReport([coreEtcd, exampleWorker], over ? 40 : 12));
  console.log(`budget: core+etcd ${coreEtcd.gzipBytes} of ${CORE_ETCD_BUDGET_BYTES} bytes gzip`);
  for (const problem of problems) console.log(problem);
  if (process.argv.includes("--check") && problems.length > 0) process.exitCode = 1;
}
