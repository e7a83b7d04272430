import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    index: "src/index.ts",
    backend: "src/backend-kit.ts",
    etcd: "adapters/etcd/index.ts",
    testing: "adapters/testing/index.ts",
    hono: "adapters/hono/index.ts",
    cloudflare: "adapters/cloudflare/index.ts",
    node: "adapters/node/index.ts",
    zookeeper: "adapters/zookeeper/index.ts",
    "zookeeper-extension": "adapters/zookeeper/extension.ts",
    cli: "adapters/cli/main.ts",
  },
  format: ["esm"],
  target: "es2023",
  dts: true,
  clean: true,
  splitting: true,
  treeshake: true,
});
