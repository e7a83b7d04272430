/**
 * Guarded transactions on ZooKeeper: the executor of txn-plan.ts's plans. Both ways first read, all requests
 * at once, the leader znode, each key's znode and the parents of each key, and plan on what they read. Then:
 *
 * - atomic (leasehold-zk-gateway's multi extension): ONE ZooKeeper multi, run on the holder's own ZooKeeper
 *   session, that re-checks at commit everything the decision used. Its first op (the leader guard) rewrites
 *   the leader znode's data unchanged at the version read, where the guard matched (the term's czxid and
 *   owner, busy under the term's hold ID): that fails unless the znode is still there unchanged (a park, or a
 *   resume by another invocation, moves its version), and the multi fails as a whole when the holder's
 *   session is gone (and with it the ephemeral leader znode). Its committed stat must show the same czxid and
 *   owner, version + 1 and a later mzxid, or the answer is malformed. Each compared or read znode gets a
 *   `check` of the version read, and a znode read as missing a create-then-delete that fails if it exists by
 *   then. A multi refused because a key changed in between is planned again (3 tries).
 * - non-atomic (SPEC v2 only, `allowNonAtomicGuard: true`): the guard (hold ID included) is checked on the
 *   read, then the ops follow as separate requests; the lease can move, and keys can change, between the
 *   read and the writes.
 *
 * A znode with children cannot be deleted (ZooKeeper refuses: `UnsupportedError`).
 */
import {
  type CallContext,
  HttpStatusError,
  InvalidArgumentError,
  isLeaseError,
  LeaseError,
  MalformedResponseError,
  type NormalizedCompare,
  type NormalizedOp,
  type OpResult,
  type TxnOutcome,
  UnsupportedError,
} from "../../src/backend-kit.ts";
import type { RestClient } from "./rest.ts";
import { guardHeld, refusal, resultsAt } from "./txn-answer.ts";
import { type MultiStep, plan, type SequenceStep, type TxnReads, toRead } from "./txn-plan.ts";
import { type StatEntity, toKeyValue } from "./wire.ts";

/** The term a transaction is guarded by. */
export interface Guard {
  /** The leader znode. */
  path: string;
  /** The REST session ID of the term, when the leader znode as read is still the term's; else null. */
  restSessionOf(node: StatEntity): string | null;
}

/** The REST calls the executor makes. */
export type TxnRest = Pick<RestClient, "getNode" | "exists" | "multi" | "setData" | "create" | "delete">;

const TRIES = 3;

async function readAll(
  rest: TxnRest,
  guard: Guard,
  ops: readonly NormalizedOp[],
  compares: readonly NormalizedCompare[],
  ctx: CallContext,
): Promise<{ reads: TxnReads; restSessionId: string | null }> {
  const { keys, parents } = toRead(ops, compares);
  const [leader, nodes, exist] = await Promise.all([
    rest.getNode(guard.path, ctx),
    Promise.all(keys.map((p) => rest.getNode(p, ctx, true))),
    Promise.all(parents.map((p) => rest.exists(p, ctx))),
  ]);
  const reads: TxnReads = {
    leader,
    nodes: new Map(keys.map((p, i) => [p, nodes[i] ?? null])),
    parents: new Map(parents.map((p, i) => [p, exist[i] === true])),
  };
  return { reads, restSessionId: leader ? guard.restSessionOf(leader) : null };
}

function refusedError(step: MultiStep | undefined, code: string, status: number): LeaseError {
  const what = `ZooKeeper refused ${step ? `${step.wire.op} ${step.wire.path}` : "the transaction"} (${code})`;
  if (code === "NOTEMPTY") return new UnsupportedError(`${what}: a znode with children cannot be deleted`);
  if (code === "BADARGUMENTS" || code === "NOCHILDRENFOREPHEMERALS") {
    return new InvalidArgumentError(step && "op" in step.at ? `ops[${step.at.op}]` : "ops", what);
  }
  return new HttpStatusError(status, what);
}

/**
 * The atomic way. Null when the gateway has no multi extension (the caller decides what that means).
 * @throws {MalformedResponseError} the committed guard's stat is not the leader znode's, one version on.
 * @throws {HttpStatusError} (retryable) keys kept changing between read and multi, 3 times; or another
 *   refusal, with the gateway's status and ZooKeeper's code in the message.
 * @throws {UnsupportedError} a delete of a znode with children (`NOTEMPTY`).
 * @throws {InvalidArgumentError} ZooKeeper refused an op's arguments (`BADARGUMENTS`, `NOCHILDRENFOREPHEMERALS`).
 */
