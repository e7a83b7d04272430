/**
 * The leader znode's data: the term record.
 *
 * It is leasehold's holder record (`{holder, ttlMs, value?}`, readable with `decodeHolderRecord` as on etcd)
 * plus:
 * - `session`: the REST session that owns the ephemeral znode, so that a fresh process that knows only its
 *   `holder` can find and heartbeat its own term, and a claim retried after a lost create response can
 *   recognise the znode it created;
 * - `state`: `"busy"` while one invocation holds the term, `"parked"` between invocations of the holder;
 * - `run` (busy only): the hold ID, the decimal claim ID of the claim that made the term busy. It is the
 *   store's mark of that invocation's hold (`TermRef.hold`). A claim ID, not the znode's version: every
 *   guarded transaction rewrites the leader znode (see txn.ts), so the version moves during one hold, while
 *   the claim ID stays put, is unique per claim, and lets a retry of a claim whose answer was lost recognise
 *   its own hold.
 */
import * as z from "zod/mini";
import { decodeHolderRecord, type HolderRecord, MalformedResponseError } from "../../src/index.ts";
import { SESSION_ID } from "./wire.ts";

export type TermState = "busy" | "parked";

export interface LeaderRecord extends HolderRecord {
  /** The REST session (gateway UUID) whose ZooKeeper session owns the leader znode. */
  session: string;
  state: TermState;
  /** The hold ID of the invocation holding the term busy; absent while parked. */
  run?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
/** A claim ID: a positive int64 in decimal, without leading zeros. */
const RUN = /^[1-9][0-9]{0,18}$/;
const termFields = z.object({
  session: z.string().check(z.regex(SESSION_ID)),
  state: z.enum(["busy", "parked"]),
  run: z.optional(z.string().check(z.regex(RUN))),
});

export function encodeLeaderRecord(record: LeaderRecord): Uint8Array {
  const { holder, ttlMs, value, session, state, run } = record;
  return encoder.encode(
    JSON.stringify({
      holder,
      ttlMs,
      ...(value === undefined ? {} : { value }),
      session,
      state,
      ...(run === undefined ? {} : { run }),
    }),
  );
}

/**
 * @throws {MalformedResponseError} the data is not a leader record (something else wrote the znode, or a
 *   busy term without its hold ID, or a parked one with one).
 */
export function decodeLeaderRecord(bytes: Uint8Array, where: string): LeaderRecord {
  const { holder, ttlMs, value } = decodeHolderRecord(bytes, where);
  let parsed: ReturnType<typeof termFields.safeParse>;
  try {
    parsed = termFields.safeParse(JSON.parse(decoder.decode(bytes)));
  } catch (error) {
    throw new MalformedResponseError(`${where} does not hold a leasehold leader record`, { cause: error });
  }
  const fields = parsed.success ? parsed.data : null;
  if (!fields || ttlMs % 1000 !== 0 || (fields.state === "busy") !== (fields.run !== undefined)) {
    throw new MalformedResponseError(`${where} does not hold a leasehold leader record`, {
      cause: parsed.error,
    });
  }
  return {
    holder,
    ttlMs,
    ...(value === undefined ? {} : { value }),
    session: fields.session,
    state: fields.state,
    ...(fields.run === undefined ? {} : { run: fields.run }),
  };
}
