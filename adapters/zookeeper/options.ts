/** Validation of `zookeeper()` options. */
import { InvalidArgumentError, type Transport } from "../../src/backend-kit.ts";
import { validateZnodeSegment } from "./paths.ts";

/** HTTP basic auth credentials for the gateway (Apache's `rest.http.auth`, `leasehold-zk-gateway --basic-auth-file`). */
export interface ZooKeeperAuth {
  username: string;
  password: string;
}

/**
 * Which gateway extension `doIfLeader` may use. `capabilities` is fixed by this choice when `zookeeper()`
 * returns and never changes (one frozen object):
 *
 * - `"auto"` (default): `capabilities.atomicGuard` is true: `doIfLeader` is ONE multi or refuses. The
 *   extension (`GET /leasehold/v1`) is detected lazily, alongside the first claim or before the first
 *   transaction, once per backend instance; against a gateway without it (Apache's), `doIfLeader` throws
 *   `UnsupportedError` and sends nothing, even with `allowNonAtomicGuard`. A failed probe is asked again by
 *   the next transaction, which throws the probe's error when it fails too.
 * - `"leasehold-v1"`: require it: `atomicGuard` is true, and a gateway without it fails `doIfLeader` with
 *   `UnsupportedError`; no probe is sent.
 * - `"none"`: SPEC v2 only (e.g. Apache's gateway): `atomicGuard` is false; `doIfLeader` then needs
 *   `allowNonAtomicGuard: true` and checks, then writes, in separate requests.
 */
export type ZooKeeperExtensions = "auto" | "none" | "leasehold-v1";

export interface ZooKeeperOptions {
  /**
   * Base URL of a ZooKeeper REST gateway (SPEC v2), e.g. `http://127.0.0.1:9998`: `leasehold-zk-gateway` or
   * Apache's. It may end in a path when the gateway is bound below the root (`http://host/zookeeper`); no
   * query, fragment or credentials (use `auth`).
   */
  url: string;
  /**
   * The znode under which leader znodes live, e.g. `/leasehold` (default) or `apps/leases`: one or more
   * path segments; leading and trailing "/" are optional.
   */
  prefix?: string;
  /** HTTP basic auth for the gateway. */
  auth?: ZooKeeperAuth;
  /** HTTP transport. Default: `fetchTransport()`; on Node, `undiciTransport()` from `leasehold/node` pipelines. */
  transport?: Transport;
  /** Gateway extension use; see {@link ZooKeeperExtensions}. Default `"auto"`. */
  extensions?: ZooKeeperExtensions;
}

export const DEFAULT_PREFIX = "/leasehold";

/** @throws {InvalidArgumentError} `url` is not an absolute http(s) URL without query, fragment or credentials. */
export function validateUrl(url: unknown): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    throw new InvalidArgumentError("url", `must be an absolute http(s) URL (got ${JSON.stringify(url)})`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new InvalidArgumentError("url", "must use http: or https:");
  }
  if (parsed.username || parsed.password) {
    throw new InvalidArgumentError("url", "must not contain credentials (use the auth option)");
  }
  if (parsed.search || parsed.hash) throw new InvalidArgumentError("url", "must have no query or fragment");
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}`;
}

/**
 * Normalises the prefix to an absolute znode path without trailing "/", e.g. "leasehold/" → "/leasehold".
 * @throws {InvalidArgumentError} empty, too long, or a segment ZooKeeper does not accept.
 */
export function validatePrefix(prefix: unknown): string {
  if (prefix === undefined) return DEFAULT_PREFIX;
  if (typeof prefix !== "string" || prefix.length > 128) {
    throw new InvalidArgumentError("prefix", "must be a znode path of at most 128 characters");
  }
  const segments = prefix.replace(/^\/+|\/+$/g, "").split("/");
  if (segments.length === 1 && segments[0] === "") {
    throw new InvalidArgumentError("prefix", 'must name a znode below the root, e.g. "/leasehold"');
  }
  if (segments[0] === "zookeeper") {
    throw new InvalidArgumentError("prefix", 'must not be under "/zookeeper" (reserved by ZooKeeper)');
  }
  for (const segment of segments) validateZnodeSegment(segment, "prefix");
  return `/${segments.join("/")}`;
}

export function validateAuth(auth: unknown): ZooKeeperAuth | undefined {
  if (auth === undefined) return undefined;
  const { username, password } = (auth ?? {}) as Partial<ZooKeeperAuth>;
  if (typeof username !== "string" || username === "" || username.includes(":")) {
    throw new InvalidArgumentError("auth.username", "must be a non-empty string without ':'");
  }
  if (typeof password !== "string") throw new InvalidArgumentError("auth.password", "must be a string");
  return { username, password };
}

export function validateExtensions(value: unknown): ZooKeeperExtensions {
  if (value === undefined) return "auto";
  if (value === "auto" || value === "none" || value === "leasehold-v1") return value;
  throw new InvalidArgumentError("extensions", 'must be "auto", "none" or "leasehold-v1"');
}
