/**
 * What a store's own history says, in a form both stores share, for the checker: the terms the store had
 * (in the order they began) and every guarded write it committed, each judged against the state of the
 * election at its commit point (etcd: its revision; ZooKeeper: its zxid).
 */

export interface StoreTerm {
  /** The fencing token: the candidate key's create revision (etcd) or the leader znode's czxid (ZooKeeper). */
  token: bigint;
  holder: string;
  leaseId: string;
  /** Where it began: etcd revision or ZooKeeper zxid. */
  from: bigint;
}

export interface StoredWrite {
  key: string;
  /** Commit point: etcd mod revision or ZooKeeper czxid. */
  at: bigint;
  /** How many times the store committed this key (a unique key is written once). */
  commits: number;
  token: string;
  hold: string;
  /** Why the commit was outside the term (and hold) it names, or null when it was inside. */
  problem: string | null;
}

export interface StoreHistory {
  terms: StoreTerm[];
  writes: StoredWrite[];
  /** The last commit point read (etcd head revision, ZooKeeper last zxid). */
  head: bigint;
  /** Raw history for the evidence dump. */
  dump: string;
}

/** The parts of a term record (etcd) or leader record (ZooKeeper) the checker reads. */
export interface RecordView {
  holder: string;
  state: string;
  run?: string;
}

export function parseRecord(text: string): RecordView | null {
  try {
    const r = JSON.parse(text) as Partial<RecordView>;
    return typeof r.holder === "string" && typeof r.state === "string" ? (r as RecordView) : null;
  } catch {
    return null;
  }
}

export function parseWriteValue(text: string): { token: string; hold: string } | null {
  try {
    const v = JSON.parse(text) as { token?: unknown; hold?: unknown };
    return typeof v.token === "string" && typeof v.hold === "string"
      ? { token: v.token, hold: v.hold }
      : null;
  } catch {
    return null;
  }
}
