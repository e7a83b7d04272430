/**
 * etcd v3 JSON-gateway wire shapes, parsed with zod/mini. The gateway marshals with protojson (original proto
 * field names): int64 fields are decimal strings, and fields at their default value (0, false, empty bytes,
 * empty lists) are omitted, so every absent field reads as its default. Unknown fields are ignored so that
 * newer etcd versions still parse.
 */
import * as z from "zod/mini";
import { decodeBase64, type KeyValue, MalformedResponseError } from "../../src/index.ts";

// int64 fields stay strings here; `int()` checks their digits where they are used. Format checks live in our code
// rather than in zod checks to keep the edge bundle small. Bytes fields are base64 strings.
const str = z.optional(z.string());

const keyValue = z.object({
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

/** `POST /v3/kv/range` → RangeResponse; also the `response_range` of a txn. */
export const rangeResponse = z.object({ kvs: z.optional(z.array(keyValue)) });

const responseOp = z.object({
  response_range: z.optional(rangeResponse),
  response_put: z.optional(z.object({})),
  response_delete_range: z.optional(z.object({ deleted: str })),
});
export type WireResponseOp = z.infer<typeof responseOp>;

/** `POST /v3/kv/txn` → TxnResponse. */
export const txnResponse = z.object({
  header: z.object({ revision: str }),
  succeeded: z.optional(z.boolean()),
  responses: z.optional(z.array(responseOp)),
});

/** The gateway's error body for a non-200 status (a gRPC status). */
export const errorBody = z.object({ error: str, message: str, code: z.optional(z.number()) });

/** Parses JSON text against `schema`. @throws {MalformedResponseError} on bad JSON or an unexpected shape. */
export function parseWire<T>(schema: z.ZodMiniType<T>, text: string, what: string): T {
  let cause: unknown;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
    cause = parsed.error;
  } catch (error) {
    cause = error;
  }
  throw new MalformedResponseError(`etcd ${what}: the answer is not the expected JSON`, { cause });
}

const INT64 = /^-?(0|[1-9]\d{0,18})$/;

/**
 * An int64 field: absent means 0. Exact: never passes through a JS number.
 * @throws {MalformedResponseError} when the field is not a decimal int64.
 */
export function int(value: string | undefined): bigint {
  if (value === undefined) return 0n;
  if (!INT64.test(value)) throw new MalformedResponseError("etcd response has a malformed int64");
  return BigInt(value);
}

export function toKeyValue(kv: WireKeyValue): KeyValue {
  return {
    key: decodeBase64(kv.key ?? "", "etcd response field kvs.key"),
    value: decodeBase64(kv.value ?? "", "etcd response field kvs.value"),
    createRevision: int(kv.create_revision),
    modRevision: int(kv.mod_revision),
    version: int(kv.version),
  };
}
