/**
 * Transfer of a term on etcd (`CampaignBackend.transfer`), and the target's side of it in the campaign step.
 *
 * - Every leasehold queued candidate writes, in the txn that creates its candidate key and on the same lease, a
 *   queue marker `<prefix>#q/<name>/<lease ID hex>` holding its holder: both keys have the same create revision.
 *   A candidate without one is foreign (a Go candidate, `etcdctl elect`). `#` is not allowed in lease names, so
 *   a marker never falls in an election's range; it lies under the prefix, where `doIfLeader` cannot write.
 * - The leader reads the candidates and markers (ONE read-only txn), then grants the window's lease pipelined
 *   with ONE txn guarded by its term and by the create revisions of the target, of every candidate ahead of it
 *   and of their markers: it deletes its own candidate key and the candidates ahead (their step then finds its
 *   key gone and queues again, behind the target), and puts the transfer record at `E` on the window's lease;
 *   then it revokes its own lease. The target is now first; every later leader's token is a candidate created
 *   after the old leader's key, so tokens still increase.
 * - While the transfer record stands at `E`, no step and no claim leads (both compare `E` absent), except the
 *   target's: ONE txn that replaces the record with its own term record, guarded by the record's mod revision.
 *   Once the window's lease expires, `E` goes with it and the first candidate leads as before.
 */
import { z } from "zod/mini";
import {
  type CallContext,
  decodeBase64,
  encodeBase64,
  type HolderRecord,
  InvalidArgumentError,
  LeaseLostError,
  type TermRef,
  type TransferRequest,
  toBytes,
} from "../../src/backend-kit.ts";
import type { Answer, Dispatcher } from "./dispatcher.ts";
import { candidateKey, type Election, election } from "./layout.ts";
import { equal, grantedTtl, IDEMPOTENT, parseOk, putRecord, range, revoke, sendTxn } from "./requests.ts";
import { termGuards } from "./term.ts";
import {
  kvOf,
  malformed,
  parseWire,
  positive,
  responsesOf,
  txnResponse,
  type WireKeyValue,
  type WireResponseOp,
} from "./wire.ts";

/** A transfer gives up after this many rounds of "the queue changed between the read and the txn". */
const TRANSFER_ROUNDS = 3;

const b64 = (text: string) => encodeBase64(toBytes(text));
const hex = (leaseId: string) => BigInt(leaseId).toString(16);

/** The queue marker of lease `leaseId` (decimal) in lease `name`'s election, base64-encoded. */
export function markerKey(prefix: string, name: string, leaseId: string): string {
  return b64(`${prefix}#q/${name}/${hex(leaseId)}`);
}

/** The transfer record at `E`: the target's holder (for people reading the store) and its lease ID. */
const transferRecord = z.object({ transfer: z.string(), lease: z.string() });

/** A candidate of the election as read, with its marker's holder when it is leasehold's. */
interface Queued {
  key: string;
  leaseId: string;
  revision: string;
  marker: string;
  holder: string | null;
}

/** The transfer txn's plan: the target and the candidates ahead of it, all leasehold's. */
export interface TransferPlan {
  target: Queued;
  ahead: Queued[];
}

/**
 * Picks the target from the candidates (oldest first) and their markers.
 * @throws {LeaseLostError} the term's candidate key is not the first.
 * @throws {InvalidArgumentError} no such leasehold candidate, more than one, or a foreign one ahead of it.
 */
export function planTransfer(
  prefix: string,
  term: TermRef,
  toHolder: string,
  candidates: readonly WireKeyValue[],
  markers: readonly WireKeyValue[],
): TransferPlan {
  const { name } = term;
  const e = `${prefix}${name}`;
  const first = candidates[0];
  if (first?.key !== b64(`${e}/${hex(term.leaseId)}`) || first.create_revision !== term.token.toString()) {
    throw new LeaseLostError(`lease ${name}: this handle no longer leads; nothing to transfer`);
  }
  const byKey = new Map(markers.map((kv) => [kv.key, kv]));
  const queued = candidates.slice(1).map((kv): Queued => {
    const leaseId = positive(kv.lease, `etcd election ${e} lease`).toString();
    const revision = positive(kv.create_revision, `etcd election ${e} create_revision`).toString();
    const marker = markerKey(prefix, name, leaseId);
    const found = byKey.get(marker);
    const ours = kv.key === b64(`${e}/${hex(leaseId)}`) && found?.create_revision === revision;
    const holder = ours && found.lease === kv.lease ? text(found.value, e) : null;
    return { key: kv.key ?? "", leaseId, revision, marker, holder };
  });
  const at = queued.findIndex((c) => c.holder === toHolder);
  const quoted = JSON.stringify(toHolder);
  const target = queued[at];
  if (!target)
    throw new InvalidArgumentError("toHolder", `${quoted} is not a queued candidate of lease ${name}`);
  if (queued.some((c, i) => i > at && c.holder === toHolder)) {
    throw new InvalidArgumentError("toHolder", `${quoted} is queued more than once for lease ${name}`);
  }
  const ahead = queued.slice(0, at);
  if (ahead.some((c) => c.holder === null)) {
    throw new InvalidArgumentError(
      "toHolder",
      `a candidate that is not leasehold's (a Go candidate or etcdctl elect) is queued ahead of ${quoted} for lease ${name}, and cannot be asked to step back`,
    );
  }
  return { target, ahead };
}

const decoder = new TextDecoder();
const text = (value: string | undefined, e: string) =>
  decoder.decode(decodeBase64(value ?? "", `etcd election ${e}`));

