/**
 * The ZooKeeper Backend, over a REST gateway (SPEC v2). Layout: one ephemeral leader znode per lease (see
 * paths.ts), owned by a REST session whose expire is the lease TTL, holding the leader record (record.ts).
 * The fencing token is the znode's czxid; the lease ID is its ephemeralOwner, the ZooKeeper session ID, as
 * a decimal string. Both are exact 64-bit values. Requests:
 *
 * - claim: `GET` the leader znode. Held by another holder: report it (1 round trip). Held by this holder
 *   (an earlier invocation, or a retry after a lost response): heartbeat its session and resume (2).
 *   Free: `POST /sessions/v1/?op=create&expire=<ttl s>`, then `POST` the ephemeral znode with `?session=`
 *   and `GET` it for its czxid, pipelined when the transport can (3 round trips, else 4). ZooKeeper's create
 *   is the mutual exclusion: a claimant that loses the race reads the winner and closes its unused session.
 * - renew: `PUT /sessions/v1/<id>` (one heartbeat; 404 = the lease is lost).
 * - release: `DELETE /sessions/v1/<id>`; the gateway closes the ZooKeeper session, which deletes the znode.
 * - leader: `GET` the leader znode.
 * - doIfLeader: see txn.ts (atomic with leasehold-zk-gateway's multi extension, else only non-atomic).
 *
 * Renew and release need the REST session (a UUID) of a lease ID (a ZooKeeper session ID): the leader
 * record names it. This instance remembers the pairs it has read (they never change); a lease ID it has not
 * seen costs one `GET` of the leader znode first.
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
import { decodeLeaderRecord, encodeLeaderRecord, type LeaderRecord } from "./record.ts";
import type { RestClient } from "./rest.ts";
import { atomicTxn, type Guard, nonAtomicTxn } from "./txn.ts";
import { dataOf, type StatEntity } from "./wire.ts";

/**
 * Only `version` compares: a multi can re-check a znode's version at commit, but not its value, czxid or
 * mzxid (a znode deleted and re-created between the read and the commit could pass a version check).
 */
const COMPARE_TARGETS: readonly CompareTarget[] = ["version"];

/**
 * TTL limits: gateways take `expire` in whole seconds, as a Java int; a gateway may refuse part of this
 * range. The 2 s minimum (etcd's) leaves a claim of up to four round trips a useful deadline.
 */
export const ZOOKEEPER_TTL = { minTtlMs: 2000, maxTtlMs: 2_147_483_000, ttlGranularityMs: 1000 } as const;

/** A claim gives up after this many rounds of "the leader znode changed under us". */
const CLAIM_ROUNDS = 3;
/** Remembered lease ID → REST session pairs. */
const SESSION_MEMORY = 4096;

interface SessionRef {
  session: string;
  ttlMs: number;
}

export class ZooKeeperBackend implements Backend {
  readonly kind = "zookeeper";
  readonly #rest: RestClient;
  readonly #root: string;
  readonly #keyPrefix: Uint8Array;
  readonly #transport: Transport;
  readonly #sessions = new Map<string, SessionRef>();
  /** Whether the gateway serves the multi extension: undefined until detected ("auto"). */
  #multi: boolean | undefined;
  #probe: Promise<void> | null = null;

  constructor(rest: RestClient, root: string, mode: ZooKeeperExtensions, transport: Transport) {
    this.#rest = rest;
    this.#root = root;
    // Keys map to "/" + key, so the lease znodes are the keys under "<root without its leading '/'>/".
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

  /** Detects the extension once ("auto" only); a failed probe leaves it unknown, to be tried again. */
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

  #remember(leaseId: string, ref: SessionRef): void {
    this.#sessions.delete(leaseId);
    this.#sessions.set(leaseId, ref);
    if (this.#sessions.size > SESSION_MEMORY) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest !== undefined) this.#sessions.delete(oldest);
    }
  }

