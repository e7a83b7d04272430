/**
 * `leasehold/zookeeper`: the ZooKeeper backend over a ZooKeeper REST gateway (SPEC v2): leasehold's own
 * `leasehold-zk-gateway` (which adds an atomic multi extension) or Apache ZooKeeper's contrib gateway.
 *
 * ```ts
 * import { createLease } from "leasehold";
 * import { zookeeper } from "leasehold/zookeeper";
 * const lease = createLease({ backend: zookeeper({ url: "http://127.0.0.1:9998" }), name: "jobs/report", holder: "a", ttlMs: 10_000 });
 * ```
 */

import { type Backend, fetchTransport, InvalidArgumentError } from "../../src/backend-kit.ts";
import { redacting } from "../../src/errors.ts";
import { ZooKeeperBackend } from "./backend.ts";
import {
  validateAuth,
  validateExtensions,
  validatePrefix,
  validateUrl,
  type ZooKeeperOptions,
} from "./options.ts";
import { RestClient } from "./rest.ts";

export { ZOOKEEPER_TTL } from "./backend.ts";
export {
  DEFAULT_PREFIX,
  type ZooKeeperAuth,
  type ZooKeeperExtensions,
  type ZooKeeperOptions,
} from "./options.ts";

/**
 * Creates a ZooKeeper Backend. No request is sent until a lease method is called.
 * @throws {InvalidArgumentError} an option breaks a rule (`url`, `prefix`, `auth.*`, `transport`, `extensions`).
 */
export function zookeeper(options: ZooKeeperOptions): Backend {
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError("options", "must be an object with url");
  }
  const url = validateUrl(options.url);
  const prefix = validatePrefix(options.prefix);
  const auth = validateAuth(options.auth);
  const extensions = validateExtensions(options.extensions);
  const transport = options.transport ?? fetchTransport();
  if (typeof transport.request !== "function") {
    throw new InvalidArgumentError("transport", "must be a Transport with request(req)");
  }
  const rest = new RestClient(url, transport, auth);
  const backend = new ZooKeeperBackend(rest, prefix, extensions, transport);
  return auth ? redacting(backend, () => rest.secrets()) : backend;
}
