/** What a demo invocation reports to the orchestrator: one JSON object per stdout line. */

export interface ClaimEvent {
  type: "claim";
  region: string;
  /** The cron delivery this process runs (`<region>#<tick>`); a duplicated delivery runs in two processes. */
  delivery: string;
  pid: number;
  /** Local epoch ms just before claim() was called. */
  sentAt: number;
  /** Local epoch ms when claim() returned: a leader acts from here until validUntil. */
  returnedAt: number;
  isLeader: boolean;
  /** The region's own term is held by another invocation of it. */
  busy: boolean;
  holder: string | null;
  /** Fencing token as a decimal string. */
  token: string | null;
  /** This invocation's hold mark of the term (etcd: the term record's mod revision), when it leads. */
  hold: string | null;
  validUntil: number | null;
}

export interface JournalEvent {
  type: "journal";
  region: string;
  delivery: string;
  pid: number;
  at: number;
  token: string;
  hold: string;
  key: string;
  applied: boolean;
  reason?: string;
}

export interface FailureEvent {
  type: "error";
  region: string;
  delivery: string;
  pid: number;
  at: number;
  code: string;
  message: string;
}

export type DemoEvent = ClaimEvent | JournalEvent | FailureEvent;

/** The journal entry value the leader writes under its term, naming the hold it wrote under. */
export interface JournalEntry {
  region: string;
  delivery: string;
  token: string;
  hold: string;
  /** The decimal claim ID of the writing invocation's claim. */
  run: string;
  at: number;
}

export const LEASE_NAME = "demo/nightly-report";
/** The election's keys in etcd: the default prefix of `etcd()` plus the lease name. */
export const ELECTION = `leasehold/${LEASE_NAME}`;
export const JOURNAL_PREFIX = "demo/journal/";
export const TTL_MS = 3000;
