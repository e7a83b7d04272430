/**
 * The demo's verdict. etcd's MVCC history, read back independently of the library, says which candidate led and
 * which invocation held its term (the term record's mod revision) at every revision, in particular at each
 * journal entry's commit revision; the invocations' own reports say when each term believed it led.
 */
import type { ClaimEvent } from "./events.ts";
import type { History, Snapshot } from "./history.ts";
import { type ReportedTerm, storedTerms, termsFrom } from "./terms.ts";

export interface Scenario {
  claims: readonly ClaimEvent[];
  /** How many leaders were killed or frozen: each should cost exactly one new term. */
  disruptions: number;
  /** The delivery handed to two processes at once. */
  duplicated: string | null;
  /** The delivery whose process was frozen while it led. */
  frozen: string | null;
}

export interface Verdict {
  ok: boolean;
  lines: string[];
}

/** Why the snapshot's leader is not a well-formed leasehold term in etcd's election layout, or null. */
function layoutProblem(s: Snapshot): string | null {
  const [leader] = s.candidates;
  if (!leader) return s.record ? "a term record without a candidate key" : null;
  const hex = leader.key.slice(leader.key.lastIndexOf("/") + 1);
  if (leader.leaseId === "0" || hex !== BigInt(leader.leaseId).toString(16)) {
    return `candidate ${leader.key} is not named after its lease ${leader.leaseId}`;
  }
  if (!s.record || s.record.leaseId !== leader.leaseId) return `no term record on lease ${leader.leaseId}`;
  if (leader.value !== s.record.holder) return `candidate value ${leader.value} is not ${s.record.holder}`;
  return null;
}

export function verify(history: History, scenario: Scenario): Verdict {
  const lines: string[] = [];
  let ok = true;
  const check = (pass: boolean, text: string, details: readonly string[] = []) => {
    ok &&= pass;
    lines.push(`${pass ? "PASS" : "FAIL"}  ${text}`, ...details.map((d) => `      ${d}`));
  };

  const reported = termsFrom(scenario.claims);
  const overlaps: string[] = [];
  for (let i = 1; i < reported.length; i++) {
    const prev = reported[i - 1] as ReportedTerm;
    const next = reported[i] as ReportedTerm;
    if (next.from < prev.until) {
      overlaps.push(
        `term ${next.token} (${next.holder}) began ${prev.until - next.from} ms before term ${prev.token} (${prev.holder}) ended`,
      );
    }
  }
  check(
    reported.length >= 2 && overlaps.length === 0,
    `${reported.length} terms led, none overlapping: each leader began after the previous one's last validUntil`,
    overlaps,
  );

  const crowded = history.snapshots.filter((s) => s.candidates.length > 1);
  check(
    crowded.length === 0,
    `no two terms overlapped in etcd: at each of revisions 1..${history.head}, at most one candidate key`,
    crowded.map((s) => `revision ${s.revision}: ${s.candidates.map((c) => c.key).join(", ")}`),
  );
  const malformed = history.snapshots.flatMap((s) => {
    const problem = layoutProblem(s);
    return problem ? [`revision ${s.revision}: ${problem}`] : [];
  });
  check(
    malformed.length === 0,
    "every term was a candidate key E/<its lease ID in hex> with the term record E on the same lease",
    malformed,
  );

  const stored = storedTerms(history);
  const unordered = stored.filter((t, i) => i > 0 && t.token <= (stored[i - 1]?.token ?? 0n));
  const sameTerms =
    stored.length === reported.length &&
    stored.every((t, i) => t.token === reported[i]?.token && t.holder === reported[i]?.holder);
  check(
    unordered.length === 0 && sameTerms,
    `fencing tokens strictly increase across etcd's ${stored.length} terms (${stored.map((t) => `${t.token} ${t.holder}`).join(", ")}), the terms the invocations reported`,
  );
  const holds = stored.reduce((n, t) => n + t.holds.size, 0);
  const invocations = reported.reduce((n, t) => n + t.invocations, 0);
  check(
    stored.length === scenario.disruptions + 1 && holds === invocations,
    `no churn: ${stored.length} terms for ${scenario.disruptions} disrupted leaders; the ${invocations} leading invocations were ${holds} holds, ${holds - stored.length} of them resuming a parked term`,
  );

  const wrong: string[] = [];
  for (const w of history.journal) {
    const s = history.byRevision.get(w.revision.toString());
    const leader = s?.candidates[0];
    const record = s?.record;
    const e = w.entry;
    if (
      w.version !== 1n ||
      leader?.createRevision.toString() !== e.token ||
      record?.holder !== e.region ||
      record.state !== "busy" ||
      record.modRevision.toString() !== e.hold ||
      (record.run !== undefined && record.run !== e.run)
    ) {
      wrong.push(
        `${w.key} (${e.delivery}, term ${e.token}, hold ${e.hold}) at revision ${w.revision}: leader ${leader?.createRevision ?? "none"}, record ${record ? `${record.holder} ${record.state} hold ${record.modRevision}` : "none"}`,
      );
    }
  }
  check(
    history.journal.length > 0 && wrong.length === 0,
    `all ${history.journal.length} journal writes committed while their term led and was held busy by the writing invocation (record's mod revision = the entry's hold)`,
    wrong,
  );
  const reused = history.journal.filter((w, i) => {
    const prev = history.journal[i - 1]?.entry;
    return (
      prev !== undefined &&
      (BigInt(w.entry.hold) <= BigInt(prev.hold) || BigInt(w.entry.token) < BigInt(prev.token))
    );
  });
  check(
    reused.length === 0,
    "in commit order, journal tokens never decrease and every write named a newer hold (one write per hold)",
    reused.map((w) => `${w.key}: term ${w.entry.token}, hold ${w.entry.hold}`),
  );

  if (scenario.duplicated !== null) {
    const dup = scenario.duplicated;
    const runs = scenario.claims.filter((c) => c.delivery === dup);
    const led = runs.filter((c) => c.isLeader);
    const writes = history.journal.filter((w) => w.entry.delivery === dup);
    const others = runs.filter((c) => !c.isLeader).map((c) => (c.busy ? "busy: true" : "not leader"));
    check(
      runs.length === 2 && led.length === 1 && writes.length === 1 && writes[0]?.entry.hold === led[0]?.hold,
      `duplicated delivery ${dup}: ${led.length} of ${runs.length} processes led (the other: ${others.join(", ") || "-"}); ${writes.length} journal write${writes.length === 1 ? "" : "s"}, under the leader's hold ${led[0]?.hold ?? "-"}`,
    );
  } else check(false, "the duplicated delivery ran");

  const late = history.journal.filter((w) => w.entry.delivery === scenario.frozen);
  check(
    scenario.frozen !== null && late.length === 0,
    `the frozen invocation ${scenario.frozen ?? "-"} left no journal entry in etcd`,
  );
  return { ok, lines };
}
