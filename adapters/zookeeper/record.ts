/**
 * The leader znode's data and the lease ID this backend hands out.
 *
 * The data is leasehold's holder record (`{holder, ttlMs, value?}`, readable with `decodeHolderRecord` as on
 * etcd) plus `session`: the REST session that owns the ephemeral znode. That is what lets a fresh process
 * that knows only its `holder` find and heartbeat its own session, and a claim retried after a lost create
 * response recognise the znode it created.
 */
import * as z from "zod/mini";
import { decodeHolderRecord, type HolderRecord, MalformedResponseError } from "../../src/index.ts";
import { SESSION_ID } from "./wire.ts";

export interface LeaderRecord extends HolderRecord {
  /** The REST session (gateway UUID) whose ZooKeeper session owns the leader znode. */
  session: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const sessionField = z.object({ session: z.string().check(z.regex(SESSION_ID)) });

export function encodeLeaderRecord(record: LeaderRecord): Uint8Array {
  const { holder, ttlMs, value, session } = record;
  return encoder.encode(
    JSON.stringify({ holder, ttlMs, ...(value === undefined ? {} : { value }), session }),
  );
}

/** @throws {MalformedResponseError} the data is not a leader record (something else wrote the znode). */
export function decodeLeaderRecord(bytes: Uint8Array, where: string): LeaderRecord {
  const record = decodeHolderRecord(bytes, where);
  let parsed: ReturnType<typeof sessionField.safeParse>;
  try {
    parsed = sessionField.safeParse(JSON.parse(decoder.decode(bytes)));
  } catch (error) {
    throw new MalformedResponseError(`${where} does not hold a leasehold leader record`, { cause: error });
  }
  if (!parsed.success || record.ttlMs % 1000 !== 0) {
    throw new MalformedResponseError(`${where} does not hold a leasehold leader record`, {
      cause: parsed.error,
    });
  }
  return { ...record, session: parsed.data.session };
}
