/**
 * leasehold-zk-gateway while ZooKeeper itself restarts under it: a real standalone ZooKeeper of its own, killed
 * with SIGKILL and started again on the same data dir and port (ZooKeeper restores its sessions from there), a
 * gateway process in front of it. After each restart the gateway serves again within a few call deadlines, on
 * its shared session and on a holder's REST session alike, and the term survives it. (The gateway's own
 * restart: zookeeper-gateway-restart.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { zookeeper } from "../../adapters/zookeeper/index.ts";
import { createGatewayProcess, type GatewayProcess } from "../../scripts/lib/gateway-process.ts";
import {
  createRestartableZooKeeper,
  type RestartableZooKeeper,
} from "../../scripts/lib/restartable-zookeeper.ts";
import { createLease } from "../../src/index.ts";

/** The gateway's `--zk-timeout` (gateway-process.ts), in ms. */
const ZK_CALL_TIMEOUT_MS = 2000;
const RESTARTS = 3;

let zk: RestartableZooKeeper;
let gateway: GatewayProcess;

beforeAll(async () => {
  zk = await createRestartableZooKeeper();
  await zk.start();
  gateway = await createGatewayProcess(zk.connectString);
  await gateway.start();
}, 60_000);

afterAll(async () => {
  await gateway?.kill();
  await zk?.remove();
});

/** Ms from now until the gateway answers a read on its shared session with 200 (each try bounded by its deadline). */
async function msUntilServed(): Promise<number> {
  const started = performance.now();
  for (;;) {
    const res = await fetch(`${gateway.url}/znodes/v1/?dataformat=utf8`, {
      signal: AbortSignal.timeout(ZK_CALL_TIMEOUT_MS * 2),
    }).catch(() => null);
    await res?.body?.cancel();
    if (res?.status === 200) return performance.now() - started;
    if (performance.now() - started > 30_000) throw new Error("the gateway did not serve within 30 s");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("ZooKeeper killed with SIGKILL and started again under the gateway", () => {
  it(`serves again within two call deadlines, and the term lives on, over ${RESTARTS} restarts`, async () => {
    const backend = zookeeper({ url: gateway.url, prefix: "store-restart" });
    const lease = createLease({ backend, name: "jobs/nightly", holder: "h", ttlMs: 15_000 });
    const rival = createLease({
      backend: zookeeper({ url: gateway.url, prefix: "store-restart" }),
      name: "jobs/nightly",
      holder: "rival",
      ttlMs: 15_000,
    });
    const held = await lease.claim();
    expect(held.isLeader).toBe(true);
    try {
      for (let i = 0; i < RESTARTS; i++) {
        await zk.kill();
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await zk.start();
        expect(await msUntilServed()).toBeLessThan(ZK_CALL_TIMEOUT_MS * 2);
        const renewed = await lease.renew();
        expect(renewed).toMatchObject({ isLeader: true, token: held.token, leaseId: held.leaseId });
        expect(
          await lease.doIfLeader([{ type: "put", key: "store-restart-data/k", value: `${i}` }]),
        ).toMatchObject({ applied: true });
        expect(await rival.claim()).toMatchObject({ isLeader: false, holder: "h", token: held.token });
      }
    } finally {
      await lease.release();
      await Promise.all([backend.close?.(), rival.backend.close?.()]);
    }
  }, 90_000);
});
