/**
 * A runtime smoke test: claim, renew, guarded write and release on a real etcd, with the default fetch
 * transport. Runs unchanged under Deno, Bun and Node; reads `LEASEHOLD_ETCD_ENDPOINTS` and
 * `LEASEHOLD_ETCD_PREFIX`. Prints one JSON line describing what happened; exits non-zero on any failure.
 */
import { etcdFromEnv } from "../../adapters/etcd/index.ts";
import { createLease } from "../../src/index.ts";

function runtime(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  if (g.Bun) return `bun ${g.Bun.version}`;
  return `node ${process.versions.node}`;
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`smoke: ${what}`);
}

const backend = etcdFromEnv(process.env);
const name = "smoke/runtime";
const mine = createLease({ backend, name, holder: "smoke-a", ttlMs: 5000 });
const other = createLease({ backend, name, holder: "smoke-b", ttlMs: 5000 });

const claimed = await mine.claim();
check(claimed.isLeader && typeof claimed.token === "bigint", "claim did not take the free lease");
const contested = await other.claim();
check(!contested.isLeader && contested.holder === "smoke-a", "a second holder was not refused");
const renewed = await mine.renew();
check(renewed.isLeader && (renewed.validUntil ?? 0) >= (claimed.validUntil ?? 0), "renew did not extend");
const write = await mine.doIfLeader([{ type: "put", key: "smoke/last", value: runtime() }]);
check(write.applied, "guarded write was not applied");
await mine.release();
const after = await mine.leader();
check(after === null, "lease still held after release");
const next = await other.claim();
check(next.isLeader && (next.token ?? 0n) > (claimed.token ?? 0n), "next holder did not get a higher token");
await other.release();

console.log(
  JSON.stringify({
    runtime: runtime(),
    claimed: true,
    renewed: true,
    released: true,
    token: claimed.token?.toString(),
    nextToken: next.token?.toString(),
  }),
);
