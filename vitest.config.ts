import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // The gateway package imports the library as `leasehold/...`: its source, not a build (package.json exports).
  ssr: { resolve: { conditions: ["leasehold-source", ...defaultServerConditions] } },
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
