/**
 * The etcd claim: ONE read-only txn (the election's first candidate and the term record). Held, by another
 * participant or busy by this holder: that is the answer (no writes). Free: `POST /v3/lease/grant` with a
 * client-chosen ID, then ONE txn that creates the candidate key and the term record only while the election is
 * empty; the two are pipelined when the transport can. This holder's parked term: ONE txn that marks the record
 * busy only while it is still parked (its mod revision unchanged), pipelined with one keepalive of its lease.
 */
import {
  type CallContext,
  type ClaimOutcome,
  type ClaimRequest,
  type HolderRecord,
  type LeaderInfo,
  LeaseLostError,
} from "../../src/backend-kit.ts";
import type { Answer, Dispatcher } from "./dispatcher.ts";
import { candidateKey, type Election, proclamation } from "./layout.ts";
import {
  equal,
  grantWithTxn,
  IDEMPOTENT,
  keepAlive,
  keptAlive,
  parseOk,
  putRecord,
  readOps,
  revoke,
} from "./requests.ts";
import { readElection, type Term, termFrom, termGuards } from "./term.ts";
import { kvOf, malformed, positive, responsesOf, txnResponse, type WireResponseOp } from "./wire.ts";

/** A claim gives up after this many rounds of "the election changed under us" (each a lost write race). */
const CLAIM_ROUNDS = 3;

/** What a write round of a claim came to: the outcome, or the election as its failed txn read it. */
type Round = ClaimOutcome | { responses: WireResponseOp[] };

/**
 * Claims lease `req.name` in election `e` (see the module's comment).
 * @throws {LeaseLostError} (retryable) the election changed under every one of {@link CLAIM_ROUNDS} rounds, or a
 *   transfer's window reserves the lease for a target that went (nothing is written then).
 */
export async function claim(
  dispatcher: Dispatcher,
  e: Election,
  req: ClaimRequest,
  ctx: CallContext,
): Promise<ClaimOutcome> {
  const run = req.claimId.toString();
  let responses = await readElection(dispatcher, e, ctx);
  for (let round = 0; round < CLAIM_ROUNDS; round++) {
    const term = termFrom(e, responses);
    let next: Round;
    if (!term) {
      // A transfer record alone (its target went): nobody may take the lease until its window ends.
      if (kvOf(responses[1], e.record)) break;
      next = await take(dispatcher, e, req, ctx);
    } else {
      const { info, record } = term;
      // An earlier try of this very claim created or resumed the term, and its answer was lost.
      if (record?.run === run && !info.parked) {
        const grantedTtlMs = await keepAlive(dispatcher, info.leaseId, req.ttlMs, ctx, true);
        return { held: true, leader: info, grantedTtlMs, hold: term.recordRevision };
      }
      if (!record || info.holder !== req.holder || !info.parked) return { held: false, leader: info };
      next = await resume(dispatcher, e, req, term, ctx);
    }
    if ("held" in next) return next;
    responses = next.responses;
  }
  throw new LeaseLostError(
    `lease ${req.name}: the election is changing (lost races, or a transfer); claim again`,
    {
      retryable: true,
    },
  );
}

/** The election looked empty: grant the lease and create the term, pipelined. Losers revoke their lease. */
async function take(
  dispatcher: Dispatcher,
  e: Election,
  req: ClaimRequest,
  ctx: CallContext,
): Promise<Round> {
  const leaseId = req.claimId.toString();
  const record: HolderRecord = { holder: req.holder, ttlMs: req.ttlMs, state: "busy", run: leaseId };
  if (req.value !== undefined) record.value = req.value;
  const { grantedTtlMs, txn, responses } = await grantWithTxn(
    dispatcher,
    leaseId,
    req.ttlMs,
    {
      compare: [
        { ...equal(e.from, "CREATE", "create_revision", "0"), range_end: e.to },
        equal(e.record, "CREATE", "create_revision", "0"),
      ],
      success: [
        { request_put: { key: candidateKey(e, leaseId), value: proclamation(record), lease: leaseId } },
        putRecord(e, record, leaseId),
      ],
      failure: readOps(e),
    },
    ctx,
    "claim txn",
    "rr",
  );
  if (txn.succeeded) {
    const token = positive(txn.header.revision, "claim txn header");
    const leader: LeaderInfo = { holder: req.holder, token, ttlMs: req.ttlMs, leaseId, parked: false };
    if (req.value !== undefined) leader.value = req.value;
    return { held: true, grantedTtlMs, leader, hold: token.toString() };
  }
  // Lost the race: the fresh lease holds nothing, so it goes at once rather than at its TTL (a failed revoke
  // only leaves it to expire). Unless the winner is an earlier try of this same claim, recognised next round.
  if (kvOf(responses[0])?.lease !== leaseId) await revoke(dispatcher, leaseId, ctx).catch(() => undefined);
  return { responses };
}

/** Marks this holder's parked term busy (only while it is still parked) and renews its lease, pipelined. */
async function resume(
  dispatcher: Dispatcher,
  e: Election,
  req: ClaimRequest,
  term: Term,
  ctx: CallContext,
): Promise<Round> {
  const { info } = term;
  const record: HolderRecord = {
    ...(term.record as HolderRecord),
    state: "busy",
    run: req.claimId.toString(),
  };
  const [put, renewed] = (await dispatcher.postInOrder(
    [
      {
        path: "/v3/kv/txn",
        body: {
          compare: termGuards(e, info.leaseId, info.token, term.recordRevision),
          success: [putRecord(e, record, info.leaseId)],
          failure: readOps(e),
        },
      },
      { path: "/v3/lease/keepalive", body: { ID: info.leaseId } },
    ],
    ctx,
    IDEMPOTENT,
  )) as [Answer, Answer];
  const txn = parseOk(put, txnResponse, "resume txn");
  const responses = responsesOf(txn, "p", "resume txn", "rr");
  if (!txn.succeeded) return { responses };
  const grantedTtlMs = keptAlive(renewed, info.leaseId, req.ttlMs, true);
  const hold = positive(txn.header.revision, "resume txn header");
  // The put moved the record past the revision its compare saw.
  if (hold <= BigInt(term.recordRevision)) throw malformed("resume txn");
  return { held: true, grantedTtlMs, leader: { ...info, parked: false }, hold: hold.toString() };
}
