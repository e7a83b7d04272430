/**
 * The etcd Backend, on the election layout of layout.ts. Requests (etcd v3 JSON gateway):
 *
 * - claim: ONE read-only `POST /v3/kv/txn` (the first candidate of the election and the term record). Held, by
 *   another participant or busy by this holder: that is the answer (no writes). Free: `POST /v3/lease/grant` with
 *   a client-chosen ID, then ONE txn that creates the candidate key and the term record only while the election is
 *   empty; the two are pipelined when the transport can. This holder's parked term: ONE txn that marks the record
 *   busy only while it is still parked (its mod revision unchanged), pipelined with one keepalive of its lease.
 * - renew: `POST /v3/lease/keepalive` (one renewal per request).
 * - park: ONE txn, guarded like doIfLeader, that marks the record parked.
 * - release: `POST /v3/lease/revoke`, which deletes the term's keys with its lease.
 * - leader: the read-only txn of claim.
 * - doIfLeader: ONE `POST /v3/kv/txn` comparing the candidate's create revision (the token) and lease, and the
 *   record's mod revision (this invocation's hold), plus the caller's compares.
 */

import type { ZodMiniType } from "zod/mini";
import {
  type Backend,
  type BackendCapabilities,
  type CallContext,
  type ClaimOutcome,
  type ClaimRequest,
  decodeBase64,
  decodeHolderRecord,
  encodeBase64,
  encodeHolderRecord,
  type HolderRecord,
  type LeaderInfo,
  LeaseLostError,
  type NormalizedCompare,
  type NormalizedOp,
  type OpResult,
  type TermRef,
  type TxnOutcome,
  type TxnRequest,
  toBytes,
} from "../../src/backend-kit.ts";
import { MAX_RESPONSE_BYTES } from "../../src/http.ts";
import { type Answer, type Gateway, gatewayFailure } from "./gateway.ts";
import { candidateKey, type Election, election, proclaimed, proclamation } from "./layout.ts";
import {
  grantResponse,
  int,
  keepAliveResponse,
  kvOf,
  malformed,
  parseWire,
  positive,
  responsesOf,
  toKeyValue,
  txnResponse,
  type WireResponseOp,
} from "./wire.ts";

/** etcd's minimum lease TTL is 2 s; its maximum (MaxLeaseTTL) is 9 000 000 000 s. */
export const ETCD_CAPABILITIES: BackendCapabilities = {
  atomicGuard: true,
  minTtlMs: 2000,
  maxTtlMs: 9_000_000_000_000,
  ttlGranularityMs: 1000,
  compareTargets: ["value", "version", "createRevision", "modRevision"],
};

/** etcd reports whole seconds left, rounded down, and expires a lease up to 500 ms after its TTL. */
const EXPIRY_BOUND_MS = 1500;

/** Requests safe to send again after a lost answer (see `SendOptions`); the guarded txn is not one. */
const IDEMPOTENT = { idempotent: true } as const;

/** A claim gives up after this many rounds of "the election changed under us" (each a lost write race). */
const CLAIM_ROUNDS = 3;

const TARGET = { value: "VALUE", version: "VERSION", createRevision: "CREATE", modRevision: "MOD" } as const;
const TARGET_FIELD = {
  value: "value",
  version: "version",
  createRevision: "create_revision",
  modRevision: "mod_revision",
} as const;
const RESULT = { "=": "EQUAL", "!=": "NOT_EQUAL", "<": "LESS", ">": "GREATER" } as const;
const OP_REQUEST = { put: "request_put", delete: "request_delete_range", get: "request_range" } as const;
const OP_KIND = { put: "p", delete: "d", get: "r" } as const;

