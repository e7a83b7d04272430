/** What a demo invocation reports to the orchestrator: one JSON object per stdout line. */

export interface ClaimEvent {
  type: "claim";
  region: string;
  /** Local epoch ms just before claim() was called. */
  sentAt: number;
  /** Local epoch ms when claim() returned: a leader acts from here until validUntil. */
  returnedAt: number;
  isLeader: boolean;
  holder: string | null;
  /** Fencing token as a decimal string. */
  token: string | null;
  validUntil: number | null;
}

export interface JournalEvent {
  type: "journal";
  region: string;
  at: number;
  token: string;
  key: string;
  applied: boolean;
  reason?: string;
}

export interface FailureEvent {
  type: "error";
  region: string;
  at: number;
  code: string;
  message: string;
}

export type DemoEvent = ClaimEvent | JournalEvent | FailureEvent;

/** The journal entry value the leader writes under its term. */
export interface JournalEntry {
  region: string;
  token: string;
  at: number;
}

export const LEASE_NAME = "demo/nightly-report";
export const JOURNAL_PREFIX = "demo/journal/";
export const TTL_MS = 3000;
