/**
 * The demo's terms, two ways: as the invocations reported them (local times, what each believed), and as etcd's
 * history recorded them (revisions, what the store decided).
 */
import type { ClaimEvent } from "./events.ts";
import type { History } from "./history.ts";

export interface ReportedTerm {
  token: bigint;
  holder: string;
  /** First local time a claim of this term returned leadership. */
  from: number;
  /** Local send time of the term's last successful claim. */
  lastRenewal: number;
  /** Latest validUntil any report of this term gave. */
  until: number;
  /** How many invocations led in this term. */
  invocations: number;
}

/** Groups the leaders' claim reports into terms, in token order. */
export function termsFrom(claims: readonly ClaimEvent[]): ReportedTerm[] {
  const byToken = new Map<string, ReportedTerm>();
  for (const c of claims) {
    if (!c.isLeader || c.token === null || c.validUntil === null) continue;
    const t = byToken.get(c.token);
    if (!t) {
      byToken.set(c.token, {
        token: BigInt(c.token),
        holder: c.region,
        from: c.returnedAt,
        lastRenewal: c.sentAt,
        until: c.validUntil,
        invocations: 1,
      });
    } else {
      t.from = Math.min(t.from, c.returnedAt);
      t.lastRenewal = Math.max(t.lastRenewal, c.sentAt);
      t.until = Math.max(t.until, c.validUntil);
      t.invocations++;
    }
  }
  return [...byToken.values()].sort((a, b) => (a.token < b.token ? -1 : 1));
}

export interface StoredTerm {
  token: bigint;
  /** The term record's holder (the candidate key's value when there is no record). */
  holder: string;
  leaseId: string;
  /** Revisions at which its candidate key was the leader, first and last. */
  firstRevision: bigint;
  lastRevision: bigint;
  /** Distinct holds: each invocation that made the term busy (the claim that created it, then each resume). */
  holds: Set<bigint>;
}

/** The leaders etcd's history shows, in the order they led. */
export function storedTerms(history: History): StoredTerm[] {
  const terms: StoredTerm[] = [];
  for (const s of history.snapshots) {
    const leader = s.candidates[0];
    if (!leader) continue;
    let term = terms.at(-1);
    if (term?.token !== leader.createRevision) {
      term = {
        token: leader.createRevision,
        holder: s.record?.holder ?? leader.value,
        leaseId: leader.leaseId,
        firstRevision: s.revision,
        lastRevision: s.revision,
        holds: new Set(),
      };
      terms.push(term);
    }
    term.lastRevision = s.revision;
    if (s.record?.state === "busy") term.holds.add(s.record.modRevision);
  }
  return terms;
}