function compareToWire(c: NormalizedCompare): Record<string, string> {
  const value = c.target === "value" ? encodeBase64(c.value) : c.value.toString();
  return {
    key: encodeBase64(c.key),
    target: TARGET[c.target],
    result: RESULT[c.op],
    [TARGET_FIELD[c.target]]: value,
  };
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

/** Local validity never exceeds the TTL asked: the smaller of asked and granted, in ms. */
const grantedMs = (ttlS: bigint, askedMs: number) => Math.min(askedMs, Number(ttlS) * 1000);

/** Answers that may carry users' values get room for them; lease answers keep the transport's cap. */
const VALUE_ROOM_BYTES = 2_097_152;

/** Parses a 200 answer with `schema`; any other status becomes a typed error. */
function parseOk<T>(res: Answer, schema: ZodMiniType<T>, what: string): T {
  if (res.status !== 200) throw gatewayFailure(res, what);
  return parseWire(schema, res.body, what);
}

/** The put of a term record, attached to the term's lease. */
const putRecord = (e: Election, record: HolderRecord, lease: string) => ({
  request_put: { key: e.record, value: encodeBase64(encodeHolderRecord(record)), lease },
});

const guard = (key: string, target: string, field: string, value: string) => ({
  key,
  target,
  result: "EQUAL",
  [field]: value,
});

/** The current term of an election as read: who leads, and leasehold's record of it when it is leasehold's. */
interface Term {
  info: LeaderInfo;
  /** Null for a participant that is not leasehold (no term record of the same lease). */
  record: HolderRecord | null;
  /** The term record's mod revision (the hold of its current invocation, or of its parking). */
  recordRevision: string;
}

export class EtcdBackend implements Backend {
  readonly kind = "etcd";
  readonly capabilities = ETCD_CAPABILITIES;
  readonly #gateway: Gateway;
  readonly #prefix: string;
  readonly reservedPrefix: Uint8Array;

  constructor(gateway: Gateway, prefix: string) {
    this.#gateway = gateway;
    this.#prefix = prefix;
    this.reservedPrefix = toBytes(prefix);
  }

  /** The read of claim and leader(): the election's first candidate and the term record, one read-only txn. */
  #readOps(e: Election) {
    return [
      {
        request_range: {
          key: e.from,
          range_end: e.to,
          sort_order: "ASCEND",
          sort_target: "CREATE",
          limit: "1",
        },
      },
      { request_range: { key: e.record } },
    ];
  }

  /** One `POST /v3/kv/txn`, parsed. Only the caller's guarded txn is not `idempotent` (see `SendOptions`). */
  async #txn(body: object, ctx: CallContext, what: string, idempotent = true, maxResponseBytes?: number) {
    const options = { idempotent, maxResponseBytes };
    return parseOk(await this.#gateway.post("/v3/kv/txn", body, ctx, options), txnResponse, what);
  }

  async #read(e: Election, ctx: CallContext): Promise<WireResponseOp[]> {
    return responsesOf(await this.#txn({ success: this.#readOps(e) }, ctx, "range"), "rr", "range");
  }

  /**
   * The current term from the two reads (null when the election is empty). The first candidate leads, as in
   * `clientv3/concurrency`; it is leasehold's when the term record is attached to the same lease and the key is
   * that lease's candidate key. Anything else is a foreign participant, reported by its proclaimed value.
   */
  #termFrom(e: Election, responses: readonly WireResponseOp[]): Term | null {
    const kv = kvOf(responses[0]);
    const recordKv = kvOf(responses[1], e.record);
    const where = `etcd election ${e.name}`;
    if (!kv) {
      // The record goes with its candidate key (one lease, one txn): alone, the answer is inconsistent.
      if (recordKv) throw malformed(where);
      return null;
    }
    const leaseId = positive(kv.lease, `${where} lease`);
    // The leader key is `E/<lease ID in hex>`, as clientv3/concurrency names it; anything else is not one.
    if (kv.key !== candidateKey(e, leaseId.toString())) throw malformed(where);
    const token = positive(kv.create_revision, `${where} create_revision`);
    const ours = recordKv !== undefined && recordKv.lease === kv.lease;
    if (!ours) {
      const holder = proclaimed(kv.value, where) || e.name;
      return {
        info: { holder, token, ttlMs: null, leaseId: leaseId.toString(), value: holder, parked: false },
        record: null,
        recordRevision: "0",
      };
    }
    const record = decodeHolderRecord(decodeBase64(recordKv.value ?? "", where), `${where} term record`);
    const info: LeaderInfo = {
      holder: record.holder,
      token,
      ttlMs: record.ttlMs,
      leaseId: leaseId.toString(),
      parked: record.state === "parked",
    };
    if (record.value !== undefined) info.value = record.value;
    return {
      info,
      record,
      recordRevision: positive(recordKv.mod_revision, `${where} mod_revision`).toString(),
    };
  }

  /**
   * One keepalive; returns the granted TTL in ms.
   * @throws {LeaseLostError} etcd no longer has the lease (its answer omits the TTL, i.e. TTL 0).
   */
  async #keepAlive(leaseId: string, askedMs: number, ctx: CallContext, retryable = false): Promise<number> {
    return this.#keptAlive(
      await this.#gateway.post("/v3/lease/keepalive", { ID: leaseId }, ctx, IDEMPOTENT),
      leaseId,
      askedMs,
      retryable,
    );
  }

  /** The renewed TTL in ms, at most `askedMs`. etcd always names the lease, also when it is gone. */
  #keptAlive(res: Answer, leaseId: string, askedMs: number, retryable = false): number {
    const what = "lease keepalive";
    // The gateway streams one JSON message per line; one request body yields one message.
    const { result } = parseOk(
      { ...res, body: res.body.split("\n", 1)[0] as string },
      keepAliveResponse,
      what,
    );
    if (result.ID !== leaseId) throw malformed(what);
    const ttlS = int(result.TTL);
    if (ttlS <= 0n)
      throw new LeaseLostError(`etcd lease ${leaseId} has expired or was revoked`, { retryable });
    return grantedMs(ttlS, askedMs);
  }

  /** The grant's TTL in ms; "lease already exists" (gRPC 9) means an earlier try of this claim created it. */
  async #grantedTtl(res: Answer, leaseId: string, askedMs: number, ctx: CallContext) {
    // gRPC FailedPrecondition is HTTP 412 from etcd 3.4's gateway and HTTP 400 from etcd 3.5's.
    if ((res.status === 412 || res.status === 400) && res.grpcCode === 9 /* FailedPrecondition */) {
      return this.#keepAlive(leaseId, askedMs, ctx);
    }
    const granted = parseOk(res, grantResponse, "lease grant");
    if (granted.ID !== leaseId) throw malformed("lease grant");
    return grantedMs(positive(granted.TTL, "lease grant"), askedMs);
  }

  async claim(req: ClaimRequest, ctx: CallContext): Promise<ClaimOutcome> {
    const e = election(this.#prefix, req.name);
    const run = req.claimId.toString();
    let responses = await this.#read(e, ctx);
    for (let round = 0; round < CLAIM_ROUNDS; round++) {
      const term = this.#termFrom(e, responses);
      if (!term) {
        const taken = await this.#take(req, e, ctx);
        if ("held" in taken) return taken;
        responses = taken.responses;
        continue;
      }
      const { info, record } = term;
      // An earlier try of this very claim created or resumed the term, and its answer was lost.
      if (record?.run === run && !info.parked) {
        const grantedTtlMs = await this.#keepAlive(info.leaseId, req.ttlMs, ctx, true);
        return { held: true, leader: info, grantedTtlMs, hold: term.recordRevision };
      }
      if (!record || info.holder !== req.holder || !info.parked) return { held: false, leader: info };
      const resumed = await this.#resume(req, e, term, ctx);
      if ("held" in resumed) return resumed;
      responses = resumed.responses;
    }
    throw new LeaseLostError(`lease ${req.name}: the election kept changing; claim again`, {
      retryable: true,
    });
  }

  /** The election looked empty: grant the lease and create the term, pipelined. Losers revoke their lease. */
  async #take(
    req: ClaimRequest,
    e: Election,
    ctx: CallContext,
  ): Promise<ClaimOutcome | { responses: WireResponseOp[] }> {
    const leaseId = req.claimId.toString();
    const record: HolderRecord = { holder: req.holder, ttlMs: req.ttlMs, state: "busy", run: leaseId };
    if (req.value !== undefined) record.value = req.value;
    const [grant, put] = (await this.#gateway.postInOrder(
      [
        { path: "/v3/lease/grant", body: { ID: leaseId, TTL: String(req.ttlMs / 1000) } },
        {
          path: "/v3/kv/txn",
          body: {
            compare: [
              { key: e.from, range_end: e.to, target: "CREATE", result: "EQUAL", create_revision: "0" },
              guard(e.record, "CREATE", "create_revision", "0"),
            ],
            success: [
              { request_put: { key: candidateKey(e, leaseId), value: proclamation(record), lease: leaseId } },
              putRecord(e, record, leaseId),
            ],
            failure: this.#readOps(e),
          },
        },
      ],
      ctx,
      IDEMPOTENT,
    )) as [Answer, Answer];
    const grantedTtlMs = await this.#grantedTtl(grant, leaseId, req.ttlMs, ctx);
    const txn = parseOk(put, txnResponse, "claim txn");
    const responses = responsesOf(txn, "pp", "claim txn", "rr");
    if (txn.succeeded) {
      const token = positive(txn.header.revision, "claim txn header");
      const leader: LeaderInfo = { holder: req.holder, token, ttlMs: req.ttlMs, leaseId, parked: false };
      if (req.value !== undefined) leader.value = req.value;
      return { held: true, grantedTtlMs, leader, hold: token.toString() };
    }
    // Lost the race: the fresh lease holds nothing, so it goes at once rather than at its TTL (a failed revoke
    // only leaves it to expire). Unless the winner is an earlier try of this same claim, recognised next round.
    if (kvOf(responses[0])?.lease !== leaseId) await this.#revoke(leaseId, ctx).catch(() => undefined);
    return { responses };
  }

  /** Marks this holder's parked term busy (only while it is still parked) and renews its lease, pipelined. */
  async #resume(
    req: ClaimRequest,
    e: Election,
    term: Term,
    ctx: CallContext,
  ): Promise<ClaimOutcome | { responses: WireResponseOp[] }> {
    const { info } = term;
    const record: HolderRecord = {
      ...(term.record as HolderRecord),
      state: "busy",
      run: req.claimId.toString(),
    };
    const [put, renewed] = (await this.#gateway.postInOrder(
      [
        {
          path: "/v3/kv/txn",
          body: {
            compare: this.#guards(e, info.leaseId, info.token.toString(), term.recordRevision),
            success: [putRecord(e, record, info.leaseId)],
            failure: this.#readOps(e),
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
    const grantedTtlMs = this.#keptAlive(renewed, info.leaseId, req.ttlMs, true);
    const hold = positive(txn.header.revision, "resume txn header");
    // The put moved the record past the revision its compare saw.
    if (hold <= BigInt(term.recordRevision)) throw malformed("resume txn");
    return { held: true, grantedTtlMs, leader: { ...info, parked: false }, hold: hold.toString() };
  }

  /** The compares that pin a term: its candidate key (token and lease) and the hold of the term record. */
  #guards(e: Election, leaseId: string, token: string, hold: string) {
    const key = candidateKey(e, leaseId);
    return [
      guard(key, "CREATE", "create_revision", token),
      guard(key, "LEASE", "lease", leaseId),
      guard(e.record, "MOD", "mod_revision", hold),
    ];
  }

  #termGuards(term: TermRef) {
    return this.#guards(election(this.#prefix, term.name), term.leaseId, term.token.toString(), term.hold);
  }

  async renew(term: TermRef, ctx: CallContext): Promise<{ grantedTtlMs: number }> {
    return { grantedTtlMs: await this.#keepAlive(term.leaseId, term.ttlMs, ctx) };
  }

  async park(term: TermRef, ctx: CallContext): Promise<void> {
    const record: HolderRecord = { holder: term.holder, ttlMs: term.ttlMs, state: "parked" };
    if (term.value !== undefined) record.value = term.value;
    const e = election(this.#prefix, term.name);
    const txn = await this.#txn(
      { compare: this.#termGuards(term), success: [putRecord(e, record, term.leaseId)] },
      ctx,
      "park txn",
    );
    responsesOf(txn, "p", "park txn", "");
  }

  async #revoke(leaseId: string, ctx: CallContext): Promise<void> {
    const res = await this.#gateway.post("/v3/lease/revoke", { ID: leaseId }, ctx, IDEMPOTENT);
    if (res.status === 404 && res.grpcCode === 5 /* NotFound */) return;
    if (res.status !== 200) throw gatewayFailure(res, "lease revoke");
  }

  release(term: TermRef, ctx: CallContext): Promise<void> {
    return this.#revoke(term.leaseId, ctx);
  }

  async releaseParked(name: string, holder: string, ctx: CallContext): Promise<void> {
    const e = election(this.#prefix, name);
    const term = this.#termFrom(e, await this.#read(e, ctx));
    if (!term?.record || term.info.holder !== holder || !term.info.parked) return;
    const { leaseId, token } = term.info;
    const ended = await this.#txn(
      {
        compare: this.#guards(e, leaseId, token.toString(), term.recordRevision),
        success: [
          { request_delete_range: { key: candidateKey(e, leaseId) } },
          { request_delete_range: { key: e.record } },
        ],
      },
      ctx,
      "release txn",
    );
    responsesOf(ended, "dd", "release txn", "");
    // Once its keys are gone nobody can resume the term, so its lease may go too.
    if (ended.succeeded) await this.#revoke(leaseId, ctx);
  }

  async leader(name: string, ctx: CallContext): Promise<LeaderInfo | null> {
    const e = election(this.#prefix, name);
    return this.#termFrom(e, await this.#read(e, ctx))?.info ?? null;
  }

  async txn(req: TxnRequest, ctx: CallContext): Promise<TxnOutcome> {
    const { term } = req;
    const e = election(this.#prefix, term.name);
    const key = candidateKey(e, term.leaseId);
    const txn = await this.#txn(
      {
        compare: [...this.#termGuards(term), ...req.compares.map(compareToWire)],
        success: req.ops.map(opToWire),
        failure: [{ request_range: { key } }, { request_range: { key: e.record } }],
      },
      ctx,
      "guarded txn",
      false,
      MAX_RESPONSE_BYTES + req.ops.filter((op) => op.type === "get").length * VALUE_ROOM_BYTES,
    );
    const kinds = req.ops.map((op) => OP_KIND[op.type]).join("");
    const responses = responsesOf(txn, kinds, "guarded txn", "rr");
    if (txn.succeeded) {
      return {
        applied: true,
        results: req.ops.map((op, i) => opResultFromWire(op, responses[i] as WireResponseOp)),
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

  close(): Promise<void> {
    return this.#gateway.close();
  }

  async ttlLeft(leaseId: string, ctx: CallContext): Promise<number | null> {
    const what = "lease timetolive";
    const res = await this.#gateway.post("/v3/lease/timetolive", { ID: leaseId }, ctx, IDEMPOTENT);
    const answer = parseOk(res, grantResponse, what);
    if (answer.ID !== leaseId) throw malformed(what);
    // TTL is -1 for a lease etcd no longer has; protojson omits 0 (the last second).
    const ttlS = int(answer.TTL);
    return ttlS < 0n ? null : Number(ttlS) * 1000 + EXPIRY_BOUND_MS;
  }

  /**
   * The term of election `name` decoded from its keys exactly as `leader()` decodes them, for the watch of
   * watch.ts: `responses` are two ranges, the candidate with the lowest create revision and the term record.
   * @throws {MalformedResponseError} as `leader()` does.
   */
  electionTerm(name: string, responses: readonly WireResponseOp[]): LeaderInfo | null {
    return this.#termFrom(election(this.#prefix, name), responses)?.info ?? null;
  }
}
