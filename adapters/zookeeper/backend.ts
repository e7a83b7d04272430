/**
 * The ZooKeeper Backend, over a REST gateway (SPEC v2). Layout: one ephemeral leader znode per lease (see
 * paths.ts), owned by a REST session whose expire is the lease TTL, holding the leader record (record.ts);
 * the fencing token is the znode's czxid. Requests:
 *
 * - claim: `GET` the leader znode. Held by another holder: report it (1 round trip). Held by this holder
 *   (an earlier invocation, or a retry after a lost response): heartbeat its session and resume (2).
 *   Free: `POST /sessions/v1/?op=create&expire=<ttl s>`, then `POST` create the ephemeral znode with
 *   `?session=` and `GET` it for its czxid, pipelined when the transport can (3 round trips, else 4).
 *   ZooKeeper's create is the mutual exclusion: a claimant that loses the race reads the winner and closes
 *   its own unused session.
 * - renew: `PUT /sessions/v1/<id>` (one heartbeat; 404 = the lease is lost).
 * - release: `DELETE /sessions/v1/<id>`; the gateway closes the ZooKeeper session, which deletes the znode.
 * - leader: `GET` the leader znode.
 * - doIfLeader: see txn.ts (atomic with leasehold-zk-gateway's multi extension, else only non-atomic).
 */
import {
  assertNoWritesUnder,
  type Backend,
  type BackendCapabilities,
  type CallContext,
  type ClaimOutcome,
  type ClaimRequest,
  type CompareTarget,
  type LeaderInfo,
  LeaseLostError,
  MalformedResponseError,
  type TermRef,
  type Transport,
  type TxnOutcome,
  type TxnRequest,
  toBytes,
  UnsupportedError,
} from "../../src/index.ts";
import type { ZooKeeperExtensions } from "./options.ts";
import { leaderPath } from "./paths.ts";
import {
  decodeLeaderRecord,
  encodeLeaderRecord,
  type LeaderRecord,
  leaseIdOf,
  parseLeaseId,
} from "./record.ts";
import type { RestClient } from "./rest.ts";
import { atomicTxn, type Guard, nonAtomicTxn } from "./txn.ts";
import { dataOf, type StatEntity } from "./wire.ts";

/**
 * Only `version` compares: a multi can re-check a znode's version at commit, but not its value, czxid or
 * mzxid (a znode deleted and re-created between the read and the commit could pass a version check).
 */
const COMPARE_TARGETS: readonly CompareTarget[] = ["version"];

/** TTL limits: gateways take `expire` in whole seconds, as a Java int. Gateways may refuse less. */
export const ZOOKEEPER_TTL = { minTtlMs: 1000, maxTtlMs: 2_147_483_000, ttlGranularityMs: 1000 } as const;

/** A claim gives up after this many rounds of "the leader znode changed under us". */
const CLAIM_ROUNDS = 3;

export class ZooKeeperBackend implements Backend {
  readonly kind = "zookeeper";
  readonly #rest: RestClient;
  readonly #root: string;
  readonly #keyPrefix: Uint8Array;
  readonly #transport: Transport;
  /** Whether the gateway serves the multi extension: undefined until detected ("auto"). */
  #multi: boolean | undefined;
  #probe: Promise<void> | null = null;

  constructor(rest: RestClient, root: string, mode: ZooKeeperExtensions, transport: Transport) {
    this.#rest = rest;
    this.#root = root;
    // Keys map to "/" + key, so the lease znodes are the keys under "<root without '/'>/".
    this.#keyPrefix = toBytes(`${root.slice(1)}/`);
    this.#transport = transport;
    this.#multi = mode === "leasehold-v1" ? true : mode === "none" ? false : undefined;
  }

  /**
   * `atomicGuard` is true once the multi extension is known to be there: from the start with
   * `extensions: "leasehold-v1"`, after the first claim (or transaction) detected it with `"auto"`.
   */
  get capabilities(): BackendCapabilities {
    return { atomicGuard: this.#multi === true, ...ZOOKEEPER_TTL, compareTargets: COMPARE_TARGETS };
  }

  /** Detects the extension once ("auto" only); a failed probe leaves it unknown and is retried next time. */
  #detect(ctx: CallContext): Promise<void> {
    if (this.#multi !== undefined) return Promise.resolve();
    this.#probe ??= this.#rest
      .hasMultiExtension(ctx)
      .then((found) => {
        this.#multi = found;
      })
      .catch(() => undefined)
      .finally(() => {
        this.#probe = null;
      });
    return this.#probe;
  }

  #info(node: StatEntity, record: LeaderRecord): LeaderInfo {
    return {
      holder: record.holder,
      token: node.czxid,
      ttlMs: record.ttlMs,
      leaseId: leaseIdOf(record.session, record.ttlMs),
      ...(record.value === undefined ? {} : { value: record.value }),
    };
  }

  /** Reads a leader znode. One that is not ephemeral, or holds no leader record, was not written by leasehold. */
  #decode(name: string, node: StatEntity): { info: LeaderInfo; record: LeaderRecord } {
    const where = `ZooKeeper znode ${leaderPath(this.#root, name)}`;
    if (node.ephemeralOwner === 0n) throw new MalformedResponseError(`${where} is not ephemeral`);
    const record = decodeLeaderRecord(dataOf(node, where), where);
    return { info: this.#info(node, record), record };
  }

