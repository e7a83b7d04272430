import { readFileSync } from "node:fs";
import { defineConfig } from "vitest/config";

/**
 * The gateway package imports the library as `leasehold/...`: here its source, not a build. Aliases made from
 * the exports' `leasehold-source` conditions (package.json), because vitest loads `leasehold` (a workspace link
 * in node_modules) with Node's own resolver otherwise, in global setup files too.
 */
const exports: Record<string, Record<string, string>> = JSON.parse(
  readFileSync("package.json", "utf8"),
).exports;
const alias = Object.entries(exports).flatMap(([subpath, conditions]) => {
  const source = conditions["leasehold-source"];
  return source
    ? [{ find: `leasehold${subpath.slice(1)}`, replacement: new URL(source, import.meta.url).pathname }]
    : [];
});

export default defineConfig({
  resolve: { alias },
  test: {
    coverage: {
      provider: "v8",
      include: ["src/**/*.ts", "adapters/**/*.ts"],
      reporter: ["text-summary", "text"],
    },
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "fuzz",
          include: ["test/fuzz/**/*.test.ts"],
          testTimeout: 180_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          exclude: ["test/integration/zookeeper-*.test.ts"],
          globalSetup: ["test/global-setup.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "zookeeper",
          include: ["test/integration/zookeeper-*.test.ts"],
          globalSetup: ["test/zookeeper-setup.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "torture",
          include: ["test/torture/**/*.test.ts"],
          testTimeout: 150_000,
        },
      },
      {
        test: {
          name: "smoke",
          include: ["test/smoke/**/*.test.ts"],
          globalSetup: ["test/global-setup.ts"],
          testTimeout: 40_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
