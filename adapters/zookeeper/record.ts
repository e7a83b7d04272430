/**
 * The leader znode's data: the term record.
 *
 * It is leasehold's holder record (`{holder, ttlMs, value?, state, run?}`, the fields of etcd's term record,
 * readable with `decodeHolderRecord`) plus `session`: the REST session that owns the ephemeral znode, so that
 * a fresh process that knows only its `holder` can find and heartbeat its own term, and a claim retried after
 * a lost create response can recognise the znode it created. Here `state` is always present:
 * - `state`: `"busy"` while one invocation holds the term, `"parked"` between invocations of the holder;
 * - `run` (busy only): the hold ID, the decimal claim ID of the claim that made the term busy. It is the
 *   store's mark of that invocation's hold (`TermRef.hold`). A claim ID, not the znode's version: every
 *   guarded transaction rewrites the leader znode (see txn.ts), so the version moves during one hold, while
 *   the claim ID stays put, is unique per claim, and lets a retry of a claim whose answer was lost recognise
 *   its own hold.
 */
import * as z from "zod/mini";
import { decodeHolderRecord, type HolderRecord, MalformedResponseError } from "../../src/backend-kit.ts";
import { SESSION_ID } from "./wire.ts";

export type TermState = "busy" | "parked";

export interface LeaderRecord extends HolderRecord {
  /**
   * The REST session ID (the gateway server's, sealed) whose ZooKeeper session owns the leader znode; the
   * record's `session` field.
   */
  restSessionId: string;
  state: TermState;
  /** The hold ID of the invocation holding the term busy; absent while parked. */
  run?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
/** A claim ID: a positive int64 in decimal, without leading zeros. */
const RUN = /^[1-9][0-9]{0,18}$/;
const sessionField = z.object({ session: z.string().check(z.regex(SESSION_ID)) });

export function encodeLeaderRecord(record: LeaderRecord): Uint8Array {
  const { holder, ttlMs, value, restSessionId, state, run } = record;
  return encoder.encode(
    JSON.stringify({
      holder,
      ttlMs,
      ...(value === undefined ? {} : { value }),
      session: restSessionId,
      state,
      ...(run === undefined ? {} : { run }),
    }),
  );
}

/**
 * @throws {MalformedResponseError} the data is not a leader record (something else wrote the znode, or a
 *   record without its state, a busy one without a valid hold ID, or a parked one with one).
 */
export function decodeLeaderRecord(bytes: Uint8Array, where: string): LeaderRecord {
  const { holder, ttlMs, value, state, run } = decodeHolderRecord(bytes, where);
  let parsed: ReturnType<typeof sessionField.safeParse>;
  try {
    parsed = sessionField.safeParse(JSON.parse(decoder.decode(bytes)));
  } catch (error) {
    throw new MalformedResponseError(`${where} does not hold a leasehold leader record`, { cause: error });
  }
  const held =
    state === "busy" ? run !== undefined && RUN.test(run) : state === "parked" && run === undefined;
  if (!parsed.success || ttlMs % 1000 !== 0 || state === undefined || !held) {
    throw new MalformedResponseError(`${where} does not hold a leasehold leader record`, {
      cause: parsed.error,
    });
  }
  return {
    holder,
    ttlMs,
    ...(value === undefined ? {} : { value }),
    restSessionId: parsed.data.session,
    state,
    ...(run === undefined ? {} : { run }),
  };
}
