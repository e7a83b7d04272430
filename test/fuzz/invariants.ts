/**
 * What every fuzz case must hold, whatever the answer: a typed LeaseError without secrets, or a result that is
 * valid for the answer; never a leader, a renewal or an applied txn built on an answer that is not valid (then a
 * positive result must be exactly the intact answer's); always within the request timeout plus 1 s.
 */
import { inspect } from "node:util";
import {
  type ClaimOutcome,
  isLeaseError,
  type LeaderInfo,
  LeaseError,
  type NormalizedOp,
  type TxnOutcome,
} from "../../src/backend-kit.ts";
import { effectOf, type Mutation } from "./mutations.ts";
import { type Fixture, fromJsonValue, type Op, toJsonValue } from "./steps.ts";

const INT64_MAX = (1n << 63n) - 1n;
const isInt64Text = (s: unknown) =>
  typeof s === "string" && /^-?\d{1,19}$/.test(s) && BigInt.asIntN(64, BigInt(s)) === BigInt(s);
const positive = (n: unknown) => typeof n === "bigint" && n > 0n && n <= INT64_MAX;

/** The secrets a fixture's client holds: the password, its basic-auth forms, and every token etcd issued. */
export function secretsOf(fixture: Fixture): string[] {
  const basic = Buffer.from(`${fixture.username}:${fixture.password}`).toString("base64");
  const tokens = fixture.steps.flatMap((s) =>
    s.exchanges
      .filter((e) => e.path === "/v3/auth/authenticate" && e.status === 200)
      .map((e) => (JSON.parse(e.body) as { token: string }).token),
  );
  return [fixture.password, basic, ...tokens];
}

/** The error as a reader could see it: message, stack, own fields and the whole cause chain. */
function exposed(error: unknown): string {
  const own = (e: unknown, depth: number): unknown =>
    e instanceof Error && depth < 10
      ? { ...e, message: e.message, stack: e.stack, cause: own(e.cause, depth + 1) }
      : e;
  let json = "";
  try {
    json = JSON.stringify(own(error, 0), (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  } catch {
    json = "";
  }
  return [String(error), json, inspect(error, { depth: 20, showHidden: true })].join("\n");
}

function leaderProblem(info: LeaderInfo | null | undefined): string | null {
  if (!info) return "no leader info";
  if (!positive(info.token)) return `token ${String(info.token)} is not a positive int64`;
  if (!isInt64Text(info.leaseId) || info.leaseId === "0") return `lease ID ${info.leaseId}`;
  if (typeof info.holder !== "string" || info.holder === "") return "empty holder";
  return null;
}

function txnProblem(ops: readonly NormalizedOp[], outcome: TxnOutcome): string | null {
  if (!outcome.applied) return null;
  if (outcome.results.length !== ops.length) return `${outcome.results.length} results for ${ops.length} ops`;
  for (const [i, r] of outcome.results.entries()) {
    const op = ops[i] as NormalizedOp;
    if (r.type !== op.type) return `result ${i} is a ${r.type} for a ${op.type}`;
    if (r.type === "delete" && r.deleted !== 0n && r.deleted !== 1n) return `deleted ${r.deleted}`;
    if (r.type === "get" && r.kv) {
      const { kv } = r;
      if (Buffer.compare(Buffer.from(kv.key), Buffer.from(op.key)) !== 0) return "a get of another key";
      if (!positive(kv.createRevision) || !positive(kv.modRevision) || !positive(kv.version)) {
        return "a kv with a revision or version that is not a positive int64";
      }
    }
  }
  return null;
}

/** What is wrong with a result, judged on its own; null when it is well-formed. */
export function resultProblem(op: Op, input: unknown, value: unknown): string | null {
  const i = input as { ttlMs: number; holder: string; ops: NormalizedOp[] };
  switch (op) {
    case "claim": {
      const outcome = value as ClaimOutcome;
      const bad = leaderProblem(outcome.leader);
      if (bad || !outcome.held) return bad;
      if (!(outcome.grantedTtlMs > 0 && outcome.grantedTtlMs <= i.ttlMs)) {
        return `granted ${outcome.grantedTtlMs} ms for ${i.ttlMs} asked`;
      }
      if (outcome.leader.holder !== i.holder || outcome.leader.parked) return "held for another or parked";
      return typeof outcome.hold === "string" && outcome.hold !== "" ? null : "no hold";
    }
    case "renew": {
      const { grantedTtlMs } = value as { grantedTtlMs: number };
      return grantedTtlMs > 0 && grantedTtlMs <= i.ttlMs ? null : `renewed for ${grantedTtlMs} ms`;
    }
    case "leader":
      return value === null ? null : leaderProblem(value as LeaderInfo);
    case "txn":
      return txnProblem(i.ops, value as TxnOutcome);
    default:
      return null;
  }
}

/** Results that say "leader" (or describe one): built only on valid answers. */
function positiveResult(op: Op, value: unknown): boolean {
  if (op === "claim" || op === "renew") return true;
  if (op === "leader") return value !== null;
  return op === "txn" && (value as TxnOutcome).applied;
}

/**
 * What a result says about leadership: a drop or a status change may make it vanish, never appear or change.
 * (An applied txn's results may change: a dropped field can be a value's legitimate default.)
 */
function leadership(op: Op, value: unknown): string | null {
  if (op === "claim") {
    const o = value as ClaimOutcome;
    return o.held
      ? JSON.stringify(toJsonValue([o.leader.token, o.leader.leaseId, o.hold, o.grantedTtlMs]))
      : null;
  }
  if (op === "renew") return JSON.stringify(value);
  return op === "txn" && (value as TxnOutcome).applied ? "applied" : null;
}

export interface CaseResult {
  op: Op;
  input: unknown;
  baseline: unknown;
  outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
  mutation: Mutation | null;
  consumed: boolean;
  elapsedMs: number;
  timeoutMs: number;
  secrets: readonly string[];
}

/** The invariant a case breaks, or null. */
export function violation(c: CaseResult): string | null {
  if (c.elapsedMs > c.timeoutMs + 1000) return `took ${c.elapsedMs} ms (timeout ${c.timeoutMs} ms)`;
  if (!c.outcome.ok) {
    const { error } = c.outcome;
    if (!(error instanceof LeaseError) || !isLeaseError(error)) return `untyped error: ${inspect(error)}`;
    const text = exposed(error);
    const leaked = c.secrets.filter((s) => text.includes(s));
    return leaked.length > 0 ? `a secret in the error: ${text.slice(0, 500)}` : null;
  }
  const { value } = c.outcome;
  const bad = resultProblem(c.op, c.input, value);
  if (bad) return `malformed result: ${bad}`;
  const same = JSON.stringify(toJsonValue(value ?? null)) === JSON.stringify(c.baseline);
  if (!c.consumed || c.mutation === null) return same ? null : "an intact replay gave another result";
  const effect = effectOf(c.mutation);
  if (effect === "invalid" && positiveResult(c.op, value) && !same) {
    return "a positive result built on an invalid answer";
  }
  const leads = leadership(c.op, value);
  if (effect === "weaker" && leads !== null && leads !== leadership(c.op, fromJsonValue(c.baseline))) {
    return "leadership changed by a drop or status";
  }
  return null;
}
