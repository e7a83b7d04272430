/**
 * The lease handle behind `createLease` (lease.ts): what one invocation learned (the term it holds and its hold
 * mark, the last term it saw, a pending claim ID), its calls run one at a time in call order, each under one
 * deadline.
 */
import type { Backend, CallContext, ClaimOutcome, ClaimRequest, LeaderInfo, TermRef } from "./backend.ts";
import { type CampaignPorts, campaignHook, type Won } from "./campaign-hook.ts";
import { isLeaseError, LeaseLostError, MalformedResponseError, UnsupportedError } from "./errors.ts";
import { withDeadline } from "./http.ts";
import { checkLeader } from "./leader-check.ts";
import type { CallOptions, ClaimOptions, Lease, LeaseState } from "./lease.ts";
import type { ResolvedOptions } from "./options.ts";
import { assertNoWritesUnder, type Compare, normalizeTxn, type TxnOp, type TxnOutcome } from "./txn.ts";

/** A term as this handle saw it, with the local epoch ms by which its lease expires if not renewed (an upper bound). */
interface SeenTerm extends LeaderInfo {
  expiresBy: number | null;
}

/** The term this handle holds: what the store reported, its hold mark and the local validity end. */
interface HeldTerm extends SeenTerm {
  hold: string;
  validUntil: number;
  expiresBy: number;
}

/** A random ID in [2^62, 2^63): positive as an int64, and always beyond JS number precision. */
function randomClaimId(): bigint {
  const words = crypto.getRandomValues(new Uint32Array(2));
  return (1n << 62n) | (BigInt((words[0] as number) & 0x3fffffff) << 32n) | BigInt(words[1] as number);
}

