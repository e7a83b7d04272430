/**
 * The backend conformance suite: the lease contract of docs/design.md ("Semantics", "Claim protocol v2"), and
 * the elector's long-running features of docs/elector.md, run unchanged against every backend. Cases that a backend's capability flags exclude are skipped, never weakened.
 */
import { describe } from "vitest";
import { campaignCases } from "./campaign-cases.ts";
import { claimCases } from "./claim-cases.ts";
import { suiteContext } from "./context.ts";
import { electorCases } from "./elector-cases.ts";
import { faultCases } from "./fault-cases.ts";
import { guardCases } from "./guard-cases.ts";
import { lifecycleCases } from "./lifecycle-cases.ts";
import { ownershipCases } from "./ownership-cases.ts";
import type { ConformanceTarget } from "./target.ts";
import { transferCases } from "./transfer-cases.ts";

export function runConformance(target: ConformanceTarget): void {
  const context = suiteContext(target);
  describe(`backend conformance: ${target.name}`, () => {
    claimCases(context);
    ownershipCases(context);
    lifecycleCases(context);
    guardCases(context);
    faultCases(context);
    campaignCases(context);
    transferCases(context);
    electorCases(context);
  });
}
