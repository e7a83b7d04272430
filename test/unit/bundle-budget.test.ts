/**
 * The edge bundles: what scripts/bundle-size.ts measures (esbuild, minified, gzip level 9), and nothing
 * Node-only in what a Worker bundles. The budget itself is enforced by `npm run size -- --check`, the last
 * step of `npm test`, so that an overrun is reported with its per-module breakdown without hiding other results.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  type BundleSize,
  CORE_ETCD_BUDGET_BYTES,
  edgeViolations,
  formatReport,
  measureBundle,
  measureBundles,
  withinBudget,
} from "../../scripts/bundle-size.ts";

let coreEtcd: BundleSize;
let exampleWorker: BundleSize;

beforeAll(async () => {
  ({ coreEtcd, exampleWorker } = await measureBundles());
  console.info(formatReport([coreEtcd, exampleWorker], 5));
});

describe("bundle budget", () => {
  it("judges the budget to the byte (as `npm run size -- --check` does)", () => {
    expect(withinBudget({ gzipBytes: CORE_ETCD_BUDGET_BYTES })).toBe(true);
    expect(withinBudget({ gzipBytes: CORE_ETCD_BUDGET_BYTES + 1 })).toBe(false);
  });

  it("measures core + etcd adapter, and nothing of the other adapters", () => {
    expect(coreEtcd.modules.some((m) => m.path === "src/lease.ts")).toBe(true);
    expect(coreEtcd.modules.some((m) => m.path === "adapters/etcd/backend.ts")).toBe(true);
    expect(coreEtcd.modules.some((m) => m.path.includes("adapters/hono/"))).toBe(false);
    expect(coreEtcd.gzipBytes).toBeGreaterThan(0);
    expect(coreEtcd.gzipBytes).toBeLessThan(coreEtcd.minifiedBytes);
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

  it("puts no node:* import and no undici in the edge bundles", () => {
    expect(edgeViolations(coreEtcd)).toEqual([]);
    expect(edgeViolations(exampleWorker)).toEqual([]);
    expect(exampleWorker.code).not.toMatch(/["']node:|undici/);
    expect(coreEtcd.code).not.toMatch(/["']node:|undici/);
  });

  it("would notice a node:* import or undici", async () => {
    const tainted = await measureBundle(
      "tainted",
      {
        contents:
          'import { gzipSync } from "node:zlib";\nimport { request } from "undici";\nexport { gzipSync, request };\n',
      },
      [],
    );
    expect(edgeViolations(tainted)).toEqual(["node:zlib", "undici"]);
  });
});
