/**
 * One simulated cron invocation in its own process, as a scheduled function would run: it knows only its
 * configuration, its region (the fixed holder) and the delivery it runs. It claims the lease; if it leads, it
 * does some work, appends a journal entry with a guarded transaction, and ends its run with `park()`, handing
 * the term to the region's next invocation. It reports JSON lines on stdout and exits.
 *
 * Usage: node scripts/demo/invocation.ts <etcd endpoint> <region> <work ms> <delivery>
 */
import { etcd } from "../../adapters/etcd/index.ts";
import { createLease, isLeaseError } from "../../src/index.ts";
import { type DemoEvent, JOURNAL_PREFIX, type JournalEntry, LEASE_NAME, TTL_MS } from "./events.ts";
import { probeHolds, type WonClaim } from "./hold-probe.ts";

const [endpoint, region, workMs, delivery] = process.argv.slice(2);
if (!endpoint || !region || !workMs || !delivery) {
  throw new Error("usage: invocation.ts <endpoint> <region> <work ms> <delivery>");
}
const { pid } = process;

const emit = (event: DemoEvent) => process.stdout.write(`${JSON.stringify(event)}\n`);
const failed = (error: unknown) => {
  emit({
    type: "error",
    region,
    delivery,
    pid,
    at: Date.now(),
    code: isLeaseError(error) ? error.code : "UNEXPECTED",
    message: error instanceof Error ? error.message : String(error),
  });
  process.exitCode = 1;
};

const claimed: { won?: WonClaim } = {};
const lease = createLease({
  backend: probeHolds(etcd({ endpoints: [endpoint] }), (won) => {
    claimed.won = won;
  }),
  name: LEASE_NAME,
  holder: region,
  ttlMs: TTL_MS,
});

try {
  const sentAt = Date.now();
  const s = await lease.claim();
  const mine = s.isLeader ? claimed.won : undefined;
  emit({
    type: "claim",
    region,
    delivery,
    pid,
    sentAt,
    returnedAt: Date.now(),
    isLeader: s.isLeader,
    busy: s.busy,
    holder: s.holder,
    token: s.token?.toString() ?? null,
    hold: mine?.hold ?? null,
    validUntil: s.validUntil,
  });
  if (mine && s.token !== null) {
    await new Promise((resolve) => setTimeout(resolve, Number(workMs)));
    const at = Date.now();
    const key = `${JOURNAL_PREFIX}${String(at).padStart(15, "0")}-${region}-${pid}`;
    const entry: JournalEntry = {
      region,
      delivery,
      token: s.token.toString(),
      hold: mine.hold,
      run: mine.run,
      at,
    };
    const r = await lease.doIfLeader([{ type: "put", key, value: JSON.stringify(entry) }]);
    emit({
      type: "journal",
      region,
      delivery,
      pid,
      at,
      token: entry.token,
      hold: entry.hold,
      key,
      applied: r.applied,
      ...(r.applied ? {} : { reason: r.reason }),
    });
  }
} catch (error) {
  failed(error);
} finally {
  // The hand-off: the next invocation of this region resumes the term. A refused or failed run parks too; a
  // hold that is already gone stays gone.
  await lease.park().catch(failed);
}
