/**
 * Bundle sizes of the edge entry points (minified + gzip), measured with scripts/bundle-size.ts (esbuild,
 * browser platform, as a user bundles a Worker): each public edge subpath on its own with everything it
 * imports, plus the two bundles that script tracks (a Worker using `createLease` + `etcd`, and the example
 * Worker without hono).
 */
import { type BundleSize, measureBundle, measureBundles } from "../scripts/bundle-size.ts";

const EDGE_ENTRIES = [
  { name: "leasehold", file: "src/index.ts" },
  { name: "leasehold/etcd", file: "adapters/etcd/index.ts" },
  { name: "leasehold/hono", file: "adapters/hono/index.ts" },
  { name: "leasehold/cloudflare", file: "adapters/cloudflare/index.ts" },
] as const;

export async function measureEdgeBundles(): Promise<BundleSize[]> {
  const entries = await Promise.all(
    EDGE_ENTRIES.map((e) => measureBundle(`${e.name} (whole entry)`, { file: e.file }, ["hono", "hono/*"])),
  );
  const { coreEtcd, exampleWorker } = await measureBundles();
  return [...entries, coreEtcd, exampleWorker];
}
