/**
 * The etcd Backend, on the election layout of layout.ts. Requests (etcd v3 JSON gateway):
 *
 * - claim: claim.ts (one read-only txn; two more requests, pipelined, to take a free lease or resume a parked
 *   term).
 * - renew: `POST /v3/lease/keepalive` (one renewal per request).
 * - park: ONE txn, guarded like doIfLeader, that marks the record parked.
 * - release: `POST /v3/lease/revoke`, which deletes the term's keys with its lease.
 * - leader: the read-only txn of claim.
 * - doIfLeader: guarded-txn.ts (ONE `POST /v3/kv/txn`).
 */

import {
  type Backend,
  type BackendCapabilities,
  type CallContext,
  type ClaimOutcome,
  type ClaimRequest,
  type HolderRecord,
  type LeaderInfo,
  type TermRef,
  type TxnOutcome,
  type TxnRequest,
  toBytes,
} from "../../src/backend-kit.ts";
import { claim } from "./claim.ts";
import type { Gateway } from "./gateway.ts";
import { guardedTxn } from "./guarded-txn.ts";
import { candidateKey, election } from "./layout.ts";
import { keepAlive, putRecord, revoke, sendTxn, ttlLeft } from "./requests.ts";
import { readElection, termFrom, termGuards } from "./term.ts";
import { responsesOf } from "./wire.ts";

/** etcd's minimum lease TTL is 2 s; its maximum (MaxLeaseTTL) is 9 000 000 000 s. */
export const ETCD_CAPABILITIES: BackendCapabilities = {
  atomicGuard: true,
  minTtlMs: 2000,
  maxTtlMs: 9_000_000_000_000,
  ttlGranularityMs: 1000,
  compareTargets: ["value", "version", "createRevision", "modRevision"],
};

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

  claim(req: ClaimRequest, ctx: CallContext): Promise<ClaimOutcome> {
    return claim(this.#gateway, election(this.#prefix, req.name), req, ctx);
  }

  async renew(term: TermRef, ctx: CallContext): Promise<{ grantedTtlMs: number }> {
    return { grantedTtlMs: await keepAlive(this.#gateway, term.leaseId, term.ttlMs, ctx) };
  }

  async park(term: TermRef, ctx: CallContext): Promise<void> {
    const record: HolderRecord = { holder: term.holder, ttlMs: term.ttlMs, state: "parked" };
    if (term.value !== undefined) record.value = term.value;
    const e = election(this.#prefix, term.name);
    const what = "park txn";
    const txn = await sendTxn(
      this.#gateway,
      {
        compare: termGuards(e, term.leaseId, term.token, term.hold),
        success: [putRecord(e, record, term.leaseId)],
      },
      ctx,
      what,
    );
    responsesOf(txn, "p", what, "");
  }

  release(term: TermRef, ctx: CallContext): Promise<void> {
    return revoke(this.#gateway, term.leaseId, ctx);
  }

  /** Reads the term, then deletes its keys in a txn guarded by the parked record's hold, then revokes. */
  async releaseParked(name: string, holder: string, ctx: CallContext): Promise<void> {
    const gateway = this.#gateway;
    const e = election(this.#prefix, name);
    const term = termFrom(e, await readElection(gateway, e, ctx));
    if (!term?.record || term.info.holder !== holder || !term.info.parked) return;
    const { leaseId, token } = term.info;
    const what = "release txn";
    const ended = await sendTxn(
      gateway,
      {
        compare: termGuards(e, leaseId, token, term.recordRevision),
        success: [
          { request_delete_range: { key: candidateKey(e, leaseId) } },
          { request_delete_range: { key: e.record } },
        ],
      },
      ctx,
      what,
    );
    responsesOf(ended, "dd", what, "");
    // Once its keys are gone nobody can resume the term, so its lease may go too.
    if (ended.succeeded) await revoke(gateway, leaseId, ctx);
  }

  async leader(name: string, ctx: CallContext): Promise<LeaderInfo | null> {
    const e = election(this.#prefix, name);
    return termFrom(e, await readElection(this.#gateway, e, ctx))?.info ?? null;
  }

  txn(req: TxnRequest, ctx: CallContext): Promise<TxnOutcome> {
    return guardedTxn(this.#gateway, election(this.#prefix, req.term.name), req, ctx);
  }

  close(): Promise<void> {
    return this.#gateway.close();
  }

  ttlLeft(leaseId: string, ctx: CallContext): Promise<number | null> {
    return ttlLeft(this.#gateway, leaseId, ctx);
  }
}
