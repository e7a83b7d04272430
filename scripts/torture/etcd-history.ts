/**
 * etcd's MVCC history from revision 1, read with one watch over the whole keyspace (`POST /v3/watch`,
 * start_revision 1) up to the head revision, and replayed: the election (etcd's `clientv3/concurrency` layout:
 * candidate keys `E/<lease ID in hex>`, leader = lowest create revision, leasehold's term record at `E` on the
 * same lease) as it stood before every guarded write, and the terms it had.
 */
import * as z from "zod/mini";
import {
  parseRecord,
  parseWriteValue,
  type StoredWrite,
  type StoreHistory,
  type StoreTerm,
} from "./store-history.ts";

const kvSchema = z.object({
  key: z.string(),
  value: z.optional(z.string()),
  create_revision: z.optional(z.string()),
  mod_revision: z.string(),
  version: z.optional(z.string()),
  lease: z.optional(z.string()),
});
const watchMessage = z.object({
  result: z.optional(
    z.object({
      header: z.optional(z.object({ revision: z.optional(z.string()) })),
      events: z.optional(z.array(z.object({ type: z.optional(z.string()), kv: kvSchema }))),
    }),
  ),
  error: z.optional(z.unknown()),
});

interface Kv {
  createRevision: bigint;
  modRevision: bigint;
  version: bigint;
  lease: string;
  value: string;
}

export interface EtcdEvent {
  type: "PUT" | "DELETE";
  key: string;
  kv: Kv;
}

const b64 = (text: string) => Buffer.from(text).toString("base64");
const text = (value: string | undefined) => Buffer.from(value ?? "", "base64").toString("utf8");

async function headRevision(endpoint: string): Promise<bigint> {
  const res = await fetch(`${endpoint}/v3/kv/range`, {
    method: "POST",
    body: JSON.stringify({ key: b64("\0"), limit: "1" }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { header?: { revision?: string } };
  if (!res.ok || body.header?.revision === undefined) throw new Error(`etcd range: HTTP ${res.status}`);
  return BigInt(body.header.revision);
}

/** Every event from revision 1 to the head, in order. */
export async function watchAll(endpoint: string): Promise<{ head: bigint; events: EtcdEvent[] }> {
  const head = await headRevision(endpoint);
  const events: EtcdEvent[] = [];
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 60_000);
  try {
    const res = await fetch(`${endpoint}/v3/watch`, {
      method: "POST",
      body: JSON.stringify({
        create_request: { key: b64("\0"), range_end: b64("\0"), start_revision: "1" },
      }),
      signal: controller.signal,
    });
    if (!res.ok || !res.body) throw new Error(`etcd watch: HTTP ${res.status}`);
    const decoder = new TextDecoder();
    let buffered = "";
    let last = 0n;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        if (line.trim() === "") continue;
        const message = watchMessage.parse(JSON.parse(line));
        if (message.error !== undefined) throw new Error(`etcd watch: ${line.slice(0, 300)}`);
        for (const e of message.result?.events ?? []) {
          const kv: Kv = {
            createRevision: BigInt(e.kv.create_revision ?? "0"),
            modRevision: BigInt(e.kv.mod_revision),
            version: BigInt(e.kv.version ?? "0"),
            lease: e.kv.lease ?? "0",
            value: text(e.kv.value),
          };
          events.push({ type: e.type === "DELETE" ? "DELETE" : "PUT", key: text(e.kv.key), kv });
          last = kv.modRevision;
        }
      }
      if (last >= head) break;
    }
    if (last < head) throw new Error(`etcd watch ended at revision ${last}, before the head ${head}`);
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return { head, events };
}

/** The election `E` as it stands: its leader candidate and term record. */
function leaderOf(state: Map<string, Kv>, election: string): { key: string; kv: Kv } | null {
  let best: { key: string; kv: Kv } | null = null;
  for (const [key, kv] of state) {
    if (!key.startsWith(`${election}/`)) continue;
    if (!best || kv.createRevision < best.kv.createRevision) best = { key, kv };
  }
  return best;
}

/** Replays the events: the terms of election `election`, and each write under `writePrefix/` judged at commit. */
export function replayEtcd(
  head: bigint,
  events: readonly EtcdEvent[],
  election: string,
  writePrefix: string,
): StoreHistory {
  const state = new Map<string, Kv>();
  const terms: StoreTerm[] = [];
  const writes = new Map<string, StoredWrite>();
  const dump: string[] = [];
  for (const e of events) {
    dump.push(
      `${e.kv.modRevision} ${e.type} ${e.key} lease=${e.kv.lease} create=${e.kv.createRevision} ${e.kv.value}`,
    );
    if (e.type === "PUT" && e.key.startsWith(`${writePrefix}/`)) {
      const seen = writes.get(e.key);
      if (seen) {
        seen.commits++;
        continue;
      }
      const named = parseWriteValue(e.kv.value);
      const leader = leaderOf(state, election);
      const record = state.get(election);
      const view = record ? parseRecord(record.value) : null;
      let problem: string | null = null;
      if (!named) problem = "its value names no term";
      else if (!leader) problem = "no term led";
      else if (leader.kv.createRevision.toString() !== named.token)
        problem = `term ${leader.kv.createRevision} led, not ${named.token}`;
      else if (!record || record.lease !== leader.kv.lease || !view)
        problem = "the leader had no term record on its lease";
      else if (view.state !== "busy") problem = `the term was ${view.state}`;
      else if (record.modRevision.toString() !== named.hold)
        problem = `the term was held under hold ${record.modRevision}, not ${named.hold}`;
      writes.set(e.key, {
        key: e.key,
        at: e.kv.modRevision,
        commits: 1,
        token: named?.token ?? "?",
        hold: named?.hold ?? "?",
        problem,
      });
      continue;
    }
    if (e.type === "PUT") state.set(e.key, e.kv);
    else state.delete(e.key);
    if (e.key !== election && !e.key.startsWith(`${election}/`)) continue;
    const leader = leaderOf(state, election);
    const record = state.get(election);
    if (leader && terms.at(-1)?.token !== leader.kv.createRevision) {
      const view = record && record.lease === leader.kv.lease ? parseRecord(record.value) : null;
      // The term record is put in the same txn as the candidate key, right after it: wait for it.
      if (!view) continue;
      terms.push({
        token: leader.kv.createRevision,
        holder: view.holder,
        leaseId: leader.kv.lease,
        from: leader.kv.createRevision,
      });
    }
  }
  return { terms, writes: [...writes.values()], head, dump: dump.join("\n") };
}