export class LeaseHandle implements Lease {
  readonly name: string;
  readonly holder: string;
  readonly ttlMs: number;
  readonly backend: Backend;
  readonly #opts: ResolvedOptions;
  readonly #slackMs: number;
  #term: HeldTerm | null = null;
  #lastSeen: SeenTerm | null = null;
  #pendingClaimId: bigint | null = null;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(opts: ResolvedOptions) {
    this.#opts = opts;
    this.name = opts.name;
    this.holder = opts.holder;
    this.ttlMs = opts.ttlMs;
    this.backend = opts.backend;
    this.#slackMs = opts.backend.capabilities.expirySlackMs ?? 0;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Runs `call` under the call's deadline: `requestTimeoutMs`, cut short while a term is held so that no request
   * outlives the term's `validUntil` (once that has passed, the store decides and the full timeout applies).
   * `park` and `release` pass `cut: false`: they act only on this handle's own term (park is guarded by the hold
   * in the store; no other invocation can hold the lease a busy term's release revokes), so a late one harms
   * nobody, while one cut short near the end of a run would leave the term busy until its lease expires.
   */
  #call<T>(options: CallOptions | undefined, cut: boolean, call: (ctx: CallContext) => Promise<T>) {
    let ms = this.#opts.requestTimeoutMs;
    const left = cut && this.#term ? this.#term.validUntil - this.#opts.clock.now() : 0;
    if (left > 0) ms = Math.min(ms, left);
    return withDeadline(ms, options?.signal, (signal) => call({ signal, timeoutMs: ms }));
  }

  #termRef(term: HeldTerm): TermRef {
    const { holder, leaseId, token, hold, value } = term;
    const ref: TermRef = { name: this.name, holder, leaseId, token, hold, ttlMs: this.ttlMs };
    return value === undefined ? ref : { ...ref, value };
  }

  /** Local validity never exceeds what was asked, nor what the store granted: the smaller of the two counts. */
  #hold(info: LeaderInfo, hold: string, grantedTtlMs: number, sentAt: number): void {
    if (info.holder !== this.holder || !(grantedTtlMs > 0) || info.parked) {
      throw new MalformedResponseError(
        `${this.backend.kind}: a held claim for ${info.holder}, TTL ${grantedTtlMs} ms`,
      );
    }
    const ttlMs = Math.min(this.ttlMs, grantedTtlMs);
    // The store renewed the lease before its answer arrived, for the TTL asked or granted, whichever is larger.
    const expiresBy = this.#opts.clock.now() + Math.max(this.ttlMs, grantedTtlMs) + this.#slackMs;
    const validUntil = sentAt + ttlMs - this.#opts.driftMarginMs;
    this.#term = { ...info, hold, ttlMs, validUntil, expiresBy };
    this.#lastSeen = this.#term;
  }

  /** Another participant's term (or this holder's busy one) as just read, bounded by its TTL and the slack. */
  #see(info: LeaderInfo | null): void {
    const ttlMs = info?.ttlMs ?? null;
    const expiresBy = ttlMs === null ? null : this.#opts.clock.now() + ttlMs + this.#slackMs;
    this.#lastSeen = info && { ...info, expiresBy };
  }

  /** Bounds the term just seen by the store's figure of its lease's time left, when the backend gives one. */
  async #readTtlLeft(seen: SeenTerm, ctx: CallContext): Promise<void> {
    const read = this.backend.ttlLeft;
    if (!read) return;
    try {
      // Null: the store no longer has the lease.
      const left = (await read.call(this.backend, seen.leaseId, ctx)) ?? 0;
      const by = this.#opts.clock.now() + left;
      seen.expiresBy = seen.expiresBy === null ? by : Math.min(seen.expiresBy, by);
    } catch (error) {
      if (!isLeaseError(error)) throw error;
    }
  }

  state(): LeaseState {
    const term = this.#term;
    const now = this.#opts.clock.now();
    const held = term !== null && now < term.validUntil;
    // A term this handle can no longer vouch for says nothing about who leads now.
    const info = held ? term : term ? null : this.#lastSeen;
    const expiresBy = info?.expiresBy ?? null;
    return {
      name: this.name,
      isLeader: held,
      busy: !held && info !== null && info.holder === this.holder && !info.parked,
      holder: info?.holder ?? null,
      token: info?.token ?? null,
      leaseId: info?.leaseId ?? null,
      leaseIdHex: info ? BigInt.asUintN(64, BigInt(info.leaseId)).toString(16) : null,
      validUntil: held ? term.validUntil : null,
      ttlMs: info?.ttlMs ?? null,
      ttlLeftMs: expiresBy === null ? null : Math.max(0, expiresBy - now),
      ...(info?.value === undefined ? {} : { value: info.value }),
    };
  }

  claim(options?: ClaimOptions): Promise<LeaseState> {
    return this.#serial(() =>
      this.#call(options, true, async (ctx) => {
        const term = this.#term;
        if (term) {
          try {
            await this.#renewHeld(term, ctx);
            return this.state();
          } catch (error) {
            if (!(error instanceof LeaseLostError)) throw error;
          }
        }
        const outcome = await this.#claimOnce(ctx);
        const seen = this.#lastSeen;
        if (!outcome.held && options?.ttlLeft && seen) await this.#readTtlLeft(seen, ctx);
        return this.state();
      }),
    );
  }

  /** See {@link CampaignPorts}: a queued campaign runs in this handle's call queue and holds what it won. */
  [campaignHook](run: (ports: CampaignPorts) => Promise<Won>): Promise<LeaseState> {
    return this.#serial(async () => {
      const won = await run({
        request: (claimId) => this.#request(claimId),
        claimOnce: (ctx) => this.#claimOnce(ctx),
        call: (options, fn) => this.#call(options, false, fn),
        seen: (leader) => this.#see(leader),
        term: () => this.#term && this.#termRef(this.#term),
      });
      if (won) this.#hold(won.outcome.leader, won.outcome.hold, won.outcome.grantedTtlMs, won.sentAt);
      else this.#forget();
      return this.state();
    });
  }

  #request(claimId: bigint): ClaimRequest {
    const { value } = this.#opts;
    const req = { name: this.name, holder: this.holder, ttlMs: this.ttlMs, claimId };
    return value === undefined ? req : { ...req, value };
  }

  /** One claim of the lease under the pending claim ID (kept across a retryable failure); holds what it won. */
  async #claimOnce(ctx: CallContext): Promise<ClaimOutcome> {
    this.#pendingClaimId ??= randomClaimId();
    const sentAt = this.#opts.clock.now();
    let outcome: ClaimOutcome;
    try {
      outcome = await this.backend.claim(this.#request(this.#pendingClaimId), ctx);
    } catch (error) {
      // Only an outcome-unknown failure keeps the claim ID, so that the retry recognises its own lease.
      if (!(isLeaseError(error) && error.retryable)) this.#pendingClaimId = null;
      throw error;
    }
    this.#pendingClaimId = null;
    checkLeader(outcome.leader, this.backend.kind);
    if (outcome.held) this.#hold(outcome.leader, outcome.hold, outcome.grantedTtlMs, sentAt);
    else this.#see(outcome.leader);
    return outcome;
  }

  async #renewHeld(term: HeldTerm, ctx: CallContext): Promise<void> {
    const sentAt = this.#opts.clock.now();
    try {
      const { grantedTtlMs } = await this.backend.renew(this.#termRef(term), ctx);
      this.#hold(term, term.hold, grantedTtlMs, sentAt);
    } catch (error) {
      if (error instanceof LeaseLostError) this.#forget();
      throw error;
    }
  }

  /** Drops the held term and what it said about the holder: after a loss, who leads is unknown. */
  #forget(): void {
    this.#term = null;
    this.#lastSeen = null;
  }

  renew(options?: CallOptions): Promise<LeaseState> {
    return this.#serial(async () => {
      const term = this.#term;
      if (!term) throw new LeaseLostError(`lease ${this.name}: no term held; call claim() first`);
      await this.#call(options, true, (ctx) => this.#renewHeld(term, ctx));
      return this.state();
    });
  }

  release(options?: CallOptions): Promise<void> {
    return this.#serial(async () => {
      const term = this.#term;
      await this.#call(options, false, (ctx) =>
        term
          ? this.backend.release(this.#termRef(term), ctx)
          : this.backend.releaseParked(this.name, this.holder, ctx),
      );
      this.#forget();
    });
  }

  park(options?: CallOptions): Promise<void> {
    return this.#serial(async () => {
      const term = this.#term;
      if (!term) return;
      // Dropped before the write: whatever its outcome, this handle may no longer act on the term.
      this.#forget();
      await this.#call(options, false, (ctx) => this.backend.park(this.#termRef(term), ctx));
    });
  }

  async leader(options?: CallOptions): Promise<LeaderInfo | null> {
    const info = await this.#call(options, true, (ctx) => this.backend.leader(this.name, ctx));
    if (info) checkLeader(info, this.backend.kind);
    return info;
  }

  doIfLeader(
    ops: readonly TxnOp[],
    compares: readonly Compare[] = [],
    options?: CallOptions,
  ): Promise<TxnOutcome> {
    return this.#serial(async () => {
      const caps = this.backend.capabilities;
      const normalized = normalizeTxn(ops, compares, caps.compareTargets);
      const reserved = this.backend.reservedPrefix;
      if (reserved) assertNoWritesUnder(reserved, normalized.ops);
      if (!caps.atomicGuard && !this.#opts.allowNonAtomicGuard) {
        throw new UnsupportedError(
          `${this.backend.kind} has no atomic guard; set allowNonAtomicGuard: true to accept a non-atomic check`,
        );
      }
      const term = this.#term;
      if (!term) return { applied: false, reason: "not-leader" };
      const outcome = await this.#call(options, true, (ctx) =>
        this.backend.txn({ term: this.#termRef(term), ...normalized }, ctx),
      );
      if (!outcome.applied && outcome.reason === "not-leader") this.#forget();
      return outcome;
    });
  }
}