/** The txn that ends `term` and puts the transfer record on lease `windowId` (see the module's comment). */
export function transferTxn(e: Election, term: TermRef, plan: TransferPlan, windowId: string) {
  const pinned = [plan.target, ...plan.ahead].flatMap((c) => [
    equal(c.key, "CREATE", "create_revision", c.revision),
    equal(c.marker, "CREATE", "create_revision", c.revision),
  ]);
  const record = JSON.stringify({ transfer: plan.target.holder, lease: plan.target.leaseId });
  return {
    compare: [...termGuards(e, term.leaseId, term.token, term.hold), ...pinned],
    success: [
      { request_delete_range: { key: candidateKey(e, term.leaseId) } },
      ...plan.ahead.flatMap((c) => [
        { request_delete_range: { key: c.key } },
        { request_delete_range: { key: c.marker } },
      ]),
      { request_put: { key: e.record, value: b64(record), lease: windowId } },
    ],
    failure: [range(e.record)],
  };
}

/** A random lease ID in [2^62, 2^63) for the window, chosen here so that the grant and the txn pipeline. */
function randomLeaseId(): string {
  const words = crypto.getRandomValues(new Uint32Array(2));
  const id = (1n << 62n) | (BigInt((words[0] as number) & 0x3fffffff) << 32n) | BigInt(words[1] as number);
  return id.toString();
}

/** `CampaignBackend.transfer` on etcd (see the module's comment and `CampaignBackend.transfer`). */
export async function transfer(
  dispatcher: Dispatcher,
  prefix: string,
  term: TermRef,
  req: TransferRequest,
  ctx: CallContext,
): Promise<void> {
  const e = election(prefix, term.name);
  const markers = { from: b64(`${prefix}#q/${term.name}/`), to: b64(`${prefix}#q/${term.name}0`) };
  for (let round = 0; round < TRANSFER_ROUNDS; round++) {
    const read = await sendTxn(
      dispatcher,
      {
        success: [
          { request_range: { key: e.from, range_end: e.to, sort_order: "ASCEND", sort_target: "CREATE" } },
          { request_range: { key: markers.from, range_end: markers.to } },
        ],
      },
      ctx,
      "transfer read",
    );
    const [candidates, marks] = responsesOf(read, "rr", "transfer read") as [WireResponseOp, WireResponseOp];
    const plan = planTransfer(prefix, term, req.toHolder, kvsOf(candidates), kvsOf(marks));
    const windowId = randomLeaseId();
    const [grant, answer] = (await dispatcher.postInOrder(
      [
        { path: "/v3/lease/grant", body: { ID: windowId, TTL: String(req.windowMs / 1000) } },
        { path: "/v3/kv/txn", body: transferTxn(e, term, plan, windowId) },
      ],
      ctx,
      IDEMPOTENT,
    )) as [Answer, Answer];
    await grantedTtl(dispatcher, grant, windowId, req.windowMs, ctx);
    const txn = parseOk(answer, txnResponse, "transfer txn");
    const ops = `d${"dd".repeat(plan.ahead.length)}p`;
    const responses = responsesOf(txn, ops, "transfer txn", "r");
    const record = txn.succeeded ? undefined : kvOf(responses[0], e.record);
    // An earlier try of this txn committed, and its answer was lost.
    if (txn.succeeded || record?.lease === windowId) {
      await revoke(dispatcher, term.leaseId, ctx).catch(() => undefined);
      return;
    }
    await revoke(dispatcher, windowId, ctx).catch(() => undefined);
    if (record?.lease !== term.leaseId || record.mod_revision !== term.hold) {
      throw new LeaseLostError(`lease ${term.name}: this handle no longer leads; nothing to transfer`);
    }
  }
  throw new InvalidArgumentError(
    "toHolder",
    `the candidates of lease ${term.name} kept changing; try again`,
    {
      retryable: true,
    },
  );
}

function kvsOf(res: WireResponseOp): WireKeyValue[] {
  const kvs = res.response_range?.kvs ?? [];
  if (String(kvs.length) !== (res.response_range?.count ?? "0")) throw malformed("transfer read");
  return kvs;
}

/**
 * The target's side of a transfer, in its campaign step: when the record at `E` (`recordKv`, of another lease)
 * is a transfer record naming `leaseId`, ONE txn that replaces it with this candidate's term record, guarded by
 * its candidate key, its being first, and the record's mod revision. Returns the hold (the txn's revision), or
 * null when the record is not a transfer to this candidate or the txn lost a race (the caller steps again).
 */
export async function takeOver(
  dispatcher: Dispatcher,
  e: Election,
  own: { key: string; leaseId: string; token: bigint },
  record: HolderRecord,
  recordKv: WireKeyValue,
  ctx: CallContext,
): Promise<string | null> {
  let named: z.infer<typeof transferRecord>;
  try {
    named = parseWire(transferRecord, text(recordKv.value, e.name), "transfer record");
  } catch {
    return null;
  }
  if (named.lease !== own.leaseId) return null;
  const body = {
    compare: [
      equal(own.key, "CREATE", "create_revision", own.token.toString()),
      equal(own.key, "LEASE", "lease", own.leaseId),
      {
        key: e.from,
        range_end: e.to,
        target: "CREATE",
        result: "GREATER",
        create_revision: (own.token - 1n).toString(),
      },
      equal(e.record, "MOD", "mod_revision", recordKv.mod_revision ?? "0"),
    ],
    success: [putRecord(e, record, own.leaseId)],
  };
  const txn = await sendTxn(dispatcher, body, ctx, "transfer take-over", false);
  responsesOf(txn, "p", "transfer take-over", "");
  return txn.succeeded ? positive(txn.header.revision, "transfer take-over").toString() : null;
}
