/**
 * globalSetup of the "zookeeper" vitest project: starts a throwaway ZooKeeper 3.8 and two leasehold REST
 * gateways in front of it, one with the multi extension and one SPEC v2 only (as Apache's gateway), once per
 * test run, and stops them afterwards. Tests read the addresses with `inject(...)`.
 */
import type { TestProject } from "vitest/node";
import { createZkGateway } from "../packages/zk-gateway/src/server.ts";
import { startZooKeeper } from "../scripts/lib/zookeeper-server.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** ZooKeeper's client address, e.g. `127.0.0.1:41234`. */
    zkConnectString: string;
    /** The server's tick in ms. */
    zkTickTimeMs: number;
    /** Base URL of a leasehold-zk-gateway with the `/leasehold/v1` extension. */
    zkGatewayUrl: string;
    /** Base URL of a leasehold-zk-gateway serving SPEC v2 only (`--no-extensions`). */
    zkPlainGatewayUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const zk = await startZooKeeper();
  const gateways = [
    createZkGateway({ zookeeper: zk.connectString, port: 0 }),
    createZkGateway({ zookeeper: zk.connectString, port: 0, extensions: false }),
  ];
  try {
    const [url, plainUrl] = await Promise.all(gateways.map((g) => g.listen()));
    project.provide("zkConnectString", zk.connectString);
    project.provide("zkTickTimeMs", zk.tickTimeMs);
    project.provide("zkGatewayUrl", url as string);
    project.provide("zkPlainGatewayUrl", plainUrl as string);
  } catch (error) {
    await Promise.all(gateways.map((g) => g.close({ sessions: "close" })));
    await zk.stop();
    throw error;
  }
  return async () => {
    await Promise.all(gateways.map((g) => g.close({ sessions: "close" })));
    await zk.stop();
  };
}
