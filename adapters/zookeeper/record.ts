/**
 * The leader znode's data and the lease ID this backend hands out.
 *
 * The data is leasehold's holder record (`{holder, ttlMs, value?}`, readable with `decodeHolderRecord` as on
 * etcd) plus `session`: the REST session that owns the ephemeral znode. That is what lets a fresh process
 * that knows only its `holder` find and heartbeat its own session, and a claim retried after a lost create
 * response recognise the znode it created.
 *
 * The lease ID is `<session>@<ttl>s`, e.g. `0f8fad5b-d9cb-469f-a165-70867728950e@15s`: the session to
 * heartbeat and the expire it was opened with (a heartbeat answers no TTL; this is the TTL it restores).
 */
import * as z from "zod/mini";
import {
  decodeHolderRecord,
  type HolderRecord,
  InvalidArgumentError,
  MalformedResponseError,
} from "../../src/index.ts";
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

export function leaseIdOf(session: string, ttlMs: number): string {
  return `${session}@${ttlMs / 1000}s`;
}

const LEASE_ID = /^([A-Za-z0-9._~-]{1,128})@([1-9]\d{0,9})s$/;

/**
 * Splits a lease ID from this backend into the REST session and its TTL in ms.
 * @throws {InvalidArgumentError} the ID does not come from the ZooKeeper backend.
 */
export function parseLeaseId(leaseId: string): { session: string; ttlMs: number } {
  const match = LEASE_ID.exec(leaseId);
  if (!match) {
    throw new InvalidArgumentError("leaseId", "must be a ZooKeeper backend lease ID: <session>@<ttl>s");
  }
  return { session: match[1] as string, ttlMs: Number(match[2]) * 1000 };
}
