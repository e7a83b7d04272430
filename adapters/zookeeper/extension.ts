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
 * - `GET /leasehold/v1/watch?path=<znode>[&after=<cursor>][&waitMs=<ms>]` → 200 {@link WatchAnswer}: a long
 *   poll of one znode, backed by a ZooKeeper watch the server keeps on it. Without `after`: the znode now, at
 *   once. With `after` (the `cursor` of the previous answer): every state the server read since, in order, as
 *   soon as there is one, or none after `waitMs` (default {@link DEFAULT_WATCH_WAIT_MS}, at most
 *   {@link MAX_WATCH_WAIT_MS}). 410 when the server cannot tell what changed since `after` (its watch of the
 *   znode restarted, another instance answered, the states since fell out of its log, or it saw a change it
 *   could not follow): start again without `after`.
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
/** Where a znode is watched. */
export const WATCH_PATH = `${EXTENSION_PATH}/watch`;
/** The name of the watch in {@link ExtensionInfo}. */
export const WATCH = "watch";
/** How long a watch request waits for a change when it does not say, in ms. */
export const DEFAULT_WATCH_WAIT_MS = 30_000;
/** The longest wait a watch request may ask for, in ms; more is refused (400). */
export const MAX_WATCH_WAIT_MS = 60_000;
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

/** A watch cursor: the server's watch of the znode (an opaque epoch) and the last state sent, `<epoch>.<seq>`. */
export const WATCH_CURSOR = /^[A-Za-z0-9_-]{1,64}\.(0|[1-9][0-9]{0,18})$/;

/**
 * One state of the watched znode, as the server read it: `node` null when it does not exist, else its stat
 * and data (`data64`, absent when it stores none). `zxid` orders the states: the znode's mzxid, or for a
 * missing znode the pzxid of its parent read then (0 when the parent is missing too).
 */
export const watchedState = z.object({
  zxid: long,
  node: z.nullable(z.extend(znodeStat, { data64 })),
});
export type WatchedState = z.infer<typeof watchedState>;

/** `GET /leasehold/v1/watch`, 200: the states since `after` (or the one now), and the cursor to ask after. */
export const watchAnswer = z.object({
  cursor: z.string().check(z.regex(WATCH_CURSOR)),
  changes: z.array(watchedState),
});
export type WatchAnswer = z.infer<typeof watchAnswer>;
