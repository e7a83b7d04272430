/**
 * The etcd Backend, on the election layout of layout.ts. Requests (etcd v3 JSON gateway):
 *
 * - claim: claim.ts (one read-only txn; two more requests, pipelined, to take a free lease or resume a parked
 *   term).
 * - renew: `POST /v3/lease/keepalive` (one renewal per request).
 * - park: ONE txn, guarded like doIfLeader, that marks the record parked.
 * - release: `POST /v3/lease/revoke`, which deletes the term's keys with its lease. Without a term: the read of
 *   claim, then a txn guarded by the parked record's hold that deletes the term's keys, then the revoke.
 * - leader: the read-only txn of claim.
 * - doIfLeader: guarded-txn.ts (ONE `POST /v3/kv/txn`).
 */

import {
  type Backend,
  type BackendCapabilities,
  type CallContext,
  type HolderRecord,
  type TermRef,
  toBytes,
} from "../../src/backend-kit.ts";
import { claim } from "./claim.ts";
import type { Dispatcher } from "./dispatcher.ts";
import { guardedTxn } from "./guarded-txn.ts";
import { candidateKey, type Election, election } from "./layout.ts";
import { keepAlive, putRecord, revoke, sendTxn, ttlLeft } from "./requests.ts";
import { readElection, termFrom, termGuards } from "./term.ts";
import { responsesOf } from "./wire.ts";

/**
 * etcd's minimum lease TTL is 2 s; its maximum (MaxLeaseTTL) is 9 000 000 000 s. It expires a lease up to
 * 500 ms after its TTL.
 */
export const ETCD_CAPABILITIES: BackendCapabilities = {
  atomicGuard: true,
  minTtlMs: 2000,
  maxTtlMs: 9_000_000_000_000,
  ttlGranularityMs: 1000,
  compareTargets: ["value", "version", "createRevision", "modRevision"],
  expirySlackMs: 500,
};

/** The etcd Backend on `dispatcher`, its elections under `prefix`. */
export function etcdBackend(dispatcher: Dispatcher, prefix: string): Backend {
  const at = (name: string) => election(prefix, name);
  return {
    kind: "etcd",
    capabilities: ETCD_CAPABILITIES,
    reservedPrefix: toBytes(prefix),
    claim: (req, ctx) => claim(dispatcher, at(req.name), req, ctx),
    renew: async (term, ctx) => ({
      grantedTtlMs: await keepAlive(dispatcher, term.leaseId, term.ttlMs, ctx),
    }),
    park: (term, ctx) => park(dispatcher, at(term.name), term, ctx),
    release: (term, ctx) => revoke(dispatcher, term.leaseId, ctx),
    releaseParked: (name, holder, ctx) => releaseParked(dispatcher, at(name), holder, ctx),
    leader: async (name, ctx) => {
      const e = at(name);
      return termFrom(e, await readElection(dispatcher, e, ctx))?.info ?? null;
    },
    txn: (req, ctx) => guardedTxn(dispatcher, at(req.term.name), req, ctx),
    close: () => dispatcher.close(),
    ttlLeft: (leaseId, ctx) => ttlLeft(dispatcher, leaseId, ctx),
  };
}

async function park(dispatcher: Dispatcher, e: Election, term: TermRef, ctx: CallContext): Promise<void> {
  const record: HolderRecord = { holder: term.holder, ttlMs: term.ttlMs, state: "parked" };
  if (term.value !== undefined) record.value = term.value;
  const what = "park txn";
  const txn = await sendTxn(
    dispatcher,
    {
      compare: termGuards(e, term.leaseId, term.token, term.hold),
      success: [putRecord(e, record, term.leaseId)],
    },
    ctx,
    what,
  );
  responsesOf(txn, "p", what, "");
}

async function releaseParked(
  dispatcher: Dispatcher,
  e: Election,
  holder: string,
  ctx: CallContext,
): Promise<void> {
  const term = termFrom(e, await readElection(dispatcher, e, ctx));
  if (!term?.record || term.info.holder !== holder || !term.info.parked) return;
  const { leaseId, token } = term.info;
  const what = "release txn";
  const ended = await sendTxn(
    dispatcher,
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
  if (ended.succeeded) await revoke(dispatcher, leaseId, ctx);
}
