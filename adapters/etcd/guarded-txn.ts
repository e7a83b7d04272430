/**
 * `doIfLeader` on etcd: ONE `POST /v3/kv/txn` comparing the candidate's create revision (the token) and lease,
 * and the record's mod revision (this invocation's hold), plus the caller's compares; the caller's ops and
 * compares translated to the gateway's JSON, and the results back.
 */
import {
  type CallContext,
  encodeBase64,
  type NormalizedCompare,
  type NormalizedOp,
  type OpResult,
  type TxnOutcome,
  type TxnRequest,
} from "../../src/backend-kit.ts";
import { MAX_RESPONSE_BYTES } from "../../src/http.ts";
import type { Dispatcher } from "./dispatcher.ts";
import { candidateKey, type Election } from "./layout.ts";
import { range, sendTxn } from "./requests.ts";
import { termGuards } from "./term.ts";
import { int, kvOf, malformed, responsesOf, toKeyValue, type WireResponseOp } from "./wire.ts";

/** Each compare target as etcd's `Compare.target`, and the field that carries its value. */
const TARGET = {
  value: ["VALUE", "value"],
  version: ["VERSION", "version"],
  createRevision: ["CREATE", "create_revision"],
  modRevision: ["MOD", "mod_revision"],
} as const;
const RESULT = { "=": "EQUAL", "!=": "NOT_EQUAL", "<": "LESS", ">": "GREATER" } as const;
const OP_REQUEST = { put: "request_put", delete: "request_delete_range", get: "request_range" } as const;
const OP_KIND = { put: "p", delete: "d", get: "r" } as const;

/** Answers that may carry users' values get room for them; lease answers keep the transport's cap. */
const VALUE_ROOM_BYTES = 2_097_152;

function compareToWire(c: NormalizedCompare): Record<string, string> {
  const [target, field] = TARGET[c.target];
  const value = c.target === "value" ? encodeBase64(c.value) : c.value.toString();
  return { key: encodeBase64(c.key), target, result: RESULT[c.op], [field]: value };
}

function opToWire(op: NormalizedOp): Record<string, Record<string, string>> {
  const request: Record<string, string> = { key: encodeBase64(op.key) };
  if (op.type === "put") request.value = encodeBase64(op.value);
  return { [OP_REQUEST[op.type]]: request };
}

/** The result of `op` from its response, whose kind `responsesOf` checked. */
function opResultFromWire(op: NormalizedOp, res: WireResponseOp): OpResult {
  if (op.type === "put") return { type: "put" };
  if (op.type === "delete") {
    const deleted = int(res.response_delete_range?.deleted);
    // One key was asked for.
    if (deleted > 1n) throw malformed("txn delete");
    return { type: "delete", deleted };
  }
  const kv = kvOf(res, encodeBase64(op.key));
  return { type: "get", kv: kv ? toKeyValue(kv) : null };
}

/** The term's guards and the failure branch's reads as JSON text, kept on `e` while the term keeps its hold. */
function termParts(e: Election, key: string, term: TxnRequest["term"]) {
  const hold = `${term.leaseId}/${term.token}/${term.hold}`;
  if (e.guarded?.hold !== hold) {
    const guards = JSON.stringify(termGuards(e, term.leaseId, term.token, term.hold)).slice(1, -1);
    e.guarded = { hold, guards, failure: JSON.stringify([range(key), range(e.record)]) };
  }
  return e.guarded;
}

/**
 * Commits `req.ops` only while `req.term` holds election `e` and every compare matches. Not idempotent: a
 * resend after a lost answer could commit twice. A failed txn reads the term's keys to tell "not-leader" from
 * "condition-failed".
 */
export async function guardedTxn(
  dispatcher: Dispatcher,
  e: Election,
  req: TxnRequest,
  ctx: CallContext,
): Promise<TxnOutcome> {
  const { term, ops } = req;
  const key = candidateKey(e, term.leaseId);
  const what = "guarded txn";
  const { guards, failure } = termParts(e, key, term);
  const compares = req.compares.map((c) => `,${JSON.stringify(compareToWire(c))}`).join("");
  const txn = await sendTxn(
    dispatcher,
    `{"compare":[${guards}${compares}],"success":${JSON.stringify(ops.map(opToWire))},"failure":${failure}}`,
    ctx,
    what,
    false,
    MAX_RESPONSE_BYTES + ops.filter((op) => op.type === "get").length * VALUE_ROOM_BYTES,
  );
  const responses = responsesOf(txn, ops.map((op) => OP_KIND[op.type]).join(""), what, "rr");
  if (txn.succeeded) {
    return {
      applied: true,
      results: ops.map((op, i) => opResultFromWire(op, responses[i] as WireResponseOp)),
    };
  }
  const candidate = kvOf(responses[0], key);
  const record = kvOf(responses[1], e.record);
  const stillHeld =
    candidate !== undefined &&
    int(candidate.create_revision) === term.token &&
    candidate.lease === term.leaseId &&
    record?.mod_revision === term.hold;
  return { applied: false, reason: stillHeld ? "condition-failed" : "not-leader" };
}
