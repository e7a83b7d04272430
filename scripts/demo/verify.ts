/**
 * The demo's verdict, read back from etcd independently of the library: etcd's MVCC history says which term
 * held the lease at each journal entry's commit revision, and the invocations' own reports say when each term
 * believed it led.
 */
import * as z from "zod/mini";
import { type ClaimEvent, JOURNAL_PREFIX, type JournalEntry, LEASE_NAME } from "./events.ts";

const kvSchema = z.object({
  key: z.string(),
  value: z.optional(z.string()),
  create_revision: z.optional(z.string()),
  mod_revision: z.optional(z.string()),
});
const rangeSchema = z.object({ kvs: z.optional(z.array(kvSchema)) });
const recordSchema = z.object({ holder: z.string() });
const entrySchema = z.object({ region: z.string(), token: z.string(), at: z.number() });

const b64 = (text: string) => Buffer.from(text).toString("base64");
const unb64 = (text: string | undefined) => Buffer.from(text ?? "", "base64").toString("utf8");

async function range(endpoint: string, body: Record<string, string>) {
  const res = await fetch(`${endpoint}/v3/kv/range`, { method: "POST", body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`range failed: HTTP ${res.status} ${await res.text()}`);
  return rangeSchema.parse(await res.json()).kvs ?? [];
}

/** The end of a prefix range: the prefix with its last byte incremented. */
function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix);
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) + 1;
  return bytes.toString("base64");
}

export interface Term {
  token: bigint;
  holder: string;
  /** First local time a claim of this term returned leadership. */
  from: number;
  /** Local send time of the term's last successful claim or renewal. */
  lastRenewal: number;
  /** Latest validUntil any report of this term gave. */
  until: number;
}

/** Groups the leaders' claim reports into terms, in token order. */
export function termsFrom(claims: readonly ClaimEvent[]): Term[] {
  const byToken = new Map<string, Term>();
  for (const c of claims) {
    if (!c.isLeader || c.token === null || c.validUntil === null) continue;
    const t = byToken.get(c.token);
    if (!t) {
      const term = {
        token: BigInt(c.token),
        holder: c.region,
        from: c.returnedAt,
        lastRenewal: c.sentAt,
        until: c.validUntil,
      };
      byToken.set(c.token, term);
    } else {
      t.from = Math.min(t.from, c.returnedAt);
      t.lastRenewal = Math.max(t.lastRenewal, c.sentAt);
      t.until = Math.max(t.until, c.validUntil);
    }
  }
  return [...byToken.values()].sort((a, b) => (a.token < b.token ? -1 : 1));
}

export interface Verdict {
  ok: boolean;
  lines: string[];
}

export async function verify(endpoint: string, claims: readonly ClaimEvent[]): Promise<Verdict> {
  const lines: string[] = [];
  let ok = true;
  const check = (pass: boolean, text: string) => {
    ok &&= pass;
    lines.push(`${pass ? "PASS" : "FAIL"}  ${text}`);
  };

  const terms = termsFrom(claims);
  check(terms.length >= 2, `${terms.length} terms led (a failover needs at least 2)`);
  let overlaps = 0;
  for (let i = 1; i < terms.length; i++) {
    const prev = terms[i - 1] as Term;
    const next = terms[i] as Term;
    if (next.from < prev.until) {
      overlaps++;
      lines.push(
        `      term ${next.token} (${next.holder}) began ${prev.until - next.from} ms before term ${prev.token} (${prev.holder}) ended`,
      );
    }
  }
  check(
    overlaps === 0,
    "no two terms overlapped: each leader began after the previous leader's last validUntil",
  );

  const leaderKey = `leasehold/${LEASE_NAME}`;
  const entries = await range(endpoint, { key: b64(JOURNAL_PREFIX), range_end: prefixEnd(JOURNAL_PREFIX) });
  check(entries.length > 0, `${entries.length} journal entries in etcd`);
  let wrongTerm = 0;
  for (const kv of entries) {
    const entry: JournalEntry = entrySchema.parse(JSON.parse(unb64(kv.value)));
    // The leader key as it was at the entry's commit revision (etcd keeps the history until compaction).
    const [leader] = await range(endpoint, { key: b64(leaderKey), revision: kv.mod_revision ?? "0" });
    const holder = leader ? recordSchema.parse(JSON.parse(unb64(leader.value))).holder : null;
    if (leader?.create_revision !== entry.token || holder !== entry.region) {
      wrongTerm++;
      lines.push(
        `      entry ${unb64(kv.key)} by ${entry.region} under term ${entry.token}, but at its commit the lease was ${holder ?? "free"} (term ${leader?.create_revision ?? "-"})`,
      );
    }
  }
  check(wrongTerm === 0, "every journal entry was committed while its writer's term held the lease");
  return { ok, lines };
}
