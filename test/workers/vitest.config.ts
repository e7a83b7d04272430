/**
 * The workerd tests: the example Worker (wrangler.toml) runs inside workerd through @cloudflare/vitest-plugin
 * and talks to a real etcd that the global setup starts. Run with `vitest run --config test/workers/vitest.config.ts`.
 */
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

const root = resolve(import.meta.dirname, "../..");

// Keep wrangler local and quiet: no metrics, no request for Cloudflare's request metadata, no user config.
process.env.WRANGLER_SEND_METRICS = "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.XDG_CONFIG_HOME = join(tmpdir(), "leasehold-wrangler-config");
mkdirSync(process.env.XDG_CONFIG_HOME, { recursive: true });

// The example imports the package by name. Vite would resolve those names through package.json to dist/ (a
// build that may be stale); point them at the sources, as wrangler.toml's [alias] does for `wrangler dev`.
const sources: Record<string, string> = {
  leasehold: "src/index.ts",
  "leasehold/etcd": "adapters/etcd/index.ts",
  "leasehold/hono": "adapters/hono/index.ts",
  "leasehold/cloudflare": "adapters/cloudflare/index.ts",
};

export default defineConfig({
  root,
  resolve: {
    alias: Object.entries(sources).map(([name, path]) => ({
      find: new RegExp(`^${name}$`),
      replacement: join(root, path),
    })),
  },
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: join(root, "wrangler.toml") },
      miniflare: { bindings: { LEASEHOLD_ETCD_ENDPOINTS: inject("etcdEndpoint") } },
    })),
  ],
  test: {
    name: "workers",
    include: ["test/workers/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
