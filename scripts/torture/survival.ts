/**
 * Whether terms outlived a store fault (a restart of the store or the gateway, a member kill): a term held when
 * the fault began survived it when a worker was told, after the fault ended, that it still led that term.
 * A figure for the report, not a safety check: a term that ends is still safe.
 */
import type { Window } from "./checker.ts";
import type { WorkerEvent } from "./events.ts";

export interface FaultRecord {
  t: number;
  until: number;
  kind: string;
}

/** Per fault kind: terms held when such a fault began, and how many of them were still led after it. */
export function survivals(
  events: readonly WorkerEvent[],
  windows: readonly Window[],
  faults: readonly FaultRecord[],
  kinds: readonly string[],
): Record<string, { held: number; survived: number }> {
  const out: Record<string, { held: number; survived: number }> = {};
  for (const f of faults) {
    if (!kinds.includes(f.kind)) continue;
    const held = new Set(windows.filter((w) => w.start < f.t && f.t < w.end).map((w) => w.token.toString()));
    const after = new Set(
      events.flatMap((e) =>
        (e.ev === "claim" || e.ev === "renew") && e.isLeader && e.token !== null && e.sentAt > f.until
          ? [e.token]
          : [],
      ),
    );
    const tally = out[f.kind] ?? { held: 0, survived: 0 };
    tally.held += held.size;
    tally.survived += [...held].filter((token) => after.has(token)).length;
    out[f.kind] = tally;
  }
  return out;
}
