/**
 * Wire shapes of a ZooKeeper REST gateway (SPEC v2 as Apache's Java gateway writes it, and the
 * leasehold-zk-gateway multi extension), parsed with zod/mini. The long stat fields arrive as bigints from
 * {@link parseExactJson}. Unknown fields are ignored; absent optional fields are what the Java gateway leaves
 * out (Java nulls).
 */
import * as z from "zod/mini";
import { decodeBase64, type KeyValue, MalformedResponseError } from "../../src/backend-kit.ts";
import { parseExactJson } from "./exact-json.ts";

const long = z.bigint();
const int = z.number().check(z.int());
const text = z.optional(z.nullable(z.string()));

/** A REST session ID as it may appear in a URL path segment (Apache's and ours are UUIDs). */
export const SESSION_ID = /^[A-Za-z0-9._~-]{1,128}$/;

/** STAT: `GET /znodes/v1/<path>` (JSON), and `PUT` (without data). */
export const statEntity = z.object({
  path: z.string(),
  uri: text,
  data64: text,
  dataUtf8: text,
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
export type StatEntity = z.infer<typeof statEntity>;

/** SESSION: `POST /sessions/v1/?op=create&expire=<s>`. */
export const sessionEntity = z.object({ id: z.string().check(z.regex(SESSION_ID)), uri: text });

/** ZError: the body of most error answers. */
export const errorEntity = z.object({ request: text, message: text });

/** `GET /leasehold/v1`: the extensions leasehold-zk-gateway serves. */
export const extensionInfo = z.object({ extensions: z.array(z.string()) });

/** The stat of a `set` in a multi: what the guard's result must show of the leader znode. */
export const setStat = z.object({ czxid: long, mzxid: long, version: int, ephemeralOwner: long });
export type SetStat = z.infer<typeof setStat>;

/** `POST /leasehold/v1/multi`, 200: one result per op; `set` results carry the znode's new stat. */
export const multiResults = z.object({
  results: z.array(z.object({ op: z.string(), stat: z.optional(setStat) })),
});

/** `POST /leasehold/v1/multi`, ZooKeeper refused op `index` with `code` (e.g. "BADVERSION"). */
export const multiFailure = z.object({ index: int, code: z.string(), message: text });

/**
 * Parses JSON text against `schema`.
 * @throws {MalformedResponseError} bad JSON or an unexpected shape.
 */
export function parseWire<T>(schema: z.ZodMiniType<T>, body: string, what: string): T {
  const parsed = schema.safeParse(parseExactJson(body, what));
  if (!parsed.success) {
    throw new MalformedResponseError(`ZooKeeper gateway ${what}: unexpected response shape`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/** Canonical base64 (RFC 4648 with padding, and zero pad bits: one text per byte string). */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$/;

/**
 * Checks a znode's stat as answered for `path`: the znode asked for, zxids of an existing znode (positive),
 * counts that cannot be negative, and `data64` in base64.
 * @throws {MalformedResponseError} otherwise.
 */
export function checkStat(stat: StatEntity, path: string, what: string): StatEntity {
  const ok =
    stat.path === path &&
    stat.czxid > 0n &&
    stat.mzxid >= stat.czxid &&
    stat.pzxid >= 0n &&
    stat.version >= 0 &&
    stat.dataLength >= 0 &&
    stat.numChildren >= 0 &&
    (typeof stat.data64 !== "string" || BASE64.test(stat.data64));
  if (!ok) throw new MalformedResponseError(`ZooKeeper gateway ${what}: the stat is not one of ${path}`);
  return stat;
}

/** The znode's data: `data64` (base64, the default `dataformat`); absent means the znode stores none. */
export function dataOf(stat: StatEntity, what: string): Uint8Array {
  if (stat.data64 && !BASE64.test(stat.data64)) {
    throw new MalformedResponseError(`ZooKeeper gateway ${what}: data64 is not base64`);
  }
  return stat.data64 ? decodeBase64(stat.data64, `ZooKeeper gateway ${what}: data64`) : new Uint8Array(0);
}

/**
 * A znode as a transaction key-value. `version` is ZooKeeper's data version + 1, so that a znode that
 * exists has version >= 1 and a missing one 0, as etcd counts; revisions are czxid and mzxid.
 */
export function toKeyValue(key: Uint8Array, stat: StatEntity, what: string): KeyValue {
  return {
    key,
    value: dataOf(stat, what),
    createRevision: stat.czxid,
    modRevision: stat.mzxid,
    version: BigInt(stat.version) + 1n,
  };
}
