/**
 * The ZooKeeper Backend, over a REST gateway (SPEC v2). Layout: one ephemeral leader znode per lease,
 * owned by a REST session whose expire is the lease TTL, holding the term record (leader-znode.ts,
 * record.ts). Requests:
 *
 * - claim: see claim.ts.
 * - renew: `PUT /sessions/v1/<id>` (one heartbeat; 404 = the lease is lost).
 * - park: `GET` the leader znode, then ONE versioned set on the term's session marking it parked, only if
 *   it is still busy under this hold (2 round trips).
 * - release: `DELETE /sessions/v1/<id>`; the gateway closes the ZooKeeper session, which deletes the znode.
 * - releaseParked: `GET`; if the holder's term is parked, a versioned `DELETE` of the znode on its session
 *   (a concurrent resume moved the version: refused), then `DELETE /sessions/v1/<id>` (3 round trips).
 * - leader: `GET` the leader znode.
 * - observe: `GET /leasehold/v1/watch` long polls of the leader znode (observe.ts); none without extensions.
 * - doIfLeader: see txn.ts (atomic with leasehold-zk-gateway's multi extension; non-atomic only with
 *   `extensions: "none"`). The guard holds only while the znode has the term's czxid and owner and is busy
 *   under the term's hold ID.
 */
import {
  type Backend,
  type BackendCapabilities,
  type BackendObserveOptions,
  type CallContext,
  type ClaimOutcome,
  type ClaimRequest,
  type CompareTarget,
  deadlineSignal,
  HttpStatusError,
  type LeaderInfo,
  LeaseLostError,
  type ObservedTerm,
  type TermRef,
  type Transport,
  type TxnOutcome,
  type TxnRequest,
  toBytes,
  UnsupportedError,
} from "../../src/backend-kit.ts";
import { claimLease } from "./claim.ts";
import { MULTI, WATCH } from "./extension.ts";
import { LeaderZnodes } from "./leader-znode.ts";
import { watchLeader } from "./observe.ts";
import type { ZooKeeperExtensions } from "./options.ts";
import { encodeLeaderRecord } from "./record.ts";
import type { RestClient } from "./rest.ts";
import { atomicTxn, type Guard, nonAtomicTxn } from "./txn.ts";

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

/** Park and releaseParked give up after this many versioned writes refused by a concurrent change. */
const WRITE_ROUNDS = 3;

export class ZooKeeperBackend implements Backend {
  readonly kind = "zookeeper";
  readonly #rest: RestClient;
  readonly #root: string;
  readonly #znodes: LeaderZnodes;
  readonly reservedPrefix: Uint8Array;
  readonly #transport: Transport;
  /** The `/leasehold/v1` extensions the gateway serves: undefined until detected ("auto"). */
  #extensions: readonly string[] | undefined;
  #probe: Promise<void> | null = null;
  /**
   * Fixed at construction, never changed: `atomicGuard` is false only with `extensions: "none"`. With `"auto"`
   * it is true because `txn` is then atomic or refuses: it detects the extension first (once), and a gateway
   * without it fails with `UnsupportedError`, never a non-atomic write.
   */
  readonly capabilities: BackendCapabilities;

  constructor(rest: RestClient, root: string, mode: ZooKeeperExtensions, transport: Transport) {
    this.#rest = rest;
    this.#root = root;
    this.#znodes = new LeaderZnodes(rest, root);
    // Keys map to "/" + key, so the lease znodes are the keys under "<root without its leading '/'>/".
    this.reservedPrefix = toBytes(`${root.slice(1)}/`);
    this.#transport = transport;
    this.#extensions = mode === "leasehold-v1" ? [MULTI, WATCH] : mode === "none" ? [] : undefined;
    this.capabilities = Object.freeze({
      atomicGuard: mode !== "none",
      ...ZOOKEEPER_TTL,
      compareTargets: COMPARE_TARGETS,
    });
    if (mode !== "none") this.observe = (name, options) => this.#observe(name, options);
  }

  /**
   * Detects the extensions once ("auto" only), alongside the first claim or before the first transaction or
   * watch; a failed probe leaves them unknown, to be tried again. Only `txn`'s choice of way and whether
   * `observe` watches depend on them.
   */
  #detect(ctx: CallContext): Promise<void> {
    if (this.#extensions !== undefined) return Promise.resolve();
    this.#probe ??= this.#rest
      .extensions(ctx)
      .then((found) => {
        this.#extensions = found;
      })
      .catch(() => undefined)
      .finally(() => {
        this.#probe = null;
      });
    return this.#probe;
  }

