/**
 * `leasehold/node`: Node-only helpers. `undiciTransport()` keeps keep-alive connections per endpoint and
 * pipelines a claim's grant+txn; `undiciTransportFromEnv()` adds TLS files named by environment variables.
 *
 * ```ts
 * import { etcd } from "leasehold/etcd";
 * import { undiciTransport } from "leasehold/node";
 * const backend = etcd({ endpoints: ["https://etcd-1:2379", "https://etcd-2:2379"], transport: undiciTransport() });
 * ```
 */
export { type EnvSource, etcdTlsFromEnv, undiciTransportFromEnv } from "./env.ts";
export {
  type UndiciTlsOptions,
  type UndiciTransportOptions,
  undiciTransport,
} from "./transport.ts";
