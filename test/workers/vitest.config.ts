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

export default defineConfig({
  root,
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
