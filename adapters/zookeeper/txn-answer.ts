/**
 * What a multi's answer means for a plan of txn-plan.ts: the op results once committed, whether the committed
 * guard is the leader znode read, and what a refusal means by the position of the refused op. Pure.
 */
import type { OpResult } from "../../src/backend-kit.ts";
import type { LeaderStat, MultiStep, PlannedResult } from "./txn-plan.ts";
import type { SetStat } from "./wire.ts";

/** The op results of a committed multi, its revisions set to the multi's commit zxid where it set them. */
export function resultsAt(results: readonly PlannedResult[], commitZxid: bigint): OpResult[] {
  return results.map((r): OpResult => {
    if (r.type !== "get" || !("key" in r)) return r;
    return {
      type: "get",
      kv: {
        key: r.key,
        value: r.value,
        createRevision: r.createRevision === "commit" ? commitZxid : r.createRevision,
        modRevision: r.modRevision === "commit" ? commitZxid : r.modRevision,
        version: r.version,
      },
    };
  });
}

/** Whether a committed multi's guard stat is the leader znode read: same czxid and owner, one version on, later. */
export function guardHeld(leader: LeaderStat, guard: SetStat, commitZxid: bigint): boolean {
  return (
    guard.czxid === leader.czxid &&
    guard.ephemeralOwner === leader.ephemeralOwner &&
    guard.version === leader.version + 1 &&
    commitZxid > leader.mzxid
  );
}

/** ZooKeeper's codes for a znode that changed since the read: plan again. */
const CONTENDED: ReadonlySet<string> = new Set(["NONODE", "NODEEXISTS", "BADVERSION"]);

/**
 * What a refused multi means, by the position of the op ZooKeeper refused and its code: the guard on the
 * leader znode refused (any code) → not-leader; a read key or a parent changed since the read → plan again;
 * else the refusal itself (`NOTEMPTY`, `BADARGUMENTS`, …), which no new plan fixes.
 */
export function refusal(
  steps: readonly MultiStep[],
  index: number,
  code: string,
): { next: "not-leader" } | { next: "replan" } | { next: "fail"; step: MultiStep | undefined } {
  const step = steps[index];
  if (step && "guard" in step.at && step.at.guard === "leader") return { next: "not-leader" };
  if (step && CONTENDED.has(code)) return { next: "replan" };
  return { next: "fail", step };
}
