/**
 * etcd's MVCC history of the demo's election and journal, read over the JSON gateway independently of the
 * library: the election's keys as they stood at every revision from 1 to the head (`/v3/kv/range` at a
 * revision; the demo's etcd never compacts), and every journal write with its commit revision.
 *
 * The election layout is etcd's `clientv3/concurrency` one: candidate keys `E/<lease ID in hex>`, the leader
 * is the candidate with the lowest create revision, and leasehold's term record sits at `E` on the same lease.
 */
import * as z from "zod/mini";
import { ELECTION, JOURNAL_PREFIX, type JournalEntry } from "./events.ts";

const kvSchema = z.object({
  key: z.string(),
  value: z.optional(z.string()),
  create_revision: z.string(),
  mod_revision: z.string(),
  version: z.string(),
  lease: z.optional(z.string()),
});
const rangeSchema = z.object({
  header: z.object({ revision: z.string() }),
  kvs: z.optional(z.array(kvSchema)),
});
const recordSchema = z.object({
  holder: z.string(),
  ttlMs: z.number(),
  state: z.enum(["busy", "parked"]),
  run: z.optional(z.string()),
});
const entrySchema = z.object({
  region: z.string(),
  delivery: z.string(),
  token: z.string(),
  hold: z.string(),
  run: z.string(),
  at: z.number(),
});

type WireKv = z.infer<typeof kvSchema>;

export interface Candidate {
  key: string;
  createRevision: bigint;
  /** Decimal etcd lease ID ("0" when the key has none). */
  leaseId: string;
  value: string;
}

export interface TermRecord {
  holder: string;
  state: "busy" | "parked";
  run?: string;
  /** The hold mark of whichever invocation holds (or last held) the term. */
  modRevision: bigint;
  leaseId: string;
}

/** The election as it stood at one revision. */
export interface Snapshot {
  revision: bigint;
  /** Candidates under `E/`, lowest create revision (the leader) first. */
  candidates: Candidate[];
  record: TermRecord | null;
}

export interface JournalWrite {
  key: string;
  /** The commit revision. */
  revision: bigint;
  /** How many times the key was written (1 unless an entry was overwritten). */
  version: bigint;
  entry: JournalEntry;
}

export interface History {
  head: bigint;
  /** One snapshot per revision, 1..head, in revision order. */
  snapshots: Snapshot[];
  /** The same snapshots by decimal revision. */
  byRevision: Map<string, Snapshot>;
  /** In commit order. */
  journal: JournalWrite[];
}

const b64 = (text: string) => Buffer.from(text).toString("base64");
const unb64 = (text: string | undefined) => Buffer.from(text ?? "", "base64").toString("utf8");

/** The end of a prefix range: the prefix with its last byte incremented. */
function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix);
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) + 1;
  return bytes.toString("base64");
}

async function range(endpoint: string, body: Record<string, string>) {
  const res = await fetch(`${endpoint}/v3/kv/range`, { method: "POST", body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`range failed: HTTP ${res.status} ${await res.text()}`);
  const parsed = rangeSchema.parse(await res.json());
  return { revision: BigInt(parsed.header.revision), kvs: parsed.kvs ?? [] };
}

function snapshotAt(revision: bigint, kvs: readonly WireKv[]): Snapshot {
  const candidates: Candidate[] = [];
  let record: TermRecord | null = null;
  for (const kv of kvs) {
    const key = unb64(kv.key);
    const leaseId = kv.lease ?? "0";
    if (key === ELECTION) {
      const { holder, state, run } = recordSchema.parse(JSON.parse(unb64(kv.value)));
      record = {
        holder,
        state,
        modRevision: BigInt(kv.mod_revision),
        leaseId,
        ...(run === undefined ? {} : { run }),
      };
    } else if (key.startsWith(`${ELECTION}/`)) {
      candidates.push({ key, createRevision: BigInt(kv.create_revision), leaseId, value: unb64(kv.value) });
    }
  }
  candidates.sort((a, b) => (a.createRevision < b.createRevision ? -1 : 1));
  return { revision, candidates, record };
}

/** Reads the whole history; throws when etcd answers anything unexpected (the demo then fails). */
export async function readHistory(endpoint: string): Promise<History> {
  const journalRange = { key: b64(JOURNAL_PREFIX), range_end: prefixEnd(JOURNAL_PREFIX) };
  const { revision: head, kvs: journalKvs } = await range(endpoint, journalRange);
  const journal = journalKvs
    .map((kv) => ({
      key: unb64(kv.key),
      revision: BigInt(kv.mod_revision),
      version: BigInt(kv.version),
      entry: entrySchema.parse(JSON.parse(unb64(kv.value))),
    }))
    .sort((a, b) => (a.revision < b.revision ? -1 : 1));
  // `E` up to the end of `E/`'s range, filtered to those keys: one range per revision covers both.
  const electionRange = { key: b64(ELECTION), range_end: prefixEnd(`${ELECTION}/`) };
  const snapshots: Snapshot[] = [];
  for (let r = 1n; r <= head; r++) {
    const { kvs } = await range(endpoint, { ...electionRange, revision: r.toString() });
    snapshots.push(snapshotAt(r, kvs));
  }
  const byRevision = new Map(snapshots.map((s) => [s.revision.toString(), s]));
  return { head, snapshots, byRevision, journal };
}
