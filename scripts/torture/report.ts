/** The torture report as text: counts per scenario and lease, the smallest hand-over gap, every violation. */
import type { Verdict } from "./checker.ts";
import type { TortureReport } from "./run.ts";

const list = (entries: [string, number | string][]) => entries.map(([k, n]) => `${k} ${n}`).join(", ");

function verdictLine(name: string, v: Verdict): string {
  return `${name}: claims ${v.claims} (leader ${v.leaderClaims}, busy ${v.busy}); terms ${v.terms} (store ${v.storeTerms}); writes acked ${v.writesAcked}, refused ${v.writesRefused}, unknown ${v.writesUnknown}, in store ${v.storedWrites}; smallest hand-over gap ${v.minHandoverGapMs ?? "-"} ms (windows from claim sent overlapping: ${v.sentOverlaps}); violations ${v.violations.length}`;
}

export function formatReport(report: TortureReport): string {
  const lines: string[] = [];
  for (const s of report.scenarios) {
    const { main, steady } = s.verdicts;
    const survived = Object.entries(s.survived).filter(([, x]) => x.held > 0);
    const errors = Object.entries({ ...main.errors }).concat(
      Object.entries(steady.errors).map(([k, n]) => [`steady ${k}`, n]),
    );
    lines.push(
      verdictLine(`${s.name} main`, main),
      verdictLine(`${s.name} steady`, steady),
      `  faults: ${list(Object.entries(s.faults)) || "none"}`,
      `  steady terms that outlived a store or proxy fault: ${list(survived.map(([k, x]) => [k, `${x.survived}/${x.held}`])) || "-"}`,
      `  typed errors: ${list(errors) || "none"}`,
      ...[...main.violations, ...steady.violations].slice(0, 30).map((x) => `  VIOLATION ${x}`),
    );
    if (s.evidence) lines.push(`  evidence: ${s.evidence}`);
  }
  lines.push(report.ok ? "torture: PASS" : `torture: FAIL (evidence under ${report.dir})`);
  return lines.join("\n");
}
