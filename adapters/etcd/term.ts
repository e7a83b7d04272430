/**
 * The current term of an election, decoded from the two reads of layout.ts's keys (the first candidate and the
 * term record): by claim, `leader()`, `releaseParked` and the watch of watch.ts alike.
 */
import {
  type CallContext,
  decodeBase64,
  decodeHolderRecord,
  type HolderRecord,
  type LeaderInfo,
} from "../../src/backend-kit.ts";
import type { Dispatcher } from "./dispatcher.ts";
import { candidateKey, type Election, proclaimed } from "./layout.ts";
import { equal, readOps, sendTxn } from "./requests.ts";
import { kvOf, malformed, positive, responsesOf, type WireResponseOp } from "./wire.ts";

/** The current term of an election as read: who leads, and leasehold's record of it when it is leasehold's. */
export interface Term {
  info: LeaderInfo;
  /** Null for a participant that is not leasehold (no term record of the same lease). */
  record: HolderRecord | null;
  /** The term record's mod revision (the hold of its current invocation, or of its parking). */
  recordRevision: string;
}

/**
 * The last term record decoded, by its base64 text: every read of a term returns the same record until the term
 * is parked, resumed or replaced, so the same text is not decoded and validated again. Shared: never mutated.
 */
let lastRecord: { text: string; record: HolderRecord } | undefined;

function decodeRecord(text: string, where: string): HolderRecord {
  if (lastRecord?.text !== text) {
    const record = decodeHolderRecord(decodeBase64(text, where), `${where} term record`);
    lastRecord = { text, record };
  }
  return lastRecord.record;
}

/** How a transfer record (`{"transfer":...}`, transfer.ts) begins, in base64. */
const TRANSFER_RECORD_B64 = "eyJ0cmFuc2ZlciI6";

/** The read-only txn of {@link readOps}; returns its two range responses. */
export async function readElection(
  dispatcher: Dispatcher,
  e: Election,
  ctx: CallContext,
): Promise<WireResponseOp[]> {
  e.readBody ??= JSON.stringify({ success: readOps(e) });
  return responsesOf(await sendTxn(dispatcher, e.readBody, ctx, "range"), "rr", "range");
}

/**
 * The current term from the two reads (null when the election is empty). The first candidate leads, as in
 * `clientv3/concurrency`; it is leasehold's when the term record is attached to the same lease and the key is
 * that lease's candidate key. Anything else is a foreign participant, reported by its proclaimed value.
 * @throws {MalformedResponseError} keys that leasehold or a Go candidate cannot have written.
 */
export function termFrom(e: Election, responses: readonly WireResponseOp[]): Term | null {
  const kv = kvOf(responses[0]);
  const recordKv = kvOf(responses[1], e.record);
  const where = `etcd election ${e.name}`;
  if (!kv) {
    // A term record goes with its candidate key (one lease, one txn): alone, the answer is inconsistent. A
    // transfer record (transfer.ts) alone is a window whose target went: nobody leads until it ends.
    if (recordKv && !recordKv.value?.startsWith(TRANSFER_RECORD_B64)) throw malformed(where);
    return null;
  }
  const leaseId = positive(kv.lease, `${where} lease`).toString();
  // The leader key is `E/<lease ID in hex>`, as clientv3/concurrency names it; anything else is not one.
  if (kv.key !== candidateKey(e, leaseId)) throw malformed(where);
  const token = positive(kv.create_revision, `${where} create_revision`);
  if (!recordKv || recordKv.lease !== kv.lease) {
    const holder = proclaimed(kv.value, where) || e.name;
    return {
      info: { holder, token, ttlMs: null, leaseId, value: holder, parked: false },
      record: null,
      recordRevision: "0",
    };
  }
  const record = decodeRecord(recordKv.value ?? "", where);
  const info: LeaderInfo = {
    holder: record.holder,
    token,
    ttlMs: record.ttlMs,
    leaseId,
    parked: record.state === "parked",
  };
  if (record.value !== undefined) info.value = record.value;
  return {
    info,
    record,
    recordRevision: positive(recordKv.mod_revision, `${where} mod_revision`).toString(),
  };
}

/** The compares that pin a term: its candidate key (token and lease) and the hold of the term record. */
export function termGuards(e: Election, leaseId: string, token: bigint, hold: string) {
  const key = candidateKey(e, leaseId);
  return [
    equal(key, "CREATE", "create_revision", token.toString()),
    equal(key, "LEASE", "lease", leaseId),
    equal(e.record, "MOD", "mod_revision", hold),
  ];
}
