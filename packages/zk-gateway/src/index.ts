/**
 * `@leasehold/zk-gateway`: the ZooKeeper REST gateway server of the `leasehold-zk-gateway` bin, to start
 * in-process.
 *
 * ```ts
 * import { createZkGateway } from "@leasehold/zk-gateway";
 * const server = createZkGateway({ zookeeper: "127.0.0.1:2181", port: 9998 });
 * const url = await server.listen();
 * ```
 */
export type { Credentials } from "./basic-auth.ts";
export { parseCredentials } from "./basic-auth.ts";
export { createZkGateway, type ZkGateway, type ZkGatewayOptions } from "./server.ts";
export { parseSessionKeys } from "./session-token.ts";