  async claim(req: ClaimRequest, ctx: CallContext): Promise<ClaimOutcome> {
    const path = leaderPath(this.#root, req.name);
    const probe = this.#detect(ctx);
    try {
      let node = await this.#rest.getNode(path, ctx);
      for (let round = 1; round <= CLAIM_ROUNDS; round++) {
        if (node) {
          const outcome = await this.#resume(req, node, ctx);
          if (outcome) return outcome;
          node = await this.#rest.getNode(path, ctx);
        } else {
          const taken = await this.#take(req, path, ctx);
          if ("held" in taken) return taken;
          node = taken.node;
        }
      }
      throw new LeaseLostError(`lease ${req.name}: the leader znode kept changing during the claim`, {
        retryable: true,
      });
    } finally {
      await probe;
    }
  }

  /** The lease is held: by another holder (report), or by this one (heartbeat its session). Null: gone meanwhile. */
  async #resume(req: ClaimRequest, node: StatEntity, ctx: CallContext): Promise<ClaimOutcome | null> {
    const { info, record } = this.#decode(req.name, node);
    if (record.holder !== req.holder) return { held: false, leader: info };
    if (!(await this.#rest.heartbeat(record.session, ctx))) return null;
    return { held: true, leader: info, grantedTtlMs: record.ttlMs };
  }

  /**
   * The lease looked free: open a session and create the znode. When another claimant got there first, the
   * znode as read right after the create (null when it is gone again).
   */
  async #take(
    req: ClaimRequest,
    path: string,
    ctx: CallContext,
  ): Promise<ClaimOutcome | { node: StatEntity | null }> {
    const session = await this.#rest.createSession(req.ttlMs / 1000, ctx);
    const record: LeaderRecord = {
      holder: req.holder,
      ttlMs: req.ttlMs,
      ...(req.value === undefined ? {} : { value: req.value }),
      session,
    };
    let kept = false;
    try {
      let { outcome, node } = await this.#rest.createThenGet(
        path,
        encodeLeaderRecord(record),
        { ephemeral: true, session },
        ctx,
      );
      if (outcome === "no-parent") {
        await this.#ensureRoot(ctx);
        ({ outcome, node } = await this.#rest.createThenGet(
          path,
          encodeLeaderRecord(record),
          { ephemeral: true, session },
          ctx,
        ));
      }
      if (outcome === "no-session") {
        throw new LeaseLostError(`lease ${req.name}: the gateway lost the new session before the create`, {
          retryable: true,
        });
      }
      if (node && outcome === "created") {
        const read = this.#decode(req.name, node);
        if (read.record.session === session) {
          kept = true;
          return { held: true, leader: read.info, grantedTtlMs: req.ttlMs };
        }
      }
      return { node };
    } finally {
      if (!kept) await this.#rest.deleteSession(session, ctx).catch(() => undefined);
    }
  }

  /** Creates the prefix znode and its ancestors (persistent, no data); existing ones are fine. */
  async #ensureRoot(ctx: CallContext): Promise<void> {
    const segments = this.#root.split("/").slice(1);
    for (let i = 1; i <= segments.length; i++) {
      const path = `/${segments.slice(0, i).join("/")}`;
      const outcome = await this.#rest.create(path, null, { ephemeral: false }, ctx);
      if (outcome === "no-parent" || outcome === "no-session") {
        throw new MalformedResponseError(`ZooKeeper gateway: cannot create ${path} (${outcome})`);
      }
    }
  }

  async renew(term: TermRef, ctx: CallContext): Promise<{ grantedTtlMs: number }> {
    const { session, ttlMs } = parseLeaseId(term.leaseId);
    if (!(await this.#rest.heartbeat(session, ctx))) {
      throw new LeaseLostError(`lease ${term.name}: the gateway no longer has session ${session}`);
    }
    return { grantedTtlMs: ttlMs };
  }

  async release(term: TermRef, ctx: CallContext): Promise<void> {
    await this.#rest.deleteSession(parseLeaseId(term.leaseId).session, ctx);
  }

  async leader(name: string, ctx: CallContext): Promise<LeaderInfo | null> {
    const node = await this.#rest.getNode(leaderPath(this.#root, name), ctx);
    return node ? this.#decode(name, node).info : null;
  }

  async txn(req: TxnRequest, ctx: CallContext): Promise<TxnOutcome> {
    assertNoWritesUnder(this.#keyPrefix, req.ops);
    const { term } = req;
    const { session } = parseLeaseId(term.leaseId);
    const guard: Guard = {
      path: leaderPath(this.#root, term.name),
      token: term.token,
      session,
      holds: (node) => {
        if (node.czxid !== term.token) return false;
        return this.#decode(term.name, node).record.session === session;
      },
    };
    await this.#detect(ctx);
    if (this.#multi) {
      const outcome = await atomicTxn(this.#rest, guard, req.ops, req.compares, ctx);
      if (outcome) return outcome;
      throw new UnsupportedError(
        'the ZooKeeper gateway has no /leasehold/v1/multi extension; use leasehold-zk-gateway, or extensions: "none" with allowNonAtomicGuard: true',
      );
    }
    return nonAtomicTxn(this.#rest, guard, req.ops, req.compares, ctx);
  }

  close(): Promise<void> {
    return this.#transport.close?.() ?? Promise.resolve();
  }
}
