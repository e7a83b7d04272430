/**
 * The torture test's verdict: the workers' logs (what each was told, in local wall time) against the store's
 * own history (store-history.ts). Safety only; liveness is counted, never timed.
 *
 * A leadership window is one handle's time as leader of one term: from the first answer that told it so to
 * the latest `validUntil` it was given, cut at the moment it sent its park or release. It starts when the
 * answer was logged, not when the claim was sent: a claim sent before the previous term ended may be delayed
 * in the network past that end and then rightly granted. A worker stopped (SIGSTOP) between the answer and
 * its log line logs a later start, possibly after its `validUntil`: such an empty window is left out of the
 * overlap check (the worker could not act in it), though its term is still checked against the store.
 */
import type { WorkerEvent } from "./events.ts";
import type { StoreHistory } from "./store-history.ts";

export interface Window {
  handle: string;
  worker: string;
  holder: string;
  token: bigint;
  leaseId: string;
  /** When the claim that first told it was sent. */
  sent: number;
  start: number;
  end: number;
}

export interface Verdict {
  violations: string[];
  claims: number;
  leaderClaims: number;
  busy: number;
  terms: number;
  storeTerms: number;
  writesAcked: number;
  writesRefused: number;
  writesUnknown: number;
  storedWrites: number;
  errors: Record<string, number>;
  /**
   * Pairs of windows of different terms that would overlap if windows began when their claim was sent: not a
   * violation (see above), counted to show how often a claim outlives the previous term in flight.
   */
  sentOverlaps: number;
  /** Smallest gap in ms between one term's last window end and the next term's first window start. */
  minHandoverGapMs: number | null;
  windows: Window[];
}

type Ev<K extends WorkerEvent["ev"]> = Extract<WorkerEvent, { ev: K }>;

/** The handles' leadership windows, per (handle, token). */
export function windowsOf(events: readonly WorkerEvent[]): Window[] {
  const open = new Map<string, Window>();
  const windows: Window[] = [];
  const byHandle = new Map<string, Window[]>();
  for (const e of events) {
    if ((e.ev === "claim" || e.ev === "renew") && e.isLeader && e.token !== null && e.validUntil !== null) {
      const id = `${e.h} ${e.token}`;
      let w = open.get(id);
      if (!w) {
        w = {
          handle: e.h,
          worker: e.w,
          holder: e.holder ?? "?",
          token: BigInt(e.token),
          leaseId: e.leaseId ?? "?",
          sent: e.sentAt,
          start: e.t,
          end: e.validUntil,
        };
        open.set(id, w);
        windows.push(w);
        byHandle.set(e.h, [...(byHandle.get(e.h) ?? []), w]);
      }
      w.end = Math.max(w.end, e.validUntil);
    } else if (e.ev === "park-sent" || e.ev === "release-sent") {
      for (const w of byHandle.get(e.h) ?? []) {
        if (w.start <= e.t && e.t < w.end) w.end = e.t;
      }
      for (const [id, w] of open) if (w.handle === e.h) open.delete(id);
    }
  }
  return windows;
}

