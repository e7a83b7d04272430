/**
 * Queued campaigns on etcd (`Backend.campaign`), as etcd's `clientv3/concurrency` Election campaigns: each
 * candidate puts `E/<its lease ID hex>` on its own lease and waits for the deletion of the candidate created
 * just before it (Go's `waitDeletes`), then leads by writing leasehold's term record at `E`, guarded by its
 * candidate key. Go candidates and `etcdctl elect` queue in the same line. Requests (etcd v3 JSON gateway):
 *
 * - enqueue: `POST /v3/lease/grant` (the claim ID as lease ID) pipelined with ONE txn that puts the candidate
 *   key only while it is absent, else reads it;
 * - step: ONE txn comparing the candidate key's create revision and lease, every key of `E/` created at or
 *   after it, and `E` absent, putting the busy term record; else reading the candidate, its predecessor (the
 *   highest create revision below its own), the first candidate and the record; sent with one
 *   `POST /v3/lease/keepalive` of the candidate's lease;
 * - waitGone: `POST /v3/watch` on the predecessor's key from the step's revision + 1, until its DELETE.
 */
import {
  type Backend,
  type CallContext,
  type CampaignBackend,
  type CampaignStep,
  type Candidate,
  type ClaimRequest,
  encodeBase64,
  encodeHolderRecord,
  fetchTransport,
  type HolderRecord,
  type LeaderInfo,
  LeaseLostError,
  redacting,
  TransportError,
  toBytes,
  UnsupportedError,
} from "../../src/backend-kit.ts";
import { Gateway, gatewayFailure } from "./gateway.ts";
import { candidateKey, election } from "./layout.ts";
import { validateAuth, validateEndpoints } from "./options.ts";
import { termFrom } from "./term.ts";
import type { EtcdWatchOptions, WatchStreams } from "./watch-stream.ts";
import { grantResponse, kvOf, malformed, parseWire, positive, responsesOf, txnResponse } from "./wire.ts";

const IDEMPOTENT = { idempotent: true } as const;

/** What the etcd backend lends the campaign: its keepalive (`renew`). */
type Lender = Pick<Backend, "renew">;

/** The queued campaign of an `etcdWithWatch` backend: its own gateway on the same endpoints and credentials. */
export function etcdCampaign(
  backend: Lender,
  streams: Pick<WatchStreams, "open">,
  prefix: string,
  options: EtcdWatchOptions,
): CampaignBackend {
  const auth = validateAuth(options.auth);
  const gateway = new Gateway({
    endpoints: validateEndpoints(options.endpoints),
    transport: options.transport ?? fetchTransport(),
    auth,
  });
  const campaign = new EtcdCampaign(backend, streams, prefix, gateway);
  return auth ? redacting(campaign, () => gateway.secrets()) : campaign;
}

const ref = (req: ClaimRequest, c: Candidate) => ({ ...req, leaseId: c.leaseId, token: c.token, hold: "0" });

class EtcdCampaign implements CampaignBackend {
  readonly #backend: Lender;
  readonly #streams: Pick<WatchStreams, "open">;
  readonly #prefix: string;
  readonly #gateway: Gateway;

  constructor(backend: Lender, streams: Pick<WatchStreams, "open">, prefix: string, gateway: Gateway) {
    this.#backend = backend;
    this.#streams = streams;
    this.#prefix = prefix;
    this.#gateway = gateway;
  }

