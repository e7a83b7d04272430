/**
 * etcd v3 JSON-gateway wire shapes, parsed with zod/mini. The gateway marshals with protojson (original proto
 * field names): int64 fields are decimal strings, and fields at their default value (0, false, empty bytes,
 * empty lists) are omitted, so every absent field reads as its default. Unknown fields are ignored so that
 * newer etcd versions still parse.
 */
import * as z from "zod/mini";
import { decodeBase64, type KeyValue, MalformedResponseError } from "../../src/backend-kit.ts";

// int64 fields stay strings here; `int()` checks their digits where they are used. Format checks live in our code
// rather than in zod checks to keep the edge bundle small. Bytes fields are base64 strings.
export const str = z.optional(z.string());

/** mvccpb.KeyValue: in range answers, txn responses and watch events. */
export const keyValue = z.object({
  key: str,
  create_revision: str,
  mod_revision: str,
  version: str,
  value: str,
  lease: str,
});
export type WireKeyValue = z.infer<typeof keyValue>;

/** `POST /v3/lease/grant` → LeaseGrantResponse (its header is not needed). */
export const grantResponse = z.object({ ID: str, TTL: str });

/** `POST /v3/lease/keepalive` streams LeaseKeepAliveResponse messages, each wrapped as `{"result": ...}`. */
export const keepAliveResponse = z.object({ result: grantResponse });

// etcd gives every response of a txn its header: one without is not etcd's (responsesOf checks).
const header = z.optional(z.object({}));
const responseOp = z.object({
  response_range: z.optional(z.object({ kvs: z.optional(z.array(keyValue)), count: str, header })),
  response_put: z.optional(z.object({ header })),
  response_delete_range: z.optional(z.object({ deleted: str, header })),
});
export type WireResponseOp = z.infer<typeof responseOp>;

/** `POST /v3/kv/txn` → TxnResponse. */
export const txnResponse = z.object({
  header: z.object({ revision: str }),
  succeeded: z.optional(z.boolean()),
  responses: z.optional(z.array(responseOp)),
});
type WireTxn = z.infer<typeof txnResponse>;

/** An answer that parsed but cannot be etcd's. */
export const malformed = (what: string) => new MalformedResponseError(`etcd ${what}: malformed answer`);

/**
 * The responses of a txn's branch, checked against its ops: `ok` (success) or `failed` (failure) spells one
 * letter per op, r(ange), p(ut) or d(elete) (the letter after `response_`); without `failed` the txn must have
 * succeeded.
 * @throws {MalformedResponseError} another branch, count or kind of response.
 */
export function responsesOf(txn: WireTxn, ok: string, what: string, failed?: string): WireResponseOp[] {
  const responses = txn.responses ?? [];
  const kinds = responses.map((r) => {
    const [kind, ...more] = Object.keys(r) as (keyof WireResponseOp)[];
    return kind && !more.length && r[kind]?.header ? kind[9] : "?";
  });
  if (kinds.join("") !== (txn.succeeded ? ok : failed)) throw malformed(what);
  return responses;
}

/**
 * The kv of a single-key (or limit 1) range: undefined when it found none.
 * @throws {MalformedResponseError} not the one kv its count says, or one of another key than `key` (base64).
 */
export function kvOf(res: WireResponseOp | undefined, key?: string): WireKeyValue | undefined {
  const kvs = res?.response_range?.kvs ?? [];
  const kv = kvs[0];
  if (
    kvs.length !== (int(res?.response_range?.count) > 0n ? 1 : 0) ||
    (kv && key !== undefined && kv.key !== key)
  ) {
    throw malformed("range");
  }
  return kv;
}

/** The gateway's error body for a non-200 status (a gRPC status). */
export const errorBody = z.object({ error: str, message: str, code: z.optional(z.number()) });

/** Canonical base64 (RFC 4648 with padding, and zero pad bits: one text per byte string). */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$/;
const INT64 = /^(0|-?[1-9]\d{0,18})$/;
/** The int64 fields of the answers leasehold reads (cluster_id and member_id are uint64, and unused). */
const INT64_FIELD = /^(revision|raft_term|create_revision|mod_revision|version|lease|ID|TTL|deleted|count)$/;

/**
 * True for a decimal int64 as protojson writes it: no sign on 0, no leading zeros, within range. Up to 18
 * characters it is in range by its length, without a BigInt.
 */
const isInt64 = (v: string) => INT64.test(v) && (v.length < 19 || BigInt.asIntN(64, BigInt(v)) === BigInt(v));

/**
 * Checks every int64 and bytes field of parsed JSON, whether or not leasehold reads it: one walk after
 * `JSON.parse`, several times cheaper than a reviver. Array elements name no field, so their strings pass.
 */
const checkField = (key: string, value: unknown): void => {
  if (typeof value === "string") {
    const bad = INT64_FIELD.test(key)
      ? !isInt64(value)
      : (key === "key" || key === "value") && !BASE64.test(value);
    if (bad) throw new Error(`${key} is out of format`);
  } else if (Array.isArray(value)) {
    // for...of: for...in over an array costs 4 µs more on a leader() answer.
    for (const item of value) checkField("", item);
  } else if (typeof value === "object" && value) {
    for (const k in value) checkField(k, (value as Record<string, unknown>)[k]);
  }
};

/**
 * Parses JSON text against `schema`.
 * @throws {MalformedResponseError} bad JSON, an unexpected shape, or an int64 or bytes field out of format.
 */
export function parseWire<T>(schema: z.ZodMiniType<T>, text: string, what: string): T {
  let cause: unknown;
  try {
    const json: unknown = JSON.parse(text);
    checkField("", json);
    const parsed = schema.safeParse(json);
    if (parsed.success) return parsed.data;
    cause = parsed.error;
  } catch (error) {
    cause = error;
  }
  throw new MalformedResponseError(`etcd ${what}: the answer is not the expected JSON`, { cause });
}

/**
 * An int64 field: absent means 0. Exact: never passes through a JS number.
 * @throws {MalformedResponseError} when the field is not a decimal int64.
 */
export function int(value: string | undefined): bigint {
  if (value === undefined) return 0n;
  if (!isInt64(value)) throw malformed("int64");
  return BigInt(value);
}

/** A positive int64 (a revision, a lease ID, a TTL), or the answer is malformed. */
export function positive(value: string | undefined, what: string): bigint {
  const n = int(value);
  if (n <= 0n) throw malformed(what);
  return n;
}

/** @throws {MalformedResponseError} a revision or version that an existing key cannot have. */
export function toKeyValue(kv: WireKeyValue): KeyValue {
  return {
    key: decodeBase64(kv.key ?? "", "etcd kvs.key"),
    value: decodeBase64(kv.value ?? "", "etcd kvs.value"),
    createRevision: positive(kv.create_revision, "kv"),
    modRevision: positive(kv.mod_revision, "kv"),
    version: positive(kv.version, "kv"),
  };
}
