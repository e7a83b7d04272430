/**
 * etcd configuration from environment variables: `process.env` on Node, the `env` bindings object on Workers.
 *
 * - `LEASEHOLD_ETCD_ENDPOINTS` (else `ETCDCTL_ENDPOINTS`): comma-separated gateway URLs.
 * - `LEASEHOLD_ETCD_PREFIX`: key prefix (optional).
 */
import { InvalidArgumentError } from "../../src/index.ts";
import { type EtcdOptions, validateEndpoints, validatePrefix } from "./options.ts";

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
    endpoints = validateEndpoints(
      raw.split(",").map((s) => (/^[a-z]+:\/\//i.test(s.trim()) ? s.trim() : `http://${s.trim()}`)),
      variable,
    );
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
  return { ...overrides, endpoints, ...(prefix === undefined ? {} : { prefix }) };
}
