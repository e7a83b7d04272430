/**
 * `leasehold/etcd`: the etcd backend over etcd's v3 JSON gateway (etcd 3.4 and later).
 *
 * ```ts
 * import { createLease } from "leasehold";
 * import { etcd } from "leasehold/etcd";
 * const lease = createLease({ backend: etcd({ endpoints: ["http://127.0.0.1:2379"] }), name: "jobs/report", holder: "a", ttlMs: 10_000 });
 * ```
 */

import { type Backend, fetchTransport, InvalidArgumentError } from "../../src/backend-kit.ts";
import { redacting } from "../../src/errors.ts";
import { etcdBackend } from "./backend.ts";
import { Dispatcher } from "./dispatcher.ts";
import { type EnvSource, etcdOptionsFromEnv } from "./env.ts";
import {
  type EtcdOptions,
  validateAuth,
  validateCount,
  validateEndpoints,
  validatePrefix,
} from "./options.ts";

export { ETCD_CAPABILITIES } from "./backend.ts";
export { type EnvSource, etcdOptionsFromEnv } from "./env.ts";
export { DEFAULT_PREFIX, type EtcdAuth, type EtcdOptions } from "./options.ts";
export { type EtcdWatchOptions, etcdWithWatch } from "./watch.ts";

/**
 * Creates an etcd Backend. No request is sent until a lease method is called.
 *
 * With several `endpoints` (members of one cluster), a call that meets a connection error, an attempt timeout
 * or a 5xx / Unavailable answer tries the next endpoint after a short jittered backoff, within the call's
 * deadline; see `EtcdOptions.maxAttempts` for what is retried.
 * @throws {InvalidArgumentError} an option breaks a rule (`endpoints`, `endpoints[i]`, `prefix`, `transport`,
 *   `auth`, `auth.username`, `auth.password`, `maxAttempts`, `attemptTimeoutMs`).
 */
export function etcd(options: EtcdOptions): Backend {
  const endpoints = validateEndpoints(options?.endpoints);
  const prefix = validatePrefix(options.prefix);
  const transport = options.transport ?? fetchTransport();
  if (typeof transport.request !== "function") {
    throw new InvalidArgumentError("transport", "must be a Transport with request(req)");
  }
  const auth = validateAuth(options.auth);
  const dispatcher = new Dispatcher({
    endpoints,
    transport,
    auth,
    maxAttempts: validateCount(options.maxAttempts, "maxAttempts", 1, 100),
    attemptTimeoutMs: validateCount(options.attemptTimeoutMs, "attemptTimeoutMs", 1, 600_000),
  });
  const backend = etcdBackend(dispatcher, prefix);
  return auth ? redacting(backend, () => dispatcher.secrets()) : backend;
}

/**
 * Creates an etcd Backend from environment variables (see {@link etcdOptionsFromEnv}); `overrides` win.
 * @throws {InvalidArgumentError} naming the variable that is missing or invalid.
 */
export function etcdFromEnv(env: EnvSource, overrides: Partial<EtcdOptions> = {}): Backend {
  return etcd(etcdOptionsFromEnv(env, overrides));
}
