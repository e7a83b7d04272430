/**
 * A claim on ZooKeeper. It first reads the leader znode (`GET`), then:
 *
 * - another holder's term, or this holder's term busy under another hold ID: report it. 1 round trip, no
 *   write, no session.
 * - this holder's term busy under this claim's own ID (an earlier try of this claim whose answer was lost):
 *   heartbeat its session and hold it again (2 round trips).
 * - this holder's parked term: ONE versioned set (`PUT /znodes/v1/<leader>?version=<read>`) marks it busy
 *   under this claim's ID (the record otherwise as stored, its `value` included), plus a heartbeat of its
 *   session (no new session): 2 round trips pipelined, else 3. The set runs on the term's own session.
 *   ZooKeeper's version check is the mutual exclusion between invocations resuming it at once: the losers'
 *   sets are refused (412), they read again and report the winner's busy term.
 * - free: `POST /sessions/v1/?op=create&expire=<ttl s>`, then `POST` the ephemeral znode (busy, this claim's
 *   ID) with `?session=` and `GET` it for its czxid, pipelined when the transport can (3 round trips, else 4).
 *   ZooKeeper's create is the mutual exclusion: a claimant that loses the race reads the winner and closes
 *   its unused session.
 *
 * The hold ID is the claim ID in decimal (see record.ts).
 */
import {
  type CallContext,
  type ClaimOutcome,
  type ClaimRequest,
  LeaseLostError,
  MalformedResponseError,
} from "../../src/backend-kit.ts";
import type { LeaderNode, LeaderZnodes } from "./leader-znode.ts";
import { encodeLeaderRecord } from "./record.ts";
import type { RestClient } from "./rest.ts";
import type { StatEntity } from "./wire.ts";

/** A claim gives up after this many rounds of "the leader znode changed under us". */
const CLAIM_ROUNDS = 3;

export interface ClaimDeps {
  rest: RestClient;
  znodes: LeaderZnodes;
  /** The prefix znode, an absolute path. */
  root: string;
}

/**
 * Claims `req.name` for `req.holder` (see the module comment).
 * @throws {LeaseLostError} (retryable) the leader znode kept changing, or the gateway lost a fresh session.
 */
export async function claimLease(
  deps: ClaimDeps,
  req: ClaimRequest,
  ctx: CallContext,
): Promise<ClaimOutcome> {
  const path = deps.znodes.path(req.name);
  let node = await deps.rest.getNode(path, ctx);
  for (let round = 1; round <= CLAIM_ROUNDS; round++) {
    if (node) {
      const outcome = await onHeld(deps, req, deps.znodes.decode(req.name, node), ctx);
      if (outcome) return outcome;
      node = await deps.rest.getNode(path, ctx);
    } else {
      const taken = await take(deps, req, path, ctx);
      if ("held" in taken) return taken;
      node = taken.node;
    }
  }
  throw new LeaseLostError(`lease ${req.name}: the leader znode kept changing during the claim`, {
    retryable: true,
  });
}

/** The lease has a term. Null: it changed or ended meanwhile (read again). */
async function onHeld(
  deps: ClaimDeps,
  req: ClaimRequest,
  read: LeaderNode,
  ctx: CallContext,
): Promise<ClaimOutcome | null> {
  const { record, info, node } = read;
  const hold = req.claimId.toString();
  if (record.holder !== req.holder) return { held: false, leader: info };
  if (record.state === "busy") {
    if (record.run !== hold) return { held: false, leader: info };
    if (!(await deps.rest.heartbeat(record.restSessionId, ctx))) return null;
    return { held: true, leader: info, grantedTtlMs: Math.min(record.ttlMs, req.ttlMs), hold };
  }
  const { set, alive } = await deps.rest.setThenHeartbeat(
    deps.znodes.path(req.name),
    encodeLeaderRecord({ ...record, state: "busy", run: hold }),
    node.version,
    record.restSessionId,
    ctx,
  );
  if (set === "no-session") {
    // A restarted gateway: the ZooKeeper session (and so the znode) lives on until ZooKeeper expires it.
    throw new LeaseLostError(`lease ${req.name}: the gateway no longer has the parked term's session`, {
      retryable: true,
    });
  }
  // Refused: another invocation resumed (or ended) the term first. Not alive: the term ended after the set.
  if (typeof set === "string" || alive !== true) return null;
  if (set.czxid !== node.czxid) {
    // The term ended and a new parked term of this holder reached the same version in between (see
    // docs/zookeeper.md): the set went to that znode, with this term's session. Nobody can lead on it.
    throw new LeaseLostError(`lease ${req.name}: the leader znode was replaced during the claim`, {
      retryable: true,
    });
  }
  return {
    held: true,
    leader: { ...info, parked: false },
    grantedTtlMs: Math.min(record.ttlMs, req.ttlMs),
    hold,
  };
}

/**
 * The lease looked free: open a session and create the znode. When another claimant got there first, the
 * znode as read right after the create (null when it is gone again).
 */
async function take(
  deps: ClaimDeps,
  req: ClaimRequest,
  path: string,
  ctx: CallContext,
): Promise<ClaimOutcome | { node: StatEntity | null }> {
  const { rest } = deps;
  const restSessionId = await rest.createSession(req.ttlMs / 1000, ctx);
  const hold = req.claimId.toString();
  const data = encodeLeaderRecord({
    holder: req.holder,
    ttlMs: req.ttlMs,
    ...(req.value === undefined ? {} : { value: req.value }),
    restSessionId,
    state: "busy",
    run: hold,
  });
  const options = { ephemeral: true, restSessionId };
  let kept = false;
  try {
    let { outcome, node } = await rest.createThenGet(path, data, options, ctx);
    if (outcome === "no-parent") {
      await ensureRoot(deps, ctx);
      ({ outcome, node } = await rest.createThenGet(path, data, options, ctx));
    }
    if (outcome === "no-session") {
      throw new LeaseLostError(`lease ${req.name}: the gateway lost the new session before the create`, {
        retryable: true,
      });
    }
    // A gateway that handles pipelined requests at once may have answered the read before the create.
    if (outcome === "created" && node === null) node = await rest.getNode(path, ctx);
    // "exists" with our own session: a repeated create (a transport that retried it) found the first one.
    if (node && (outcome === "created" || outcome === "exists")) {
      const read = deps.znodes.decode(req.name, node);
      if (read.record.restSessionId === restSessionId && read.record.run === hold) {
        kept = true;
        return { held: true, leader: read.info, grantedTtlMs: req.ttlMs, hold };
      }
    }
    return { node };
  } finally {
    // An unused (or doubtful) session is closed at once rather than left to expire; if that fails too, it
    // expires after the TTL, and a retry of this claim recognises the znode it may own by its hold ID.
    if (!kept) await rest.deleteSession(restSessionId, ctx).catch(() => undefined);
  }
}

/** Creates the prefix znode and its ancestors (persistent, no data); existing ones are fine. */
async function ensureRoot(deps: ClaimDeps, ctx: CallContext): Promise<void> {
  const segments = deps.root.split("/").slice(1);
  for (let i = 1; i <= segments.length; i++) {
    const path = `/${segments.slice(0, i).join("/")}`;
    const outcome = await deps.rest.create(path, null, { ephemeral: false }, ctx);
    if (outcome === "no-parent" || outcome === "no-session") {
      throw new MalformedResponseError(`ZooKeeper gateway: cannot create ${path} (${outcome})`);
    }
  }
}
