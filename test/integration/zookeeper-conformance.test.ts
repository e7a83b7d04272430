/**
 * The shared backend conformance suite against a real ZooKeeper 3.8, through leasehold-zk-gateway: once
 * with the multi extension (atomic guard), once through a gateway that serves SPEC v2 only, as Apache's
 * does (the backend then reports atomicGuard: false and the suite checks that doIfLeader refuses).
 */
import { inject } from "vitest";
import { zookeeper } from "../../adapters/zookeeper/index.ts";
import { fetchTransport, systemClock } from "../../src/index.ts";
import { runConformance } from "../conformance/suite.ts";

const baseTransport = fetchTransport();
const profiles = [
  { name: "ZooKeeper 3.8 via leasehold-zk-gateway", url: inject("zkGatewayUrl"), extensions: "leasehold-v1" },
  { name: "ZooKeeper 3.8 via SPEC v2 only", url: inject("zkPlainGatewayUrl"), extensions: "none" },
] as const;

for (const profile of profiles) {
  runConformance({
    name: profile.name,
    makeBackend: ({ prefix, transport }) =>
      zookeeper({
        url: profile.url,
        prefix,
        extensions: profile.extensions,
        transport: transport ?? baseTransport,
      }),
    baseTransport,
    clock: systemClock,
    elapse: (ms) => systemClock.sleep(ms),
    // The gateway closes a session when its expire timer fires (at TTL after the last heartbeat); ZooKeeper
    // deletes the ephemeral znode with the session, within milliseconds.
    expirySlackMs: 500,
  });
}
