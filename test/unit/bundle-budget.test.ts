/**
 * The edge bundle budget: core + etcd adapter ≤ 12 KB gzip, and nothing Node-only in what a Worker bundles.
 * Figures come from scripts/bundle-size.ts (esbuild, minified, gzip level 9).
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  type BundleSize,
  CORE_ETCD_BUDGET_BYTES,
  edgeViolations,
  formatReport,
  measureBundle,
  measureBundles,
} from "../../scripts/bundle-size.ts";

let coreEtcd: BundleSize;
let exampleWorker: BundleSize;

beforeAll(async () => {
  ({ coreEtcd, exampleWorker } = await measureBundles());
  console.info(formatReport([coreEtcd, exampleWorker], 5));
});

describe("bundle budget", () => {
  it("keeps core + etcd adapter within 12 KB gzip", () => {
    expect(coreEtcd.modules.some((m) => m.path === "src/lease.ts")).toBe(true);
    expect(coreEtcd.modules.some((m) => m.path === "adapters/etcd/backend.ts")).toBe(true);
    expect(coreEtcd.gzipBytes, `over budget:\n${formatReport([coreEtcd], 40)}`).toBeLessThanOrEqual(
      CORE_ETCD_BUDGET_BYTES,
    );
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