  async claim(req: ClaimRequest, ctx: CallContext): Promise<ClaimOutcome> {
    const probe = this.#detect(ctx);
    try {
      return await claimLease({ rest: this.#rest, znodes: this.#znodes, root: this.#root }, req, ctx);
    } finally {
      await probe;
    }
  }

  async renew(term: TermRef, ctx: CallContext): Promise<{ grantedTtlMs: number }> {
    const ref = await this.#znodes.restSessionOf(term, ctx);
    if (!ref || !(await this.#rest.heartbeat(ref.restSessionId, ctx))) {
      this.#znodes.forget(term.leaseId);
      throw new LeaseLostError(`lease ${term.name}: ZooKeeper session ${term.leaseId} is gone`);
    }
    // The session's expire is what the term's claim asked; never more than this handle asked.
    return { grantedTtlMs: Math.min(ref.ttlMs, term.ttlMs) };
  }

  async release(term: TermRef, ctx: CallContext): Promise<void> {
    const ref = await this.#znodes.restSessionOf(term, ctx);
    if (!ref) return;
    await this.#rest.deleteSession(ref.restSessionId, ctx);
    this.#znodes.forget(term.leaseId);
  }

  /**
   * The set is versioned at the version just read, where the hold matched, and runs on the term's own
   * session: it applies only to this term's znode, unchanged since, so a hold that was already gone stays
   * gone. A refusal for another version while the hold still matches is read and tried again.
   */
  async park(term: TermRef, ctx: CallContext): Promise<void> {
    const path = this.#znodes.path(term.name);
    for (let round = 1; round <= WRITE_ROUNDS; round++) {
      const read = await this.#znodes.read(term.name, ctx);
      if (!read || !LeaderZnodes.holds(term, read)) return;
      const { run: _, ...record } = read.record;
      const parked = encodeLeaderRecord({ ...record, state: "parked" });
      const set = await this.#rest.setVersioned(path, parked, read.node.version, record.restSessionId, ctx);
      if (set !== "bad-version") return;
    }
    throw new HttpStatusError(409, `lease ${term.name}: the leader znode kept changing during park`, {
      retryable: true,
    });
  }

  /**
   * Deleting the znode at the version read (on its own session) is what decides against a concurrent
   * resume: ZooKeeper applies one of the resume's set and this delete, and refuses the other. The session
   * is closed only after the delete succeeded (or the znode was already gone), so a busy term is never ended.
   */
  async releaseParked(name: string, holder: string, ctx: CallContext): Promise<void> {
    const path = this.#znodes.path(name);
    for (let round = 1; round <= WRITE_ROUNDS; round++) {
      const read = await this.#znodes.read(name, ctx);
      if (!read || read.record.holder !== holder || read.record.state !== "parked") return;
      const { restSessionId } = read.record;
      const deleted = await this.#rest.deleteVersioned(path, read.node.version, restSessionId, ctx);
      if (deleted === "bad-version") continue;
      if (deleted === "deleted") await this.#rest.deleteSession(restSessionId, ctx);
      this.#znodes.forget(read.info.leaseId);
      return;
    }
    throw new HttpStatusError(409, `lease ${name}: the leader znode kept changing during release`, {
      retryable: true,
    });
  }

  async leader(name: string, ctx: CallContext): Promise<LeaderInfo | null> {
    return (await this.#znodes.read(name, ctx))?.info ?? null;
  }

  async txn(req: TxnRequest, ctx: CallContext): Promise<TxnOutcome> {
    const { term } = req;
    const guard: Guard = {
      path: this.#znodes.path(term.name),
      restSessionOf: (node) => {
        // Another term's znode says nothing about this one, even one leasehold did not write.
        if (node.czxid !== term.token || node.ephemeralOwner.toString() !== term.leaseId) return null;
        const read = this.#znodes.decode(term.name, node);
        return LeaderZnodes.holds(term, read) ? read.record.restSessionId : null;
      },
    };
    if (!this.capabilities.atomicGuard) return nonAtomicTxn(this.#rest, guard, req.ops, req.compares, ctx);
    await this.#detect(ctx);
    // A failed probe: asked again, and its error thrown, so that nothing is sent while the way is unknown.
    this.#extensions ??= await this.#rest.extensions(ctx);
    const outcome = this.#extensions.includes(MULTI)
      ? await atomicTxn(this.#rest, guard, req.ops, req.compares, ctx)
      : null;
    if (outcome) return outcome;
    throw new UnsupportedError(
      'the ZooKeeper gateway has no /leasehold/v1 multi extension: use leasehold-zk-gateway, or extensions: "none" with allowNonAtomicGuard: true',
    );
  }

  /** Follows the leader znode of `name`; absent with `extensions: "none"` (then `observe()` polls). */
  readonly observe?: (name: string, options: BackendObserveOptions) => AsyncIterable<ObservedTerm>;

  /**
   * Follows the leader znode with leasehold-zk-gateway's `/leasehold/v1/watch` long poll (observe.ts); with
   * `"auto"` it detects the extensions first.
   * @throws {UnsupportedError} the gateway serves no watch (Apache's, or an older leasehold-zk-gateway).
   * @throws {LeaseError} the watch cannot be kept without missing a change; `observe()` then polls.
   */
  async *#observe(name: string, options: BackendObserveOptions): AsyncGenerator<ObservedTerm> {
    const ctx = {
      signal: deadlineSignal(options.requestTimeoutMs, options.signal),
      timeoutMs: options.requestTimeoutMs,
    };
    await this.#detect(ctx);
    this.#extensions ??= await this.#rest.extensions(ctx);
    if (!this.#extensions.includes(WATCH)) {
      throw new UnsupportedError("the ZooKeeper gateway has no /leasehold/v1 watch: polling instead");
    }
    yield* watchLeader(this.#rest, this.#znodes, name, options);
  }

  close(): Promise<void> {
    return this.#transport.close?.() ?? Promise.resolve();
  }
}
