/**
 * Queued campaigns on etcd (`Backend.campaign`), as etcd's `clientv3/concurrency` Election campaigns: each
 * candidate puts `E/<its lease ID hex>` on its own lease and waits for the deletion of the candidate created
 * just before it (Go's `waitDeletes`), then leads by writing leasehold's term record at `E`, guarded by its
 * candidate key. Go candidates and `etcdctl elect` queue in the same line. Requests (etcd v3 JSON gateway):
 *
 * - enqueue: `POST /v3/lease/grant` (the claim ID as lease ID) pipelined with ONE txn that puts the candidate
 *   key and its queue marker (transfer.ts) only while the key is absent, else reads it;
 * - step: ONE txn comparing the candidate key's create revision and lease, every key of `E/` created at or
 *   after it, and `E` absent, putting the busy term record; else reading the candidate, its predecessor (the
 *   highest create revision below its own), the first candidate and the record; pipelined with one
 *   `POST /v3/lease/keepalive` of the candidate's lease;
 * - a first candidate that finds a transfer record naming it at `E` takes the term over (transfer.ts);
 * - transfer: transfer.ts;
 * - waitGone: `POST /v3/watch` on the predecessor's key from the step's revision + 1, until its DELETE.
 */
import {
  type CallContext,
  type CampaignBackend,
  type CampaignStep,
  type ClaimRequest,
  encodeBase64,
  fetchTransport,
  type HolderRecord,
  type LeaderInfo,
  LeaseLostError,
  redacting,
  TransportError,
  toBytes,
  UnsupportedError,
} from "../../src/backend-kit.ts";
import { type Answer, Dispatcher } from "./dispatcher.ts";
import { candidateKey, type Election, election } from "./layout.ts";
import { validateAuth, validateEndpoints } from "./options.ts";
import { equal, grantWithTxn, IDEMPOTENT, keptAlive, parseOk, putRecord, range } from "./requests.ts";
import { termFrom } from "./term.ts";
import { markerKey, takeOver, transfer } from "./transfer.ts";
import type { EtcdWatchOptions, WatchStreams } from "./watch-stream.ts";
import { kvOf, malformed, positive, responsesOf, txnResponse } from "./wire.ts";

/** The queued campaign of an `etcdWithWatch` backend: its own dispatcher on the same endpoints and credentials. */
export function etcdCampaign(
  streams: Pick<WatchStreams, "open">,
  prefix: string,
  options: EtcdWatchOptions,
): CampaignBackend {
  const auth = validateAuth(options.auth);
  const dispatcher = new Dispatcher({
    endpoints: validateEndpoints(options.endpoints),
    transport: options.transport ?? fetchTransport(),
    auth,
  });
  const campaign: CampaignBackend = {
    enqueue: (req, ctx) => enqueue(dispatcher, prefix, req, ctx),
    step: (req, candidate, ctx) => step(dispatcher, election(prefix, req.name), req, candidate, ctx),
    waitGone: (name, ahead, o) => waitGone(streams, name, ahead, o),
    transfer: (term, req, ctx) => transfer(dispatcher, prefix, term, req, ctx),
  };
  return auth ? redacting(campaign, () => dispatcher.secrets()) : campaign;
}

async function enqueue(dispatcher: Dispatcher, prefix: string, req: ClaimRequest, ctx: CallContext) {
  const e = election(prefix, req.name);
  const leaseId = req.claimId.toString();
  const key = candidateKey(e, leaseId);
  const proclaimed = encodeBase64(toBytes(req.value ?? req.holder));
  // The queue marker (transfer.ts): same txn, same lease, so the same create revision as the candidate key.
  const marker = {
    key: markerKey(prefix, req.name, leaseId),
    value: encodeBase64(toBytes(req.holder)),
    lease: leaseId,
  };
  // A retried enqueue finds its own lease ("already exists") and its own key.
  const { grantedTtlMs, txn, responses } = await grantWithTxn(
    dispatcher,
    leaseId,
    req.ttlMs,
    {
      compare: [equal(key, "CREATE", "create_revision", "0")],
      success: [{ request_put: { key, value: proclaimed, lease: leaseId } }, { request_put: marker }],
      failure: [range(key)],
    },
    ctx,
    "candidate txn",
    "r",
  );
  if (txn.succeeded) return { leaseId, token: positive(txn.header.revision, "candidate txn"), grantedTtlMs };
  const kv = kvOf(responses[0], key);
  if (kv?.lease !== leaseId) throw malformed("candidate txn");
  return { leaseId, token: positive(kv.create_revision, "candidate txn"), grantedTtlMs };
}

