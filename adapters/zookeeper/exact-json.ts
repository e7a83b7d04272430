/**
 * JSON parsing that keeps ZooKeeper's 64-bit stat fields exact. The gateways write czxid, mzxid, ctime,
 * mtime, ephemeralOwner and pzxid as bare JSON numbers (Jersey's mapped notation does; so does
 * leasehold-zk-gateway), and real values exceed 2^53: ephemeralOwner is a session ID whose top byte is the
 * server ID, and zxids carry the leader epoch in their top 32 bits. These fields are read from their source
 * text (`JSON.parse` reviver `context.source`: Node 22+, workerd, Deno, current browsers) into bigints.
 */
import { MalformedResponseError } from "../../src/backend-kit.ts";

/** The stat fields that are Java longs, and the zxid of a watched state (extension.ts). */
const LONG_FIELDS: ReadonlySet<string> = new Set([
  "czxid",
  "mzxid",
  "ctime",
  "mtime",
  "ephemeralOwner",
  "pzxid",
  "zxid",
]);

/** The stat fields that are Java ints. */
const INT_FIELDS: ReadonlySet<string> = new Set([
  "version",
  "cversion",
  "aversion",
  "dataLength",
  "numChildren",
]);

/** An integer as Jackson writes one: no sign on 0, no leading zeros, no fraction or exponent. */
const INTEGER = /^(0|-?[1-9]\d*)$/;

type Reviver = (key: string, value: unknown, context?: { source?: string }) => unknown;

const exactLongs: Reviver = (key, value, context) => {
  const long = LONG_FIELDS.has(key);
  if (typeof value !== "number" || !(long || INT_FIELDS.has(key))) return value;
  const source = context?.source;
  if (source === undefined) {
    // A runtime without source text access: only values that survived as exact numbers can be trusted.
    if (Number.isSafeInteger(value)) return long ? BigInt(value) : value;
    throw new Error(`${key} ${value} is beyond 2^53 and this runtime's JSON.parse gives no source text`);
  }
  const n = INTEGER.test(source) ? BigInt(source) : null;
  if (n === null || BigInt.asIntN(long ? 64 : 32, n) !== n) {
    throw new Error(`${key} is not a ${long ? "64" : "32"}-bit integer`);
  }
  return long ? n : value;
};

/**
 * Parses JSON text; the long stat fields become bigints, exact.
 * @throws {MalformedResponseError} the text is not JSON, or a long (int) field is not a 64-bit (32-bit) integer.
 */
export function parseExactJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text, exactLongs as Parameters<typeof JSON.parse>[1]);
  } catch (error) {
    throw new MalformedResponseError(`ZooKeeper gateway ${what}: response is not valid JSON`, {
      cause: error,
    });
  }
}
