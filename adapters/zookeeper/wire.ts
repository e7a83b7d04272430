/**
 * SPEC v2 wire shapes of a ZooKeeper REST gateway, as Apache's Java gateway writes them, parsed with
 * zod/mini (the `/leasehold/v1` extension's are in extension.ts). The long stat fields arrive as bigints from
 * {@link parseExactJson}. Unknown fields are ignored; absent optional fields are what the Java gateway leaves
 * out (Java nulls).
 */
import * as z from "zod/mini";
import { decodeBase64, type KeyValue, MalformedResponseError } from "../../src/backend-kit.ts";
import { parseExactJson } from "./exact-json.ts";
import { BASE64, type ZnodeStat, znodeStat } from "./extension.ts";

const text = z.optional(z.nullable(z.string()));

/** A REST session ID as it may appear in a URL path segment (Apache's are UUIDs, leasehold-zk-gateway's sealed tokens). */
export const SESSION_ID = /^[A-Za-z0-9._~-]{1,128}$/;

/** STAT: `GET /znodes/v1/<path>` (JSON), and `PUT` (without data). */
export const statEntity = z.extend(znodeStat, { path: z.string(), uri: text, data64: text, dataUtf8: text });
export type StatEntity = z.infer<typeof statEntity>;

/** What the guard's result in a multi must show of the leader znode: the fields of its stat that are used. */
export type SetStat = Pick<ZnodeStat, "czxid" | "mzxid" | "version" | "ephemeralOwner">;

/** SESSION: `POST /sessions/v1/?op=create&expire=<s>`. */
export const sessionEntity = z.object({ id: z.string().check(z.regex(SESSION_ID)), uri: text });

/** ZError: the body of most error answers. */
export const errorEntity = z.object({ request: text, message: text });

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