async function step(
  dispatcher: Dispatcher,
  e: Election,
  req: ClaimRequest,
  { leaseId, token }: { leaseId: string; token: bigint },
  ctx: CallContext,
): Promise<CampaignStep> {
  const key = candidateKey(e, leaseId);
  const run = req.claimId.toString();
  const record: HolderRecord = { holder: req.holder, ttlMs: req.ttlMs, state: "busy", run };
  if (req.value !== undefined) record.value = req.value;
  const before = (token - 1n).toString();
  const body = {
    compare: [
      equal(key, "CREATE", "create_revision", token.toString()),
      equal(key, "LEASE", "lease", leaseId),
      // Every candidate (a range compare holds for each key in it) was created at or after this one.
      { key: e.from, range_end: e.to, target: "CREATE", result: "GREATER", create_revision: before },
      equal(e.record, "CREATE", "create_revision", "0"),
    ],
    success: [putRecord(e, record, leaseId)],
    failure: [
      range(key),
      {
        request_range: {
          key: e.from,
          range_end: e.to,
          max_create_revision: before,
          sort_order: "DESCEND",
          sort_target: "CREATE",
          limit: "1",
        },
      },
      range(e.from, e.to),
      range(e.record),
    ],
  };
  const [answer, renewed] = (await dispatcher.postInOrder(
    [
      { path: "/v3/kv/txn", body },
      { path: "/v3/lease/keepalive", body: { ID: leaseId } },
    ],
    ctx,
    IDEMPOTENT,
  )) as [Answer, Answer];
  const txn = parseOk(answer, txnResponse, "campaign txn");
  const responses = responsesOf(txn, "p", "campaign txn", "rrrr");
  const grantedTtlMs = keptAlive(renewed, leaseId, req.ttlMs, true);
  const leader: LeaderInfo = { holder: req.holder, token, ttlMs: req.ttlMs, leaseId, parked: false };
  if (req.value !== undefined) leader.value = req.value;
  if (txn.succeeded) {
    return {
      held: true,
      leader,
      grantedTtlMs,
      hold: positive(txn.header.revision, "campaign txn").toString(),
    };
  }
  const own = kvOf(responses[0], key);
  if (!own || own.lease !== leaseId || own.create_revision !== token.toString()) {
    throw new LeaseLostError(`lease ${req.name}: candidate ${key} is gone`, { retryable: true });
  }
  const current = termFrom(e, responses.slice(2));
  // An earlier try of this step led, and its answer was lost.
  if (current?.record?.run === run && !current.info.parked && current.info.token === token) {
    return { held: true, leader, grantedTtlMs, hold: current.recordRevision };
  }
  // etcd counts the whole range before it filters by create revision: the count says nothing here.
  const predecessor = responses[1]?.response_range?.kvs?.[0];
  const recordKv = kvOf(responses[3], e.record);
  if (!predecessor && recordKv && recordKv.lease !== leaseId) {
    // The record may be a transfer to this candidate: it leads now, in the window only it may lead in.
    const hold = await takeOver(dispatcher, e, { key, leaseId, token }, record, recordKv, ctx);
    if (hold) return { held: true, leader, grantedTtlMs, hold };
  }
  // First in line, yet a record of another lease stands (a term's, or a transfer's to another candidate): wait
  // for it to go with its lease.
  const ahead = predecessor?.key ?? e.record;
  return {
    held: false,
    leader: current?.info ?? null,
    ahead: `${txn.header.revision} ${ahead}`,
    grantedTtlMs,
  };
}

async function waitGone(
  streams: Pick<WatchStreams, "open">,
  name: string,
  ahead: string,
  options: { signal: AbortSignal; requestTimeoutMs: number },
): Promise<void> {
  const [revision, key] = ahead.split(" ") as [string, string];
  const request = { create_request: { key, start_revision: String(BigInt(revision) + 1n) } };
  const stream = await streams.open(request, options.signal, options.requestTimeoutMs);
  try {
    for (;;) {
      const result = await stream.next();
      if (result === null) throw new TransportError(`etcd watch of ${name}: the stream ended`);
      if (result.compact_revision !== undefined) {
        throw new UnsupportedError(`etcd watch of ${name}: revision ${revision} is compacted`);
      }
      if (result.canceled)
        throw new TransportError(`etcd watch of ${name} canceled: ${result.cancel_reason}`);
      if (result.events?.some((event) => event.type === "DELETE")) return;
    }
  } finally {
    stream.close();
  }
}
