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
import {
  assertNoWritesUnder,
  type Backend,
  type BackendCapabilities,
  type CallContext,
  type ClaimOutcome,
  type ClaimRequest,
  decodeHolderRecord,
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
import { encodeBase64 } from "./base64.ts";
import { type Gateway, GrpcCode, gatewayFailure, readGatewayError } from "./gateway.ts";
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
  const key = encodeBase64(op.key);
  switch (op.type) {
    case "put":
      return { request_put: { key, value: encodeBase64(op.value) } };
    case "delete":
      return { request_delete_range: { key } };
    case "get":
      return { request_range: { key } };
  }
}

function opResultFromWire(op: NormalizedOp, res: WireResponseOp | undefined): OpResult {
  switch (op.type) {
    case "put":
      if (res?.response_put) return { type: "put" };
      break;
    case "delete":
      if (res?.response_delete_range)
        return { type: "delete", deleted: int(res.response_delete_range.deleted) };
      break;
    case "get":
      if (res?.response_range) {
        const kv = res.response_range.kvs?.[0];
        return { type: "get", kv: kv ? toKeyValue(kv) : null };
      }
      break;
  }
  throw new MalformedResponseError(`etcd txn: no matching response for a ${op.type} op`);
}

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
    const record = decodeHolderRecord(toKeyValue(kv).value, where);
    return {
      holder: record.holder,
      token: int(kv.create_revision),
      ttlMs: record.ttlMs,
      leaseId: kv.lease as string,
      ...(record.value === undefined ? {} : { value: record.value }),
    };
  }

  /** One keepalive; returns the granted TTL in ms, or null when etcd no longer has the lease. */
  async #keepAlive(leaseId: string, ctx: CallContext): Promise<number | null> {
    const res = await this.#gateway.post("/v3/lease/keepalive", { ID: leaseId }, ctx, IDEMPOTENT);
    if (res.status !== 200) throw gatewayFailure(res, "lease keepalive");
    // The gateway streams one JSON message per line; one request body yields one message.
    const first = res.body.split("\n", 1)[0] ?? "";
    const { result } = parseWire(keepAliveResponse, first, "lease keepalive");
    if (result.ID !== undefined && result.ID !== leaseId) {
      throw new MalformedResponseError(
        `etcd lease keepalive: answered for lease ${result.ID}, not ${leaseId}`,
      );
    }
    const ttlS = int(result.TTL);
    return ttlS > 0n ? Number(ttlS) * 1000 : null;
  }

  /** The grant's TTL in ms; "lease already exists" (gRPC 9) means an earlier try of this claim created it. */
  async #grantedTtl(res: HttpResponse, leaseId: string, ctx: CallContext): Promise<number> {
    if (res.status === 200) {
      const granted = parseWire(grantResponse, res.body, "lease grant");
      if (granted.error) throw new MalformedResponseError(`etcd lease grant: ${granted.error}`);
      if (granted.ID !== leaseId) {
        throw new MalformedResponseError(`etcd lease grant: granted lease ${granted.ID}, not ${leaseId}`);
      }
      const ttlS = int(granted.TTL);
      if (ttlS <= 0n) throw new MalformedResponseError("etcd lease grant: no TTL in the response");
      return Number(ttlS) * 1000;
    }
    // gRPC FailedPrecondition is HTTP 412 from etcd 3.4's gateway and HTTP 400 from etcd 3.5's.
    const exists = res.status === 412 || res.status === 400;
    if (exists && readGatewayError(res).code === GrpcCode.FailedPrecondition) {
      const ttlMs = await this.#keepAlive(leaseId, ctx);
      if (ttlMs === null)
        throw new LeaseLostError(`etcd lease ${leaseId} from an earlier try of this claim has expired`);
      return ttlMs;
    }
    throw gatewayFailure(res, "lease grant");
  }

  async claim(req: ClaimRequest, ctx: CallContext): Promise<ClaimOutcome> {
    const leaseId = req.claimId.toString();
    const key = this.#key(req.name);
    const record = encodeHolderRecord({
      holder: req.holder,
      ttlMs: req.ttlMs,
      ...(req.value === undefined ? {} : { value: req.value }),
    });
    const [grantRes, txnRes] = this.#gateway.postInOrder(
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
    ) as [Promise<HttpResponse>, Promise<HttpResponse>];
    // Settle both before deciding, so that no rejection is left unobserved.
    const [grantSettled, txnSettled] = await Promise.allSettled([grantRes, txnRes]);
    if (grantSettled.status === "rejected") throw grantSettled.reason;
    const grantedTtlMs = await this.#grantedTtl(grantSettled.value, leaseId, ctx);
    if (txnSettled.status === "rejected") throw txnSettled.reason;
    const res = txnSettled.value;
    if (res.status !== 200) throw gatewayFailure(res, "claim txn");
    const txn = parseWire(txnResponse, res.body, "claim txn");
    if (txn.succeeded) {
      const revision = int(txn.header.revision);
      if (revision <= 0n)
        throw new MalformedResponseError("etcd claim txn: no revision in the response header");
      return {
        held: true,
        grantedTtlMs,
        leader: {
          holder: req.holder,
          token: revision,
          ttlMs: req.ttlMs,
          leaseId,
          ...(req.value === undefined ? {} : { value: req.value }),
        },
      };
    }
    const current = this.#leaderFrom(req.name, txn.responses?.[0]?.response_range?.kvs?.[0]);
    if (!current)
      throw new MalformedResponseError("etcd claim txn: compare failed but the key was not returned");
    if (current.leaseId === leaseId) return { held: true, grantedTtlMs, leader: current };
    if (current.holder !== req.holder) return { held: false, leader: current };
    // This holder already holds the lease (an earlier invocation): resume that term.
    const resumedTtlMs = await this.#keepAlive(current.leaseId, ctx);
    if (resumedTtlMs === null)
      throw new LeaseLostError(`etcd lease ${current.leaseId} of this holder expired during the claim`, {
        retryable: true,
      });
    return { held: true, grantedTtlMs: resumedTtlMs, leader: current };
  }

  async renew(term: TermRef, ctx: CallContext): Promise<{ grantedTtlMs: number }> {
    const grantedTtlMs = await this.#keepAlive(term.leaseId, ctx);
    if (grantedTtlMs === null) {
      throw new LeaseLostError(`lease ${term.name}: etcd lease ${term.leaseId} has expired or was revoked`);
    }
    return { grantedTtlMs };
  }

  async release(term: TermRef, ctx: CallContext): Promise<void> {
    const res = await this.#gateway.post("/v3/lease/revoke", { ID: term.leaseId }, ctx, IDEMPOTENT);
    if (res.status === 200) return;
    if (res.status === 404 && readGatewayError(res).code === GrpcCode.NotFound) return;
    throw gatewayFailure(res, "lease revoke");
  }

  async leader(name: string, ctx: CallContext): Promise<LeaderInfo | null> {
    const res = await this.#gateway.post("/v3/kv/range", { key: this.#key(name) }, ctx, IDEMPOTENT);
    if (res.status !== 200) throw gatewayFailure(res, "range");
    return this.#leaderFrom(name, parseWire(rangeResponse, res.body, "range").kvs?.[0]);
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
    if (res.status !== 200) throw gatewayFailure(res, "guarded txn");
    const txn = parseWire(txnResponse, res.body, "guarded txn");
    if (txn.succeeded) {
      return { applied: true, results: req.ops.map((op, i) => opResultFromWire(op, txn.responses?.[i])) };
    }
    const kv = txn.responses?.[0]?.response_range?.kvs?.[0];
    const stillHeld =
      kv !== undefined && int(kv.create_revision) === term.token && (kv.lease ?? "0") === term.leaseId;
    return { applied: false, reason: stillHeld ? "condition-failed" : "not-leader" };
  }

  close(): Promise<void> {
    return this.#gateway.close();
  }
}
