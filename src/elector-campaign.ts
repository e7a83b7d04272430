/**
 * The campaign loop of a queued candidate (`Lease.campaign`, on a backend with `Backend.campaign`): try-claim
 * once (a free lease, or this holder's parked term), else enqueue a candidate and step until it leads, waiting
 * for the deletion of its predecessor in between, and renewing the candidate's lease with every step.
 */
import type { Backend, CallContext, Candidate, ClaimOutcome, ClaimRequest, LeaderInfo } from "./backend.ts";
import { type CampaignPorts, campaignHook } from "./campaign-hook.ts";
import type { Clock } from "./clock.ts";
import { isLeaseError, LeaseLostError } from "./errors.ts";
import { checkLeader } from "./leader-check.ts";
import type { Lease, LeaseState } from "./lease.ts";

/** A random ID in [2^62, 2^63), as the lease handle draws claim IDs. */
function randomClaimId(): bigint {
  const words = crypto.getRandomValues(new Uint32Array(2));
  return (1n << 62n) | (BigInt((words[0] as number) & 0x3fffffff) << 32n) | BigInt(words[1] as number);
}

export interface CampaignOptions {
  clock: Clock;
  /** How often the queued candidate's lease is renewed (and the queue read again), in ms. */
  renewIntervalMs: number;
  /** Deadline of each wait's stream open, in ms. */
  requestTimeoutMs: number;
  signal: AbortSignal;
  /** Every failure the campaign survives (it goes on at the next renewal). */
  onError?(error: unknown): void;
  /** Called once per backend call the campaign makes: try-claim, enqueue, step, wait, withdrawal. */
  onRequest?(): void;
}

/** True when `lease` can campaign by queueing: its backend queues and it is a handle from `createLease`. */
export function canQueue(lease: Lease): boolean {
  const { backend } = lease;
  return backend.capabilities.campaign === true && backend.campaign !== undefined && campaignHook in lease;
}

/**
 * Campaigns for `lease` by queueing until it leads (see {@link campaignTerm}); resolves with its state then.
 * Call only when {@link canQueue}.
 */
export function campaign(lease: Lease, options: CampaignOptions): Promise<LeaseState> {
  const handle = lease as Lease & {
    [campaignHook](run: (p: CampaignPorts) => Promise<Won>): Promise<LeaseState>;
  };
  // A term the handle holds already is renewed, as claim() does, rather than queued behind.
  if (lease.state().isLeader) return lease.claim({ signal: options.signal });
  const { backend } = lease;
  return handle[campaignHook](async (ports) => {
    const won = await campaignTerm({
      ...options,
      backend,
      request: ports.request(randomClaimId()),
      call: (bound, fn) => {
        options.onRequest?.();
        return ports.call(bound ? { signal: options.signal } : undefined, fn);
      },
      tryClaim: () => {
        options.onRequest?.();
        return ports.call({ signal: options.signal }, (ctx) => ports.claimOnce(ctx));
      },
      onLeader: (leader) => {
        if (leader) checkLeader(leader, backend.kind);
        ports.seen(leader);
      },
    });
    checkLeader(won.outcome.leader, backend.kind);
    return won;
  });
}

interface CampaignRun extends CampaignOptions {
  backend: Backend;
  request: ClaimRequest;
  /**
   * Runs one request under the handle's deadline, bound to `signal` unless `bound` is false (the withdrawal after
   * an abort).
   */
  call<T>(bound: boolean, fn: (ctx: CallContext) => Promise<T>): Promise<T>;
  /** The lease handle's own claim (it keeps its claim ID across a retried answer). */
  tryClaim(): Promise<ClaimOutcome>;
  /** The election's leader after each step while queued. */
  onLeader(leader: LeaderInfo | null): void;
}

type HeldOutcome = Extract<ClaimOutcome, { held: true }>;
type Won = { outcome: HeldOutcome; sentAt: number };

/**
 * Campaigns until this participant leads; resolves with the held outcome and the local time its lease's renewal
 * was sent (where local validity counts from). A queued candidate that finds this holder's parked term first
 * resumes it (same term, same token) and withdraws its own candidate. On abort, or a non-retryable error, the
 * candidate withdraws (its lease is revoked) and the promise rejects.
 */
async function campaignTerm(run: CampaignRun): Promise<Won> {
  const { backend, request, clock, signal } = run;
  const queue = backend.campaign as NonNullable<Backend["campaign"]>;
  let candidate: Candidate | null = null;
  const withdraw = async () => {
    const c = candidate;
    candidate = null;
    if (!c) return;
    const ref = { ...request, leaseId: c.leaseId, token: c.token, hold: "0" };
    await run.call(false, (ctx) => backend.release(ref, ctx)).catch((error: unknown) => run.onError?.(error));
  };
  /** Waits for `ahead` to go, at most one renewal interval (a failed wait waits that interval). */
  const waitTurn = async (ahead: string) => {
    const done = new AbortController();
    const until = AbortSignal.any([signal, done.signal]);
    const tick = clock.sleep(run.renewIntervalMs, until).catch(() => undefined);
    run.onRequest?.();
    const gone = queue
      .waitGone(request.name, ahead, { signal: until, requestTimeoutMs: run.requestTimeoutMs })
      .catch((error: unknown) => {
        if (!until.aborted) run.onError?.(error);
        return tick;
      });
    await Promise.race([tick, gone]);
    done.abort();
  };
  try {
    let first = true;
    for (;;) {
      signal.throwIfAborted();
      let sentAt = clock.now();
      try {
        if (first || !candidate) {
          first = false;
          const claimed = await run.tryClaim();
          if (claimed.held) {
            await withdraw();
            return { outcome: claimed, sentAt };
          }
          run.onLeader(claimed.leader);
          candidate ??= await run.call(true, (ctx) => queue.enqueue(request, ctx));
        }
        sentAt = clock.now();
        const queued = candidate;
        const step = await run.call(true, (ctx) => queue.step(request, queued, ctx));
        if (step.held) {
          candidate = null;
          return { outcome: step, sentAt };
        }
        run.onLeader(step.leader);
        if (step.leader?.parked && step.leader.holder === request.holder) {
          // This holder's own parked term is first: resume it rather than wait for it to expire.
          first = true;
          continue;
        }
        await waitTurn(step.ahead);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (error instanceof LeaseLostError) candidate = null;
        else if (!isLeaseError(error) || !error.retryable) throw error;
        run.onError?.(error);
        if (!(error instanceof LeaseLostError)) await clock.sleep(run.renewIntervalMs, signal);
      }
    }
  } catch (error) {
    await withdraw();
    throw error;
  }
}
