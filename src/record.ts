/**
 * The holder record: what a claim stores in the term record (etcd) or leader znode (ZooKeeper), as UTF-8 JSON
 * `{"holder":string,"ttlMs":number,"value"?:string,"state"?:"busy"|"parked","run"?:string}`. Shared by backends
 * so that every store reads the same thing. `state` absent reads as busy; `run` is the decimal claim ID of the
 * invocation that made the term busy, so that a claim retried after a lost answer recognises its own hold.
 */
import * as z from "zod/mini";
import { MalformedResponseError } from "./errors.ts";

export interface HolderRecord {
  holder: string;
  ttlMs: number;
  value?: string;
  state?: "busy" | "parked";
  run?: string;
}

const holderRecordSchema = z.object({
  holder: z.string(),
  ttlMs: z.number(),
  value: z.optional(z.string()),
  state: z.optional(z.string()),
  run: z.optional(z.string()),
});

const encoder = new TextEncoder();
// ignoreBOM is spelled out (its default) because @cloudflare/workers-types requires it.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export function encodeHolderRecord(record: HolderRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

/**
 * Parses a stored holder record.
 * @throws {MalformedResponseError} the bytes are not a holder record (something else wrote the key).
 */
export function decodeHolderRecord(bytes: Uint8Array, where: string): HolderRecord {
  let cause: unknown;
  try {
    const parsed = holderRecordSchema.safeParse(JSON.parse(decoder.decode(bytes)));
    cause = parsed.error;
    if (parsed.success) {
      const { holder, ttlMs, state } = parsed.data;
      // zod leaves absent optional fields absent, so the parsed object is the record as stored. The state is
      // checked here rather than with z.enum, which would cost the edge bundle more than this line.
      const known = state === undefined || state === "busy" || state === "parked";
      if (holder !== "" && Number.isSafeInteger(ttlMs) && ttlMs > 0 && known)
        return parsed.data as HolderRecord;
    }
  } catch (error) {
    cause = error;
  }
  throw new MalformedResponseError(`${where} does not hold a leasehold holder record`, { cause });
}
