/**
 * The edge bundles as scripts/bundle-size.ts measures them (a user's esbuild build: browser platform, minified,
 * ESM; gzip level 9), and each check of `npm run size -- --check`: the budget of core + etcd, nothing
 * Node-only in what a Worker bundles, and docs that quote the measured figure.
 */
import { gunzipSync, gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type BundleSize,
  CORE_ETCD_BUDGET_BYTES,
  checkProblems,
  DOC_TOLERANCE_BYTES,
  docFigure,
  docProblems,
  edgeViolations,
  formatReport,
  measureBundle,
  measureBundles,
  WORKER_ENTRY,
  writeDocFigure,
} from "../../../scripts/bundle-size.ts";

let coreEtcd: BundleSize;
let exampleWorker: BundleSize;

beforeAll(async () => {
  ({ coreEtcd, exampleWorker } = await measureBundles());
  console.info(formatReport([coreEtcd, exampleWorker], 5));
});

const marked = (figure: string) => `cost <!-- bundle-size -->${figure}<!-- /bundle-size --> gzip`;

describe("bundle measurement", () => {
  it("measures the minified bundle's gzip (level 9) size", () => {
    expect(coreEtcd.gzipBytes).toBe(gzipSync(coreEtcd.code, { level: 9 }).length);
    expect(gunzipSync(gzipSync(coreEtcd.code, { level: 9 })).toString()).toBe(coreEtcd.code);
    // Minified: identifiers renamed, no comments, hardly any line breaks.
    expect(coreEtcd.code).not.toMatch(/\/\*\*|resolveOptions|\n {2}/);
    expect(coreEtcd.code.split("\n").length).toBeLessThan(10);
  });

  it("bundles the Worker's imports and shakes out what it does not use", async () => {
    const paths = coreEtcd.modules.map((m) => m.path);
    expect(paths).toEqual(expect.arrayContaining(["src/lease.ts", "adapters/etcd/claim.ts"]));
    expect(paths.some((p) => p.includes("node_modules/zod/"))).toBe(true);
    // Neither the watch, nor observe, nor the other adapters.
    expect(paths.filter((p) => /watch|observe|elector|adapters\/(hono|zookeeper|node)\//.test(p))).toEqual(
      [],
    );
    const withObserve = await measureBundle(
      "with-observe",
      { contents: `${WORKER_ENTRY}import { observe } from "leasehold";\nexport { observe };\n` },
      [],
    );
    expect(withObserve.gzipBytes).toBeGreaterThan(coreEtcd.gzipBytes + 300);
    expect(withObserve.modules.map((m) => m.path)).toContain("src/observe.ts");
  });

  it("holds core + etcd within the budget", () => {
    expect(coreEtcd.gzipBytes, formatReport([coreEtcd], 40)).toBeLessThanOrEqual(CORE_ETCD_BUDGET_BYTES);
  });

  it("measures the example Worker without hono, with both edge adapters in it", () => {
    expect(exampleWorker.externalImports).toEqual(["hono"]);
    const paths = exampleWorker.modules.map((m) => m.path);
    expect(paths.filter((p) => p.includes("node_modules/hono/"))).toEqual([]);
    expect(paths).toEqual(
      expect.arrayContaining([
        "adapters/hono/middleware.ts",
        "adapters/cloudflare/scheduled.ts",
        "example/worker.ts",
      ]),
    );
  });
});

describe("the checks of `npm run size -- --check`", () => {
  const docsOf = (bytes: number) => ({ "README.md": marked(docFigure(bytes)) });

  it("passes the bundles as measured, and fails a budget one byte smaller", () => {
    const bundles = { coreEtcd, exampleWorker };
    expect(checkProblems(bundles, docsOf(coreEtcd.gzipBytes), coreEtcd.gzipBytes)).toEqual([]);
    expect(checkProblems(bundles, docsOf(coreEtcd.gzipBytes), coreEtcd.gzipBytes - 1)).toEqual([
      `core+etcd is ${coreEtcd.gzipBytes} bytes, over ${coreEtcd.gzipBytes - 1}`,
    ]);
  });

  it("puts no node:* import and no undici in the edge bundles", () => {
    expect(edgeViolations(coreEtcd)).toEqual([]);
    expect(edgeViolations(exampleWorker)).toEqual([]);
    expect(exampleWorker.code).not.toMatch(/["']node:|undici/);
    expect(coreEtcd.code).not.toMatch(/["']node:|undici/);
  });

  it("notices a node:* import or undici", async () => {
    const tainted = await measureBundle(
      "tainted",
      {
        contents:
          'import { gzipSync } from "node:zlib";\nimport { request } from "undici";\nexport { gzipSync, request };\n',
      },
      [],
    );
    expect(edgeViolations(tainted)).toEqual(["node:zlib", "undici"]);
    expect(checkProblems({ coreEtcd, exampleWorker: tainted }, docsOf(coreEtcd.gzipBytes))).toContain(
      "edge bundles import Node-only modules: node:zlib, undici",
    );
  });

  it("fails docs whose figure is off the measurement by more than the tolerance, or that quote none", () => {
    const measured = 11_000;
    expect(docFigure(measured)).toBe("11 000 bytes (10.7 KB)");
    expect(docProblems("README.md", marked(docFigure(measured + DOC_TOLERANCE_BYTES)), measured)).toEqual([]);
    expect(docProblems("README.md", marked(docFigure(measured - DOC_TOLERANCE_BYTES - 1)), measured)).toEqual(
      ["README.md quotes 10 743 bytes (10.5 KB), measured 11000 bytes: run `npm run size -- --write`"],
    );
    expect(docProblems("README.md", marked("about 11 KB"), measured)).toHaveLength(1);
    expect(docProblems("docs/edge.md", "no figure here", measured)).toEqual([
      "docs/edge.md quotes no <!-- bundle-size --> figure",
    ]);
    const written = writeDocFigure(
      `${marked("14 853 bytes (14.5 KB)")}; again ${marked("1 byte")}`,
      measured,
    );
    expect(written).toBe(`${marked("11 000 bytes (10.7 KB)")}; again ${marked("11 000 bytes (10.7 KB)")}`);
  });
});
