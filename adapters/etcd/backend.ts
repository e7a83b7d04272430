/**
 * The etcd Backend. Layout: one key per lease, `<prefix><name>`, holding the holder record and attached to the
 * holder's etcd lease; the fencing token is that key's create_revision. Requests (etcd v3 JSON gateway):
 *
 * - claim: `POST /v3/lease/grant` with a client-chosen ID, then ONE `POST /v3/kv/txn` that puts the key only if
 *   it does not exist (compare create_revision == 0) and otherwise reads it. The two are pipelined when the
 *   transport can. A losing claim leaves its fresh lease unattached; etcd drops it after the TTL.
 * - renew: `POST /v3/lease/keepalive` (one renewal per request).
 * - release: `POST /v3/lease/revoke`, which deletes the key with the lease.
 * - leader: `POST /v3/kv/range` on the key.
 * - doIfLeader: ONE `POST /v3/kv/txn` comparing the key's create_revision with the token and its lease with the
 *   holder's lease ID, plus the caller's compares.
 */

import type { ZodMiniType } from "zod/mini";
import {
  assertNoWritesUnder,
  type Backend,
  type BackendCapabilities,
  type CallContext,
  type ClaimOutcome,
  type ClaimRequest,
  decodeBase64,
  decodeHolderRecord,
  encodeBase64,
  encodeHolderRecord,
  type HttpResponse,
  type LeaderInfo,
  LeaseLostError,
  MalformedResponseError,
  type NormalizedCompare,
  type NormalizedOp,
  type OpResult,
  type TermRef,
  type TxnOutcome,
  type TxnRequest,
  toBytes,
} from "../../src/index.ts";
import { type Gateway, gatewayFailure, readGatewayError } from "./gateway.ts";
import { FAILED_PRECONDITION, NOT_FOUND } from "./gateway-error.ts";
import {
  grantResponse,
  int,
  keepAliveResponse,
  parseWire,
  rangeResponse,
  toKeyValue,
  txnResponse,
  type WireKeyValue,
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

/** Requests safe to send again after a lost answer (see `SendOptions`); the guarded txn is not one. */
const IDEMPOTENT = { idempotent: true } as const;

const TARGET = { value: "VALUE", version: "VERSION", createRevision: "CREATE", modRevision: "MOD" } as const;
const TARGET_FIELD = {
  value: "value",
  version: "version",
  createRevision: "create_revision",
  modRevision: "mod_revision",
} as const;
const RESULT = { "=": "EQUAL", "!=": "NOT_EQUAL", "<": "LESS", ">": "GREATER" } as const;
const OP_REQUEST = { put: "request_put", delete: "request_delete_range", get: "request_range" } as const;

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

function opResultFromWire(op: NormalizedOp, res: WireResponseOp | undefined): OpResult {
  if (op.type === "put" && res?.response_put) return { type: "put" };
  if (op.type === "delete" && res?.response_delete_range) {
    return { type: "delete", deleted: int(res.response_delete_range.deleted) };
  }
  if (op.type === "get" && res?.response_range) {
    const kv = firstKv(res);
    return { type: "get", kv: kv ? toKeyValue(kv) : null };
  }
  throw new MalformedResponseError(`etcd txn: no matching response for a ${op.type} op`);
}

const firstKv = (res: WireResponseOp | undefined) => res?.response_range?.kvs?.[0];

/** Parses a 200 answer with `schema`; any other status becomes a typed error. */
function parseOk<T>(res: HttpResponse, schema: ZodMiniType<T>, what: string): T {
  if (res.status !== 200) throw gatewayFailure(res, what);
  return parseWire(schema, res.body, what);
}

/** etcd's gRPC status in a non-200 answer is `code`. */
const grpcCode = (res: HttpResponse) => readGatewayError(res).code;

const withValue = <T extends object>(target: T, value: string | undefined) =>
  value === undefined ? target : { ...target, value };

export class EtcdBackend implements Backend {
  readonly kind = "etcd";
  readonly capabilities = ETCD_CAPABILITIES;
  readonly #gateway: Gateway;
  readonly #prefix: string;
  readonly #prefixBytes: Uint8Array;

  constructor(gateway: Gateway, prefix: string) {
    this.#gateway = gateway;
    this.#prefix = prefix;
    this.#prefixBytes = toBytes(prefix);
  }

  #key(name: string): string {
    return encodeBase64(toBytes(this.#prefix + name));
  }

  /** Reads the leader from a kv (null when absent). A key without a lease was not written by leasehold. */
  #leaderFrom(name: string, kv: WireKeyValue | undefined): LeaderInfo | null {
    if (!kv) return null;
    const where = `etcd key ${this.#prefix}${name}`;
    if (int(kv.lease) === 0n) throw new MalformedResponseError(`${where} is not attached to a lease`);
    const { holder, ttlMs, value } = decodeHolderRecord(decodeBase64(kv.value ?? "", where), where);
    return withValue({ holder, token: int(kv.create_revision), ttlMs, leaseId: kv.lease as string }, value);
  }

  /**
   * One keepalive; returns the granted TTL in ms.
   * @throws {LeaseLostError} etcd no longer has the lease (its answer omits the TTL, i.e. TTL 0).
   */
  async #keepAlive(leaseId: string, ctx: CallContext, retryable = false): Promise<number> {
    const what = "lease keepalive";
    const res = await this.#gateway.post("/v3/lease/keepalive", { ID: leaseId }, ctx, IDEMPOTENT);
    // The gateway streams one JSON message per line; one request body yields one message.
    const { result } = parseOk({ ...res, body: res.body.split("\n", 1)[0] ?? "" }, keepAliveResponse, what);
    if (result.ID !== undefined && result.ID !== leaseId) {
      throw new MalformedResponseError(`etcd ${what}: answered for lease ${result.ID}, not ${leaseId}`);
    }
    const ttlS = int(result.TTL);
    if (ttlS <= 0n)
      throw new LeaseLostError(`etcd lease ${leaseId} has expired or was revoked`, { retryable });
    return Number(ttlS) * 1000;
  }

  /** The grant's TTL in ms; "lease already exists" (gRPC 9) means an earlier try of this claim created it. */
  async #grantedTtl(res: HttpResponse, leaseId: string, ctx: CallContext): Promise<number> {
    // gRPC FailedPrecondition is HTTP 412 from etcd 3.4's gateway and HTTP 400 from etcd 3.5's.
    if ((res.status === 412 || res.status === 400) && grpcCode(res) === FAILED_PRECONDITION) {
      return this.#keepAlive(leaseId, ctx);
    }
    const granted = parseOk(res, grantResponse, "lease grant");
    const ttlS = int(granted.TTL);
    if (granted.ID !== leaseId || ttlS <= 0n) {
      throw new MalformedResponseError(`etcd lease grant: got lease ${granted.ID} with TTL ${ttlS}`);
    }
    return Number(ttlS) * 1000;
  }

  async claim(req: ClaimRequest, ctx: CallContext): Promise<ClaimOutcome> {
    const leaseId = req.claimId.toString();
    const key = this.#key(req.name);
    const record = encodeHolderRecord(withValue({ holder: req.holder, ttlMs: req.ttlMs }, req.value));
    const settled = await Promise.allSettled(
      this.#gateway.postInOrder(
        [
          { path: "/v3/lease/grant", body: { ID: leaseId, TTL: String(req.ttlMs / 1000) } },
          {
            path: "/v3/kv/txn",
            body: {
              compare: [{ key, target: "CREATE", result: "EQUAL", create_revision: "0" }],
              success: [{ request_put: { key, value: encodeBase64(record), lease: leaseId } }],
              failure: [{ request_range: { key } }],
            },
          },
        ],
        ctx,
        IDEMPOTENT,
      ),
    );
    // Both settle before deciding, so that no rejection is left unobserved.
    const [grant, put] = settled as [PromiseSettledResult<HttpResponse>, PromiseSettledResult<HttpResponse>];
    if (grant.status === "rejected") throw grant.reason;
    const grantedTtlMs = await this.#grantedTtl(grant.value, leaseId, ctx);
    if (put.status === "rejected") throw put.reason;
    const txn = parseOk(put.value, txnResponse, "claim txn");
    if (txn.succeeded) {
      const token = int(txn.header.revision);
      if (token <= 0n) throw new MalformedResponseError("etcd claim txn: no revision in the header");
      const leader = withValue({ holder: req.holder, token, ttlMs: req.ttlMs, leaseId }, req.value);
      return { held: true, grantedTtlMs, leader };
    }
    const current = this.#leaderFrom(req.name, firstKv(txn.responses?.[0]));
    if (!current) throw new MalformedResponseError("etcd claim txn: the key is neither free nor returned");
    if (current.leaseId === leaseId) return { held: true, grantedTtlMs, leader: current };
    if (current.holder !== req.holder) return { held: false, leader: current };
    // This holder already holds the lease (an earlier invocation): resume that term. Should its lease expire
    // in between, the claim may simply be tried again.
    return { held: true, grantedTtlMs: await this.#keepAlive(current.leaseId, ctx, true), leader: current };
  }

  async renew(term: TermRef, ctx: CallContext): Promise<{ grantedTtlMs: number }> {
    return { grantedTtlMs: await this.#keepAlive(term.leaseId, ctx) };
  }

  async release(term: TermRef, ctx: CallContext): Promise<void> {
    const res = await this.#gateway.post("/v3/lease/revoke", { ID: term.leaseId }, ctx, IDEMPOTENT);
    if (res.status === 404 && grpcCode(res) === NOT_FOUND) return;
    if (res.status !== 200) throw gatewayFailure(res, "lease revoke");
  }

  async leader(name: string, ctx: CallContext): Promise<LeaderInfo | null> {
    const res = await this.#gateway.post("/v3/kv/range", { key: this.#key(name) }, ctx, IDEMPOTENT);
    return this.#leaderFrom(name, parseOk(res, rangeResponse, "range").kvs?.[0]);
  }

  async txn(req: TxnRequest, ctx: CallContext): Promise<TxnOutcome> {
    assertNoWritesUnder(this.#prefixBytes, req.ops);
    const { term } = req;
    const key = this.#key(term.name);
    const res = await this.#gateway.post(
      "/v3/kv/txn",
      {
        compare: [
          { key, target: "CREATE", result: "EQUAL", create_revision: term.token.toString() },
          { key, target: "LEASE", result: "EQUAL", lease: term.leaseId },
          ...req.compares.map(compareToWire),
        ],
        success: req.ops.map(opToWire),
        failure: [{ request_range: { key } }],
      },
      ctx,
    );
    const txn = parseOk(res, txnResponse, "guarded txn");
    if (txn.succeeded) {
      return { applied: true, results: req.ops.map((op, i) => opResultFromWire(op, txn.responses?.[i])) };
    }
    const kv = firstKv(txn.responses?.[0]);
    const stillHeld = kv !== undefined && int(kv.create_revision) === term.token && kv.lease === term.leaseId;
    return { applied: false, reason: stillHeld ? "condition-failed" : "not-leader" };
  }

  close(): Promise<void> {
    return this.#gateway.close();
  }
}
