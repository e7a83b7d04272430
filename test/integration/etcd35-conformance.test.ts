/**
 * The backend conformance suite against etcd 3.5 (Debian trixie's etcd-server, unpacked by
 * `scripts/setup.sh etcd35`), through the Node transport, with its watch and queued campaigns
 * (`etcdWithWatch`). This file starts and stops its own server.
 */
import { afterAll } from "vitest";
import { etcdWithWatch } from "../../adapters/etcd/watch.ts";
import { undiciTransport } from "../../adapters/node/index.ts";
import { etcd35Binary, startEtcd } from "../../scripts/lib/etcd-server.ts";
import { systemClock } from "../../src/index.ts";
import { runConformance } from "../conformance/suite.ts";

const server = await startEtcd({ binary: etcd35Binary() });
const baseTransport = undiciTransport();
afterAll(async () => {
  await baseTransport.close?.();
  await server.stop();
});

runConformance({
  name: "etcd 3.5 (undici transport)",
  makeBackend: ({ prefix, transport }) =>
    etcdWithWatch({ endpoints: [server.endpoint], prefix, transport: transport ?? baseTransport }),
  baseTransport,
  clock: systemClock,
  elapse: (ms) => systemClock.sleep(ms),
  // etcd expires a lease between TTL and TTL + 500 ms after its last renewal; its expiry check runs every 500 ms.
  expirySlackMs: 1000,
});