export async function atomicTxn(
  rest: TxnRest,
  guard: Guard,
  ops: readonly NormalizedOp[],
  compares: readonly NormalizedCompare[],
  ctx: CallContext,
): Promise<TxnOutcome | null> {
  for (let attempt = 1; ; attempt++) {
    const { reads, restSessionId } = await readAll(rest, guard, ops, compares, ctx);
    const planned = plan({ ops, compares, reads, guard: { path: guard.path, restSessionId } }, "multi");
    if (planned.step === "outcome") return planned.outcome;
    const outcome = await rest.multi(
      planned.multi.map((s) => s.wire),
      planned.restSessionId,
      ctx,
    );
    if (outcome === null) return null;
    if (outcome.committed) {
      if (!guardHeld(planned.leader, outcome.guard, outcome.commitZxid)) {
        throw new MalformedResponseError(
          "ZooKeeper gateway multi: the guard's stat is not the leader znode's",
        );
      }
      return { applied: true, results: resultsAt(planned.results, outcome.commitZxid) };
    }
    if (outcome.refused === "no-session") return { applied: false, reason: "not-leader" };
    const { index, code, status } = outcome.refused;
    const verdict = refusal(planned.multi, index, code);
    if (verdict.next === "not-leader") return { applied: false, reason: "not-leader" };
    if (verdict.next === "fail") throw refusedError(verdict.step, code, status);
    if (attempt === TRIES) {
      throw new HttpStatusError(
        status,
        `ZooKeeper transaction kept meeting concurrent changes (${TRIES} tries; last ${code})`,
        { retryable: true },
      );
    }
  }
}

/**
 * The non-atomic way: check (read), then one request per op, in order.
 * @throws {LeaseError} an op failed, of the kind its request failed with (not retryable); the ops before it
 *   were applied, as the message says.
 */
export async function nonAtomicTxn(
  rest: TxnRest,
  guard: Guard,
  ops: readonly NormalizedOp[],
  compares: readonly NormalizedCompare[],
  ctx: CallContext,
): Promise<TxnOutcome> {
  const { reads, restSessionId } = await readAll(rest, guard, ops, compares, ctx);
  const planned = plan({ ops, compares, reads, guard: { path: guard.path, restSessionId } }, "sequence");
  if (planned.step === "outcome") return planned.outcome;
  const results: OpResult[] = [];
  for (const [i, step] of planned.sequence.entries()) {
    try {
      results.push(await run(rest, step, ctx));
    } catch (error) {
      const applied = i === 0 ? "no op was applied" : `ops[0..${i - 1}] were applied`;
      const message = `non-atomic transaction stopped at ops[${i}] (${step.do}); ${applied}`;
      const options = { cause: error, retryable: false };
      if (error instanceof HttpStatusError) throw new HttpStatusError(error.status, message, options);
      if (isLeaseError(error)) throw new LeaseError(error.code, message, options);
      throw error;
    }
  }
  return { applied: true, results };
}

async function run(rest: TxnRest, step: SequenceStep, ctx: CallContext): Promise<OpResult> {
  switch (step.do) {
    case "answer":
      return step.result;
    case "get": {
      const node = await rest.getNode(step.path, ctx, true);
      return { type: "get", kv: node ? toKeyValue(step.key, node, `get ${step.path}`) : null };
    }
    case "delete":
      return { type: "delete", deleted: (await rest.delete(step.path, ctx)) ? 1n : 0n };
    default: {
      const { path, value } = step;
      if (await rest.setData(path, value, ctx)) return { type: "put" };
      for (const parent of step.parents) await rest.create(parent, null, { ephemeral: false }, ctx);
      const created = await rest.create(path, value, { ephemeral: false }, ctx);
      if (created === "created") return { type: "put" };
      if (created === "exists" && (await rest.setData(path, value, ctx))) return { type: "put" };
      // The gateway's 404: the parent (no-parent), or the znode created in between (exists), was deleted since.
      throw new HttpStatusError(
        404,
        `cannot create ${path}: a znode it needs was deleted meanwhile (NONODE)`,
      );
    }
  }
}
