/** Validation of `etcd()` options. */
import { InvalidArgumentError, type Transport } from "../../src/index.ts";

export interface EtcdOptions {
  /**
   * Base URLs of etcd's v3 JSON gateway (the client URLs), e.g. `["http://127.0.0.1:2379"]`: http or https, no
   * path, query or credentials.
   */
  endpoints: readonly string[];
  /** Prefix of lease keys. Default `"leasehold/"`. 1 to 128 characters, no NUL. */
  prefix?: string;
  /** HTTP transport. Default: `fetchTransport()`; on Node, `undiciTransport()` from `leasehold/node` is faster. */
  transport?: Transport;
}

export const DEFAULT_PREFIX = "leasehold/";

/** @throws {InvalidArgumentError} naming the option (`endpoints`, `endpoints[i]`, `prefix`) and the rule. */
export function validateEndpoints(endpoints: unknown, field = "endpoints"): string[] {
  if (!Array.isArray(endpoints) || endpoints.length === 0) {
    throw new InvalidArgumentError(
      field,
      'must be a non-empty array of URLs, e.g. ["http://127.0.0.1:2379"]',
    );
  }
  return endpoints.map((endpoint, i) => {
    const at = `${field}[${i}]`;
    let url: URL;
    try {
      url = new URL(String(endpoint));
    } catch {
      throw new InvalidArgumentError(at, `must be an absolute http(s) URL (got ${JSON.stringify(endpoint)})`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new InvalidArgumentError(at, "must use http: or https:");
    }
    if (url.username || url.password) {
      throw new InvalidArgumentError(at, "must not contain credentials (use the auth option)");
    }
    if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) {
      throw new InvalidArgumentError(at, "must have no path, query or fragment");
    }
    return url.origin;
  });
}

export function validatePrefix(prefix: unknown): string {
  if (prefix === undefined) return DEFAULT_PREFIX;
  if (typeof prefix !== "string" || prefix.length === 0 || prefix.length > 128 || prefix.includes("\0")) {
    throw new InvalidArgumentError("prefix", "must be a string of 1 to 128 characters without NUL");
  }
  return prefix;
}