  /** Reads a leader znode. One that is not ephemeral, or holds no leader record, was not written by leasehold. */
  #decode(name: string, node: StatEntity): { info: LeaderInfo; record: LeaderRecord } {
    const where = `ZooKeeper znode ${leaderPath(this.#root, name)}`;
    if (node.ephemeralOwner === 0n) throw new MalformedResponseError(`${where} is not ephemeral`);
    const record = decodeLeaderRecord(dataOf(node, where), where);
    const leaseId = node.ephemeralOwner.toString();
    this.#remember(leaseId, { session: record.session, ttlMs: record.ttlMs });
    const info: LeaderInfo = {
      holder: record.holder,
      token: node.czxid,
      ttlMs: record.ttlMs,
      leaseId,
      ...(record.value === undefined ? {} : { value: record.value }),
    };
    return { info, record };
  }

  /** The REST session of a term; null when its leader znode is gone (the term ended). */
  async #sessionOf(term: TermRef, ctx: CallContext): Promise<SessionRef | null> {
    const known = this.#sessions.get(term.leaseId);
    if (known) return known;
    const node = await this.#rest.getNode(leaderPath(this.#root, term.name), ctx);
    if (!node || node.ephemeralOwner.toString() !== term.leaseId) return null;
    this.#decode(term.name, node);
    return this.#sessions.get(term.leaseId) ?? null;
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
    const data = encodeLeaderRecord({
      holder: req.holder,
      ttlMs: req.ttlMs,
      ...(req.value === undefined ? {} : { value: req.value }),
      session,
    });
    const options = { ephemeral: true, session };
    let kept = false;
    try {
      let { outcome, node } = await this.#rest.createThenGet(path, data, options, ctx);
      if (outcome === "no-parent") {
        await this.#ensureRoot(ctx);
        ({ outcome, node } = await this.#rest.createThenGet(path, data, options, ctx));
      }
      if (outcome === "no-session") {
        throw new LeaseLostError(`lease ${req.name}: the gateway lost the new session before the create`, {
          retryable: true,
        });
      }
      // A gateway that handles pipelined requests at once may have answered the read before the create.
      if (outcome === "created" && node === null) node = await this.#rest.getNode(path, ctx);
      // "exists" with our own session: a repeated create (a transport that retried it) found the first one.
      if (node && (outcome === "created" || outcome === "exists")) {
        const read = this.#decode(req.name, node);
        if (read.record.session === session) {
          kept = true;
          return { held: true, leader: read.info, grantedTtlMs: req.ttlMs };
        }
      }
      return { node };
    } finally {
      // An unused (or doubtful) session is closed at once rather than left to expire; if that fails too,
      // it expires after the TTL, and a retry of this claim resumes the znode it may own.
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
    const ref = await this.#sessionOf(term, ctx);
    if (!ref || !(await this.#rest.heartbeat(ref.session, ctx))) {
      this.#sessions.delete(term.leaseId);
      throw new LeaseLostError(`lease ${term.name}: ZooKeeper session ${term.leaseId} is gone`);
    }
    return { grantedTtlMs: ref.ttlMs };
  }

  async release(term: TermRef, ctx: CallContext): Promise<void> {
    const ref = await this.#sessionOf(term, ctx);
    if (!ref) return;
    await this.#rest.deleteSession(ref.session, ctx);
    this.#sessions.delete(term.leaseId);
  }

  async leader(name: string, ctx: CallContext): Promise<LeaderInfo | null> {
    const node = await this.#rest.getNode(leaderPath(this.#root, name), ctx);
    return node ? this.#decode(name, node).info : null;
  }

  async txn(req: TxnRequest, ctx: CallContext): Promise<TxnOutcome> {
    assertNoWritesUnder(this.#keyPrefix, req.ops);
    const { term } = req;
    const guard: Guard = {
      path: leaderPath(this.#root, term.name),
      sessionOf: (node) => {
        if (node.czxid !== term.token || node.ephemeralOwner.toString() !== term.leaseId) return null;
        return this.#decode(term.name, node).record.session;
      },
    };
    await this.#detect(ctx);
    if (!this.#multi) return nonAtomicTxn(this.#rest, guard, req.ops, req.compares, ctx);
    const outcome = await atomicTxn(this.#rest, guard, req.ops, req.compares, ctx);
    if (outcome) return outcome;
    throw new UnsupportedError(
      'the ZooKeeper gateway has no /leasehold/v1/multi extension: use leasehold-zk-gateway, or extensions: "none" with allowNonAtomicGuard: true',
    );
  }

  close(): Promise<void> {
    return this.#transport.close?.() ?? Promise.resolve();
  }
}
