/**
 * The operations the wire fixtures record (scripts/record-fixtures.ts) and the fuzz tests replay: one lease's
 * life on one backend, every Backend method, with fixed claim IDs above 2^53. Inputs and outcomes are stored as
 * JSON with bigints and bytes tagged, so that a replay can pass the recorded input and compare outcomes.
 */
import {
  type Backend,
  type CallContext,
  type ClaimOutcome,
  normalizeTxn,
  type TermRef,
  type TxnOp,
} from "../../src/backend-kit.ts";

/** One recorded HTTP exchange. `path` is the URL's path and query. */
export interface Exchange {
  method: string;
  path: string;
  requestBody: string;
  status: number;
  contentType: string | null;
  body: string;
}

export type Op = "claim" | "renew" | "leader" | "txn" | "park" | "release" | "releaseParked";

export interface PlannedStep {
  id: string;
  op: Op;
  holder?: string;
  /** Claim ID, decimal. */
  claimId?: string;
  /** The claim step whose term this step acts on. */
  term?: string;
  /** For txn steps: whether the caller's compare is meant to fail. */
  compareFails?: boolean;
}

export interface Step extends PlannedStep {
  input: unknown;
  outcome: unknown;
  exchanges: Exchange[];
}

export interface Fixture {
  backend: "etcd" | "zookeeper";
  username: string;
  password: string;
  steps: Step[];
}

export const NAME = "job";
export const TTL_MS = 5000;
const ID = (n: number) => ((1n << 62n) + BigInt(n)).toString();

export const STEP_PLAN: readonly PlannedStep[] = [
  { id: "claim-free", op: "claim", holder: "a", claimId: ID(1) },
  { id: "renew", op: "renew", term: "claim-free" },
  { id: "leader-held", op: "leader" },
  { id: "txn-applied", op: "txn", term: "claim-free" },
  { id: "txn-condition-failed", op: "txn", term: "claim-free", compareFails: true },
  { id: "claim-held-by-other", op: "claim", holder: "b", claimId: ID(2) },
  { id: "claim-busy", op: "claim", holder: "a", claimId: ID(3) },
  { id: "park", op: "park", term: "claim-free" },
  { id: "leader-parked", op: "leader" },
  { id: "claim-resume", op: "claim", holder: "a", claimId: ID(4) },
  { id: "txn-stale-hold", op: "txn", term: "claim-free" },
  { id: "park-resumed", op: "park", term: "claim-resume" },
  { id: "release-parked", op: "releaseParked", holder: "a" },
  { id: "leader-free", op: "leader" },
  { id: "claim-free-again", op: "claim", holder: "a", claimId: ID(5) },
  { id: "release", op: "release", term: "claim-free-again" },
];

function txnInput(term: TermRef, compareFails: boolean) {
  const ops: TxnOp[] = [
    { type: "put", key: "fuzz/data/k1", value: "v1" },
    { type: "get", key: "fuzz/data/k1" },
    { type: "delete", key: "fuzz/data/k2" },
  ];
  // k1 exists once the first txn ran; k3 never does.
  const key = compareFails ? "fuzz/data/k1" : "fuzz/data/k3";
  const normalized = normalizeTxn(ops, [{ key, target: "version", op: "=", value: 0n }], ["version"]);
  return { term, ...normalized };
}

/** The input of a planned step, from the terms the earlier claims of the recording took. */
export function inputFor(plan: PlannedStep, terms: ReadonlyMap<string, TermRef>): unknown {
  const term = plan.term === undefined ? undefined : terms.get(plan.term);
  if (plan.term !== undefined && !term) throw new Error(`${plan.id}: no term from ${plan.term}`);
  switch (plan.op) {
    case "claim":
      return { name: NAME, holder: plan.holder, ttlMs: TTL_MS, claimId: BigInt(plan.claimId as string) };
    case "txn":
      return txnInput(term as TermRef, plan.compareFails === true);
    case "releaseParked":
      return { name: NAME, holder: plan.holder };
    case "leader":
      return { name: NAME };
    default:
      return term;
  }
}

/** Calls the step's Backend method with `input` (as {@link inputFor} made it). */
export function invoke(backend: Backend, op: Op, input: unknown, ctx: CallContext): Promise<unknown> {
  const i = input as Record<string, unknown>;
  switch (op) {
    case "claim":
      return backend.claim(input as Parameters<Backend["claim"]>[0], ctx);
    case "renew":
      return backend.renew(input as TermRef, ctx);
    case "leader":
      return backend.leader(i.name as string, ctx);
    case "txn":
      return backend.txn(input as Parameters<Backend["txn"]>[0], ctx);
    case "park":
      return backend.park(input as TermRef, ctx);
    case "release":
      return backend.release(input as TermRef, ctx);
    case "releaseParked":
      return backend.releaseParked(i.name as string, i.holder as string, ctx);
  }
}

/** The term a held claim outcome gives, as the core would pass it back. */
export function termOf(outcome: ClaimOutcome): TermRef | null {
  if (!outcome.held) return null;
  const { leader, hold } = outcome;
  const ref: TermRef = {
    name: NAME,
    holder: leader.holder,
    leaseId: leader.leaseId,
    token: leader.token,
    hold,
    ttlMs: TTL_MS,
  };
  return leader.value === undefined ? ref : { ...ref, value: leader.value };
}

/** Runs one planned step (recording time). */
export async function runStep(
  backend: Backend,
  plan: PlannedStep,
  terms: Map<string, TermRef>,
  ctx: CallContext,
): Promise<{ input: unknown; outcome: unknown }> {
  const input = inputFor(plan, terms);
  const outcome = await invoke(backend, plan.op, input, ctx);
  if (plan.op === "claim") {
    const term = termOf(outcome as ClaimOutcome);
    if (term) terms.set(plan.id, term);
  }
  return { input, outcome: outcome ?? null };
}

/** JSON-safe form: bigints as `{"$bigint": "..."}`, bytes as `{"$bytes": base64}`. */
export function toJsonValue(value: unknown): unknown {
  if (typeof value === "bigint") return { $bigint: value.toString() };
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString("base64") };
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonValue(v)]));
  }
  return value === undefined ? null : value;
}

export function fromJsonValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJsonValue);
  if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (typeof o.$bigint === "string") return BigInt(o.$bigint);
    if (typeof o.$bytes === "string") return new Uint8Array(Buffer.from(o.$bytes, "base64"));
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, fromJsonValue(v)]));
  }
  return value;
}