  async enqueue(req: ClaimRequest, ctx: CallContext): Promise<Candidate & { grantedTtlMs: number }> {
    const e = election(this.#prefix, req.name);
    const leaseId = req.claimId.toString();
    const key = candidateKey(e, leaseId);
    const [grant, put] = await this.#gateway.postInOrder(
      [
        { path: "/v3/lease/grant", body: { ID: leaseId, TTL: String(req.ttlMs / 1000) } },
        {
          path: "/v3/kv/txn",
          body: {
            compare: [{ key, target: "CREATE", result: "EQUAL", create_revision: "0" }],
            success: [
              { request_put: { key, value: encodeBase64(toBytes(req.value ?? req.holder)), lease: leaseId } },
            ],
            failure: [{ request_range: { key } }],
          },
        },
      ],
      ctx,
      IDEMPOTENT,
    );
    const candidate = { leaseId, token: 0n };
    let grantedTtlMs: number;
    // "Lease already exists" (gRPC FailedPrecondition, HTTP 412 on etcd 3.4, 400 on 3.5): an earlier try's.
    if ((grant?.status === 412 || grant?.status === 400) && grant.grpcCode === 9) {
      grantedTtlMs = (await this.#backend.renew(ref(req, candidate), ctx)).grantedTtlMs;
    } else {
      if (grant?.status !== 200) throw gatewayFailure(grant as never, "lease grant");
      const granted = parseWire(grantResponse, grant.body, "lease grant");
      if (granted.ID !== leaseId) throw malformed("lease grant");
      grantedTtlMs = Math.min(req.ttlMs, Number(positive(granted.TTL, "lease grant")) * 1000);
    }
    if (put?.status !== 200) throw gatewayFailure(put as never, "candidate txn");
    const txn = parseWire(txnResponse, put.body, "candidate txn");
    const responses = responsesOf(txn, "p", "candidate txn", "r");
    if (txn.succeeded)
      return { leaseId, token: positive(txn.header.revision, "candidate txn"), grantedTtlMs };
    const kv = kvOf(responses[0], key);
    if (kv?.lease !== leaseId) throw malformed("candidate txn");
    return { leaseId, token: positive(kv.create_revision, "candidate txn"), grantedTtlMs };
  }

  async step(req: ClaimRequest, candidate: Candidate, ctx: CallContext): Promise<CampaignStep> {
    const e = election(this.#prefix, req.name);
    const { leaseId, token } = candidate;
    const key = candidateKey(e, leaseId);
    const run = req.claimId.toString();
    const record: HolderRecord = { holder: req.holder, ttlMs: req.ttlMs, state: "busy", run };
    if (req.value !== undefined) record.value = req.value;
    const body = {
      compare: [
        { key, target: "CREATE", result: "EQUAL", create_revision: token.toString() },
        { key, target: "LEASE", result: "EQUAL", lease: leaseId },
        // Every candidate (the range compare holds for each key in it) was created at or after this one.
        {
          key: e.from,
          range_end: e.to,
          target: "CREATE",
          result: "GREATER",
          create_revision: (token - 1n).toString(),
        },
        { key: e.record, target: "CREATE", result: "EQUAL", create_revision: "0" },
      ],
      success: [
        { request_put: { key: e.record, value: encodeBase64(encodeHolderRecord(record)), lease: leaseId } },
      ],
      failure: [
        { request_range: { key } },
        {
          request_range: {
            key: e.from,
            range_end: e.to,
            max_create_revision: (token - 1n).toString(),
            sort_order: "DESCEND",
            sort_target: "CREATE",
            limit: "1",
          },
        },
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
      ],
    };
    const [answer, renewed] = await Promise.all([
      this.#gateway.post("/v3/kv/txn", body, ctx, IDEMPOTENT),
      this.#backend.renew(ref(req, candidate), ctx),
    ]);
    if (answer.status !== 200) throw gatewayFailure(answer, "campaign txn");
    const txn = parseWire(txnResponse, answer.body, "campaign txn");
    const responses = responsesOf(txn, "p", "campaign txn", "rrrr");
    const { grantedTtlMs } = renewed;
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
    const before = kvOf(responses[1]);
    // First in line, yet a record of another lease stands: wait for it to go with its lease.
    const ahead = before?.key ?? e.record;
    return {
      held: false,
      leader: current?.info ?? null,
      ahead: `${txn.header.revision} ${ahead}`,
      grantedTtlMs,
    };
  }

  async waitGone(name: string, ahead: string, options: { signal: AbortSignal; requestTimeoutMs: number }) {
    const [revision, key] = ahead.split(" ") as [string, string];
    const request = { create_request: { key, start_revision: String(BigInt(revision) + 1n) } };
    const stream = await this.#streams.open(request, options.signal, options.requestTimeoutMs);
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
}