export function check(events: readonly WorkerEvent[], store: StoreHistory): Verdict {
  const violations: string[] = [];
  const sorted = [...events].sort((a, b) => a.t - b.t);
  const windows = windowsOf(sorted);

  // Overlapping windows: of different terms, or of two handles in one term.
  const byStart = windows.filter((w) => w.end > w.start).sort((a, b) => a.start - b.start);
  for (let i = 0; i < byStart.length; i++) {
    const a = byStart[i] as Window;
    for (let j = i + 1; j < byStart.length; j++) {
      const b = byStart[j] as Window;
      if (b.start >= a.end) break;
      if (a.token !== b.token || a.handle !== b.handle) {
        violations.push(
          `overlap: ${a.handle} led term ${a.token} until ${a.end}, ${b.handle} led term ${b.token} from ${b.start} (${a.end - b.start} ms)`,
        );
      }
    }
  }

  let sentOverlaps = 0;
  const bySent = [...byStart].sort((a, b) => a.sent - b.sent);
  for (let i = 0; i < bySent.length; i++) {
    const a = bySent[i] as Window;
    for (let j = i + 1; j < bySent.length && (bySent[j] as Window).sent < a.end; j++) {
      if ((bySent[j] as Window).token !== a.token) sentOverlaps++;
    }
  }

  // Terms in the order they first led: tokens increase; each is a term the store had, with that holder and lease.
  const firstByToken = new Map<bigint, Window>();
  for (const w of byStart) if (!firstByToken.has(w.token)) firstByToken.set(w.token, w);
  const terms = [...firstByToken.values()];
  for (let i = 1; i < terms.length; i++) {
    const prev = terms[i - 1] as Window;
    const next = terms[i] as Window;
    if (next.token <= prev.token) {
      violations.push(`tokens: term ${next.token} began at ${next.start}, after term ${prev.token}`);
    }
  }
  const storeTerms = new Map(store.terms.map((t) => [t.token, t]));
  for (let i = 1; i < store.terms.length; i++) {
    const prev = store.terms[i - 1];
    const next = store.terms[i];
    if (prev && next && next.token <= prev.token) {
      violations.push(`store tokens: term ${next.token} followed term ${prev.token}`);
    }
  }
  for (const w of windows) {
    const t = storeTerms.get(w.token);
    if (!t || t.holder !== w.holder || t.leaseId !== w.leaseId) {
      violations.push(
        `unknown term: ${w.handle} was told term ${w.token} (${w.holder}, lease ${w.leaseId}); the store had ${t ? `${t.holder}, lease ${t.leaseId}` : "no such term"}`,
      );
    }
  }

  // What followers were told of the current term (another holder's, or their own busy one) is a term too.
  for (const e of sorted) {
    if (e.ev !== "claim" || e.isLeader || e.token === null) continue;
    const t = storeTerms.get(BigInt(e.token));
    if (!t || t.holder !== e.holder || t.leaseId !== e.leaseId) {
      violations.push(
        `unknown term: ${e.h} was told ${e.holder} leads term ${e.token} (lease ${e.leaseId}); the store had ${t ? `${t.holder}, lease ${t.leaseId}` : "no such term"}`,
      );
    }
  }

  // The smallest hand-over gap between consecutive terms (by token).
  const byToken = new Map<bigint, { start: number; end: number }>();
  for (const w of byStart) {
    const span = byToken.get(w.token);
    if (!span) byToken.set(w.token, { start: w.start, end: w.end });
    else {
      span.start = Math.min(span.start, w.start);
      span.end = Math.max(span.end, w.end);
    }
  }
  const spans = [...byToken.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([, s]) => s);
  let minGap: number | null = null;
  for (let i = 1; i < spans.length; i++) {
    const gap = (spans[i] as { start: number }).start - (spans[i - 1] as { end: number }).end;
    minGap = minGap === null ? gap : Math.min(minGap, gap);
  }

  // Writes: every committed one inside its term, once; acknowledged ones present, refused ones absent.
  const stored = new Map(store.writes.map((w) => [w.key, w]));
  const sent = new Map<string, Ev<"write-sent">>();
  const outcome = new Map<string, Ev<"write">>();
  let writesUnknown = 0;
  const errors: Record<string, number> = {};
  for (const e of sorted) {
    if (e.ev === "write-sent") sent.set(e.key, e);
    else if (e.ev === "write") outcome.set(e.key, e);
    else if (e.ev === "error") {
      const kind = `${e.op}:${e.code}`;
      errors[kind] = (errors[kind] ?? 0) + 1;
      if (!e.typed) violations.push(`untyped error from ${e.h} (${e.op}): ${e.code} ${e.message}`);
      if (e.op === "write") writesUnknown++;
    }
  }
  for (const w of store.writes) {
    if (w.problem)
      violations.push(`write ${w.key} at ${w.at} (term ${w.token}, hold ${w.hold}): ${w.problem}`);
    if (w.commits !== 1) violations.push(`write ${w.key} committed ${w.commits} times`);
    const s = sent.get(w.key);
    if (!s) violations.push(`write ${w.key} in the store was never sent`);
    else if (s.token !== w.token || s.hold !== w.hold) {
      violations.push(`write ${w.key} names term ${w.token}/${w.hold}, sent as ${s.token}/${s.hold}`);
    }
  }
  let acked = 0;
  let refused = 0;
  for (const [key, o] of outcome) {
    if (o.applied) {
      acked++;
      if (!stored.has(key)) violations.push(`acknowledged write ${key} is not in the store`);
    } else {
      refused++;
      if (stored.has(key)) violations.push(`write ${key} was refused (${o.reason}) but committed`);
    }
  }

  const claims = sorted.filter((e): e is Extract<WorkerEvent, { isLeader: boolean }> => e.ev === "claim");
  return {
    violations,
    claims: claims.length,
    leaderClaims: claims.filter((c) => c.isLeader).length,
    busy: claims.filter((c) => c.busy).length,
    terms: terms.length,
    storeTerms: store.terms.length,
    writesAcked: acked,
    writesRefused: refused,
    writesUnknown,
    storedWrites: store.writes.length,
    errors,
    sentOverlaps,
    minHandoverGapMs: minGap,
    windows,
  };
}
