/**
 * One simulated cron invocation in its own process, as a scheduled function would run: it knows only its
 * configuration and its region (the holder identity), claims the lease, and if it leads, does some work and
 * appends a journal entry with a guarded transaction. It reports JSON lines on stdout and exits.
 *
 * Usage: node scripts/demo/invocation.ts <etcd endpoint> <region> <work ms>
 */
import { etcd } from "../../adapters/etcd/index.ts";
import { createLease, isLeaseError } from "../../src/index.ts";
import { type DemoEvent, JOURNAL_PREFIX, type JournalEntry, LEASE_NAME, TTL_MS } from "./events.ts";

const [endpoint, region, workMs] = process.argv.slice(2);
if (!endpoint || !region || !workMs) throw new Error("usage: invocation.ts <endpoint> <region> <work ms>");

const emit = (event: DemoEvent) => process.stdout.write(`${JSON.stringify(event)}\n`);

const lease = createLease({
  backend: etcd({ endpoints: [endpoint] }),
  name: LEASE_NAME,
  holder: region,
  ttlMs: TTL_MS,
});

try {
  const sentAt = Date.now();
  const s = await lease.claim();
  emit({
    type: "claim",
    region,
    sentAt,
    returnedAt: Date.now(),
    isLeader: s.isLeader,
    holder: s.holder,
    token: s.token?.toString() ?? null,
    validUntil: s.validUntil,
  });
  if (s.isLeader && s.token !== null) {
    await new Promise((resolve) => setTimeout(resolve, Number(workMs)));
    const at = Date.now();
    const key = `${JOURNAL_PREFIX}${String(at).padStart(15, "0")}-${region}`;
    const entry: JournalEntry = { region, token: s.token.toString(), at };
    const r = await lease.doIfLeader([{ type: "put", key, value: JSON.stringify(entry) }]);
    emit({
      type: "journal",
      region,
      at,
      token: entry.token,
      key,
      applied: r.applied,
      ...(r.applied ? {} : { reason: r.reason }),
    });
  }
} catch (error) {
  emit({
    type: "error",
    region,
    at: Date.now(),
    code: isLeaseError(error) ? error.code : "UNEXPECTED",
    message: error instanceof Error ? error.message : String(error),
  });
  process.exitCode = 1;
}
