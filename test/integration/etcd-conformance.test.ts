import { inject } from "vitest";
import { etcdWithWatch } from "../../adapters/etcd/watch.ts";
import { fetchTransport, systemClock } from "../../src/index.ts";
import { runConformance } from "../conformance/suite.ts";

const endpoint = inject("etcdEndpoint");
const baseTransport = fetchTransport();

runConformance({
  name: "etcd 3.4",
  makeBackend: ({ prefix, transport }) =>
    etcdWithWatch({ endpoints: [endpoint], prefix, transport: transport ?? baseTransport }),
  baseTransport,
  clock: systemClock,
  elapse: (ms) => systemClock.sleep(ms),
  // etcd expires a lease between TTL and TTL + 500 ms after its last renewal; its expiry check runs every 500 ms.
  expirySlackMs: 1000,
});
