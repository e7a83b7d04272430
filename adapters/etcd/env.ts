/**
 * etcd configuration from environment variables: `process.env` on Node, the `env` bindings object on Workers.
 *
 * - `LEASEHOLD_ETCD_ENDPOINTS` (else `ETCDCTL_ENDPOINTS`): comma-separated gateway URLs (`host:port` means
 *   `http://host:port`, as for `etcd()`).
 * - `LEASEHOLD_ETCD_PREFIX`: key prefix (optional).
 * - `LEASEHOLD_ETCD_USERNAME` and `LEASEHOLD_ETCD_PASSWORD` (else etcdctl's `ETCDCTL_USER`, as `name:password` or
 *   as `name` with `ETCDCTL_PASSWORD`): etcd credentials (optional; both or neither).
 *
 * TLS files (CA, client certificate) are read on Node by `undiciTransportFromEnv` from `leasehold/node`.
 */
import { InvalidArgumentError } from "../../src/backend-kit.ts";
import { type EtcdAuth, type EtcdOptions, validateEndpoints, validatePrefix } from "./options.ts";

/** An environment: string values by variable name. Non-string bindings (KV namespaces, secrets objects) are ignored. */
export type EnvSource = Readonly<Record<string, unknown>>;

function text(env: EnvSource, name: string): string | undefined {
  const value = env[name];
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/**
 * Reads etcd options from `env`. Options passed in `overrides` win over the environment.
 * @throws {InvalidArgumentError} whose `field` names the variable, e.g. `LEASEHOLD_ETCD_ENDPOINTS[1]`.
 */
export function etcdOptionsFromEnv(env: EnvSource, overrides: Partial<EtcdOptions> = {}): EtcdOptions {
  const variable = text(env, "LEASEHOLD_ETCD_ENDPOINTS") ? "LEASEHOLD_ETCD_ENDPOINTS" : "ETCDCTL_ENDPOINTS";
  const raw = text(env, variable);
  let endpoints = overrides.endpoints;
  if (endpoints === undefined) {
    if (raw === undefined) {
      throw new InvalidArgumentError(
        "LEASEHOLD_ETCD_ENDPOINTS",
        "must be set to comma-separated etcd URLs (ETCDCTL_ENDPOINTS is read as a fallback)",
      );
    }
    endpoints = validateEndpoints(raw.split(","), variable);
  }
  const prefixVar = text(env, "LEASEHOLD_ETCD_PREFIX");
  let prefix = overrides.prefix;
  if (prefix === undefined && prefixVar !== undefined) {
    try {
      prefix = validatePrefix(prefixVar);
    } catch (error) {
      throw new InvalidArgumentError("LEASEHOLD_ETCD_PREFIX", (error as InvalidArgumentError).rule);
    }
  }
  const auth = overrides.auth ?? authFromEnv(env);
  return {
    ...overrides,
    endpoints,
    ...(prefix === undefined ? {} : { prefix }),
    ...(auth === undefined ? {} : { auth }),
  };
}

/** Credentials from the environment; error messages name variables, never their values. */
function authFromEnv(env: EnvSource): EtcdAuth | undefined {
  const username = text(env, "LEASEHOLD_ETCD_USERNAME");
  const password = text(env, "LEASEHOLD_ETCD_PASSWORD");
  if (username !== undefined || password !== undefined) {
    if (username === undefined) {
      throw new InvalidArgumentError("LEASEHOLD_ETCD_USERNAME", "must be set with LEASEHOLD_ETCD_PASSWORD");
    }
    if (password === undefined) {
      throw new InvalidArgumentError("LEASEHOLD_ETCD_PASSWORD", "must be set with LEASEHOLD_ETCD_USERNAME");
    }
    return { username, password };
  }
  const user = text(env, "ETCDCTL_USER");
  if (user === undefined) return undefined;
  const colon = user.indexOf(":");
  const name = colon < 0 ? user : user.slice(0, colon);
  const secret = colon < 0 ? text(env, "ETCDCTL_PASSWORD") : user.slice(colon + 1);
  if (name === "") throw new InvalidArgumentError("ETCDCTL_USER", "must start with a user name");
  if (!secret) {
    throw new InvalidArgumentError(
      "ETCDCTL_USER",
      "must be name:password, or name with ETCDCTL_PASSWORD set",
    );
  }
  return { username: name, password: secret };
}
