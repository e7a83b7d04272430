import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts", cli: "src/cli.ts" },
  format: ["esm"],
  target: "es2023",
  platform: "node",
  dts: { entry: { index: "src/index.ts" } },
  clean: true,
  splitting: true,
  treeshake: true,
});
