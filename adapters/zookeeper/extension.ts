/**
 * `leasehold/zookeeper/extension`: the wire contract of the `/leasehold/v1` extension that the
 * `leasehold-zk-gateway` server (package `@leasehold/zk-gateway`) serves beside SPEC v2, versioned by its
 * path. The one definition of it: the ZooKeeper backend builds its requests and parses the answers with
 * these schemas, and the server parses the requests and types its answers with them (docs/zookeeper.md).
 *
 * - `GET /leasehold/v1` → 200 {@link ExtensionInfo}: lets clients detect the extension.
 * - `POST /leasehold/v1/multi[?session=<REST session ID>]` with a {@link MultiRequest} → ONE ZooKeeper multi
 *   (all or nothing) on that REST session's ZooKeeper session (401 without a challenge when the server does
 *   not have it), or the server's own. 200 → {@link MultiResults}, one result per op; when ZooKeeper refuses
 *   an op, the status SPEC v2 gives that error (404 NONODE, 409 NODEEXISTS/NOTEMPTY, 412 BADVERSION, ...)
 *   and a {@link MultiFailure} naming the op.
 *
 * The 64-bit stat fields are bare JSON numbers, exact to 64 bits: a client reads them from their source text
 * as bigints (the backend's exact-json.ts), so the answer schemas take bigints.
 */
import * as z from "zod/mini";

/** The extension's base path; its version is part of it. */
export const EXTENSION_PATH = "/leasehold/v1";
/** Where a multi is posted. */
export const MULTI_PATH = `${EXTENSION_PATH}/multi`;
/** The name of the multi in {@link ExtensionInfo}. */
export const MULTI = "multi";
/** Most ops in one multi; a larger request is refused (400). */
export const MAX_MULTI_OPS = 512;

/** Canonical base64 (RFC 4648 with padding, and zero pad bits: one text per byte string). */
export const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$/;

const int = z.number().check(z.int());
const long = z.bigint();
const text = z.optional(z.nullable(z.string()));
const path = z.string().check(z.minLength(1));
/** A ZooKeeper data version to match; -1 (the default) matches any. */
const zkVersion = z.optional(z.int().check(z.gte(-1), z.lte(2147483647)));
/** The znode's data in base64; absent or null stores no data. */
const data64 = z.optional(z.nullable(z.string().check(z.regex(BASE64))));

/** `GET /leasehold/v1`, 200: the extensions the server serves. */
export const extensionInfo = z.object({ extensions: z.array(z.string()) });
export type ExtensionInfo = z.infer<typeof extensionInfo>;

/** One op of a multi. `create` is persistent unless `ephemeral` (then owned by the multi's ZooKeeper session). */
export const multiOp = z.discriminatedUnion("op", [
  z.object({ op: z.literal("check"), path, version: zkVersion }),
  z.object({ op: z.literal("create"), path, data64, ephemeral: z.optional(z.boolean()) }),
  z.object({ op: z.literal("set"), path, data64, version: zkVersion }),
  z.object({ op: z.literal("delete"), path, version: zkVersion }),
]);
export type MultiOp = z.infer<typeof multiOp>;

/** `POST /leasehold/v1/multi`: the request body, 1 to {@link MAX_MULTI_OPS} ops. */
export const multiRequest = z.object({
  ops: z.array(multiOp).check(z.minLength(1), z.maxLength(MAX_MULTI_OPS)),
});
export type MultiRequest = z.infer<typeof multiRequest>;

/** A znode's stat: the fields of SPEC v2's STAT entity, the longs exact. */
export const znodeStat = z.object({
  czxid: long,
  mzxid: long,
  ctime: long,
  mtime: long,
  version: int,
  cversion: int,
  aversion: int,
  ephemeralOwner: long,
  dataLength: int,
  numChildren: int,
  pzxid: long,
});
export type ZnodeStat = z.infer<typeof znodeStat>;

/** What one op did: `create` gives the path created, `set` the znode's new stat. */
export const multiResult = z.discriminatedUnion("op", [
  z.object({ op: z.literal("check") }),
  z.object({ op: z.literal("create"), path: z.string() }),
  z.object({ op: z.literal("set"), stat: znodeStat }),
  z.object({ op: z.literal("delete") }),
]);
export type MultiResult = z.infer<typeof multiResult>;

/** `POST /leasehold/v1/multi`, 200: one result per op, in order. */
export const multiResults = z.object({ results: z.array(multiResult) });
export type MultiResults = z.infer<typeof multiResults>;

/**
 * `POST /leasehold/v1/multi`, 4xx: ZooKeeper refused op `index` (0-based) with `code`, its
 * `KeeperException.Code` name (e.g. "BADVERSION"); nothing was applied. `request` and `message` are SPEC
 * v2's ZError fields.
 */
export const multiFailure = z.object({ request: text, message: text, index: int, code: z.string() });
export type MultiFailure = z.infer<typeof multiFailure>;
