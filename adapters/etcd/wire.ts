/**
 * etcd v3 JSON-gateway wire shapes, parsed with zod/mini. The gateway marshals with protojson (original proto
 * field names): int64 fields are decimal strings, and fields at their default value (0, false, empty bytes,
 * empty lists) are omitted, so every absent field reads as its default. Unknown fields are ignored so that
 * newer etcd versions still parse.
 */
import * as z from "zod/mini";
import { type KeyValue, MalformedResponseError } from "../../src/index.ts";
import { decodeBase64 } from "./base64.ts";

// int64 fields stay strings here; `int()` checks their digits where they are used. Format checks live in our code
// rather than in zod checks to keep the edge bundle small.
const int64 = z.optional(z.string());
const bytes = z.optional(z.string());

const header = z.object({ revision: int64 });

const keyValue = z.object({
  key: bytes,
  create_revision: int64,
  mod_revision: int64,
  version: int64,
  value: bytes,
  lease: int64,
});
export type WireKeyValue = z.infer<typeof keyValue>;

/** `POST /v3/lease/grant` → LeaseGrantResponse. */
export const grantResponse = z.object({
  header: z.optional(header),
  ID: int64,
  TTL: int64,
  error: z.optional(z.string()),
});

/** `POST /v3/lease/keepalive` streams LeaseKeepAliveResponse messages, each wrapped as `{"result": ...}`. */
export const keepAliveResponse = z.object({
  result: z.object({ header: z.optional(header), ID: int64, TTL: int64 }),
});

/** `POST /v3/kv/range` → RangeResponse. */
export const rangeResponse = z.object({ header: z.optional(header), kvs: z.optional(z.array(keyValue)) });

const responseOp = z.object({
  response_range: z.optional(z.object({ kvs: z.optional(z.array(keyValue)) })),
  response_put: z.optional(z.object({})),
  response_delete_range: z.optional(z.object({ deleted: int64 })),
});
export type WireResponseOp = z.infer<typeof responseOp>;

/** `POST /v3/kv/txn` → TxnResponse. */
export const txnResponse = z.object({
  header: header,
  succeeded: z.optional(z.boolean()),
  responses: z.optional(z.array(responseOp)),
});

/** The gateway's error body for a non-200 status (a gRPC status). */
export const errorBody = z.object({
  error: z.optional(z.string()),
  message: z.optional(z.string()),
  code: z.optional(z.number()),
});

/** Parses JSON text against `schema`. @throws {MalformedResponseError} on bad JSON or an unexpected shape. */
export function parseWire<T>(schema: z.ZodMiniType<T>, text: string, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new MalformedResponseError(`etcd ${what}: response is not JSON`, { cause: error });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new MalformedResponseError(`etcd ${what}: unexpected response shape`, { cause: parsed.error });
  }
  return parsed.data;
}

const INT64 = /^-?(0|[1-9]\d{0,18})$/;

/**
 * An int64 field: absent means 0. Exact: never passes through a JS number.
 * @throws {MalformedResponseError} when the field is not a decimal int64.
 */
export function int(value: string | undefined): bigint {
  if (value === undefined) return 0n;
  if (!INT64.test(value))
    throw new MalformedResponseError(
      `etcd response has a malformed int64: ${JSON.stringify(value.slice(0, 30))}`,
    );
  return BigInt(value);
}

export function toKeyValue(kv: WireKeyValue): KeyValue {
  return {
    key: decodeBase64(kv.key ?? "", "kvs.key"),
    value: decodeBase64(kv.value ?? "", "kvs.value"),
    createRevision: int(kv.create_revision),
    modRevision: int(kv.mod_revision),
    version: int(kv.version),
  };
}
