/**
 * The requests the etcd backend sends to the JSON gateway, each answer parsed once: a txn, and the lease
 * requests (keepalive, revoke, timetolive, and the grant's answer); plus the pieces txns are built of.
 */
import type { ZodMiniType } from "zod/mini";
import {
  type CallContext,
  encodeBase64,
  encodeHolderRecord,
  type HolderRecord,
  LeaseLostError,
} from "../../src/backend-kit.ts";
import { type Answer, type Dispatcher, gatewayFailure } from "./dispatcher.ts";
import type { Election } from "./layout.ts";
import {
  grantResponse,
  int,
  keepAliveResponse,
  malformed,
  parseWire,
  positive,
  responsesOf,
  txnResponse,
} from "./wire.ts";

/** Requests safe to send again after a lost answer (see `SendOptions`); the guarded txn is not one. */
export const IDEMPOTENT = { idempotent: true } as const;

/** etcd reports whole seconds left, rounded down, and expires a lease up to 500 ms after its TTL. */
const EXPIRY_BOUND_MS = 1500;

/** Parses a 200 answer with `schema`; any other status becomes a typed error. */
export function parseOk<T>(res: Answer, schema: ZodMiniType<T>, what: string): T {
  if (res.status !== 200) throw gatewayFailure(res, what);
  return parseWire(schema, res.body, what);
}

/**
 * One `POST /v3/kv/txn`, parsed. `body` is the TxnRequest, or its JSON text (see `Dispatcher.post`). Only the
 * caller's guarded txn is not `idempotent` (see `SendOptions`).
 */
export async function sendTxn(
  dispatcher: Dispatcher,
  body: object | string,
  ctx: CallContext,
  what: string,
  idempotent = true,
  maxResponseBytes?: number,
) {
  const res = await dispatcher.post("/v3/kv/txn", body, ctx, { idempotent, maxResponseBytes });
  return parseOk(res, txnResponse, what);
}

/** A range op of one key (base64), or of `[key, end)` with the first key by create revision. */
export const range = (key: string, end?: string) => ({
  request_range: end
    ? { key, range_end: end, sort_order: "ASCEND", sort_target: "CREATE", limit: "1" }
    : { key },
});

/** A compare of `key`'s `target` (etcd's enum) for equality, in the field that target reads. */
export const equal = (key: string, target: string, field: string, value: string) => ({
  key,
  target,
  result: "EQUAL",
  [field]: value,
});

/** The read of claim and leader(): the election's first candidate and the term record, one read-only txn. */
export const readOps = (e: Election) => [range(e.from, e.to), range(e.record)];

/** The put of a term record, attached to the term's lease. */
export const putRecord = (e: Election, record: HolderRecord, lease: string) => ({
  request_put: { key: e.record, value: encodeBase64(encodeHolderRecord(record)), lease },
});

/** Local validity never exceeds the TTL asked: the smaller of asked and granted, in ms. */
export const grantedMs = (ttlS: bigint, askedMs: number) => Math.min(askedMs, Number(ttlS) * 1000);

/**
 * The renewed TTL of a keepalive answer in ms, at most `askedMs`. etcd always names the lease, also when it is
 * gone.
 * @throws {LeaseLostError} etcd no longer has the lease (its answer omits the TTL, i.e. TTL 0).
 */
export function keptAlive(res: Answer, leaseId: string, askedMs: number, retryable = false): number {
  const what = "lease keepalive";
  // The gateway streams one JSON message per line; one request body yields one message.
  const { result } = parseOk({ ...res, body: res.body.split("\n", 1)[0] as string }, keepAliveResponse, what);
  if (result.ID !== leaseId) throw malformed(what);
  const ttlS = int(result.TTL);
  if (ttlS <= 0n) throw new LeaseLostError(`etcd lease ${leaseId} has expired or was revoked`, { retryable });
  return grantedMs(ttlS, askedMs);
}

/** One `POST /v3/lease/keepalive`; returns the granted TTL in ms (see {@link keptAlive}). */
export async function keepAlive(
  dispatcher: Dispatcher,
  leaseId: string,
  askedMs: number,
  ctx: CallContext,
  retryable = false,
): Promise<number> {
  const res = await dispatcher.post("/v3/lease/keepalive", { ID: leaseId }, ctx, IDEMPOTENT);
  return keptAlive(res, leaseId, askedMs, retryable);
}

/** The grant's TTL in ms; "lease already exists" (gRPC 9) means an earlier try of this claim created it. */
export function grantedTtl(
  dispatcher: Dispatcher,
  res: Answer,
  leaseId: string,
  askedMs: number,
  ctx: CallContext,
) {
  // gRPC FailedPrecondition is HTTP 412 from etcd 3.4's gateway and HTTP 400 from etcd 3.5's.
  if ((res.status === 412 || res.status === 400) && res.grpcCode === 9 /* FailedPrecondition */) {
    return keepAlive(dispatcher, leaseId, askedMs, ctx);
  }
  const granted = parseOk(res, grantResponse, "lease grant");
  if (granted.ID !== leaseId) throw malformed("lease grant");
  return grantedMs(positive(granted.TTL, "lease grant"), askedMs);
}

/**
 * A lease grant and a txn that creates keys on that lease, pipelined (one round trip with `undiciTransport`);
 * idempotent by the client-chosen lease ID. Returns the granted TTL in ms (see {@link grantedTtl}) and the txn's
 * answer, its responses checked: two puts when it succeeded, `failed` (see `responsesOf`) otherwise.
 */
export async function grantWithTxn(
  dispatcher: Dispatcher,
  leaseId: string,
  ttlMs: number,
  txn: object,
  ctx: CallContext,
  what: string,
  failed: string,
) {
  const [grant, put] = (await dispatcher.postInOrder(
    [
      { path: "/v3/lease/grant", body: { ID: leaseId, TTL: String(ttlMs / 1000) } },
      { path: "/v3/kv/txn", body: txn },
    ],
    ctx,
    IDEMPOTENT,
  )) as [Answer, Answer];
  const grantedTtlMs = await grantedTtl(dispatcher, grant, leaseId, ttlMs, ctx);
  const answer = parseOk(put, txnResponse, what);
  return { grantedTtlMs, txn: answer, responses: responsesOf(answer, "pp", what, failed) };
}

/** One `POST /v3/lease/revoke`, which deletes the lease's keys; a lease already gone is fine. */
export async function revoke(dispatcher: Dispatcher, leaseId: string, ctx: CallContext): Promise<void> {
  const res = await dispatcher.post("/v3/lease/revoke", { ID: leaseId }, ctx, IDEMPOTENT);
  if (res.status === 404 && res.grpcCode === 5 /* NotFound */) return;
  if (res.status !== 200) throw gatewayFailure(res, "lease revoke");
}

/**
 * One `POST /v3/lease/timetolive`: an upper bound on the time the lease has left, in ms, or null when etcd no
 * longer has it.
 */
export async function ttlLeft(
  dispatcher: Dispatcher,
  leaseId: string,
  ctx: CallContext,
): Promise<number | null> {
  const what = "lease timetolive";
  const res = await dispatcher.post("/v3/lease/timetolive", { ID: leaseId }, ctx, IDEMPOTENT);
  const answer = parseOk(res, grantResponse, what);
  if (answer.ID !== leaseId) throw malformed(what);
  // TTL is -1 for a lease etcd no longer has; protojson omits 0 (the last second).
  const ttlS = int(answer.TTL);
  return ttlS < 0n ? null : Number(ttlS) * 1000 + EXPIRY_BOUND_MS;
}
