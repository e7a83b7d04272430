/**
 * What every benchmarked client offers: participants that each take part in one named lease, doing the same
 * logical operations whatever the protocol underneath. Each method checks the outcome it expects (a claim on a
 * free lease must win, a guarded txn by the holder must commit), so a client measures only correct work.
 */

export type ClientId = "raw" | "lh-undici" | "lh-fetch" | "etcd3";

/** One participant (holder identity) in one named lease. Calls on one participant are sequential. */
export interface Participant {
  /** Claims the lease; true when this participant now holds it. */
  claim(): Promise<boolean>;
  /** Extends the held lease by its TTL (one keepalive). */
  renew(): Promise<void>;
  /** Reads who holds the lease now; the holder's identity, or null when it is free. */
  leader(): Promise<string | null>;
  /** One write guarded by this participant's term; true when it committed. */
  doIfLeader(value: string): Promise<boolean>;
  /** Ends the held term (revokes its lease). */
  release(): Promise<void>;
}

export interface BenchClient {
  readonly id: ClientId;
  /** Column label in the report. */
  readonly label: string;
  /** A participant named `holder` on lease `name`, asking for `ttlMs` (whole seconds). */
  participant(name: string, holder: string, ttlMs: number): Participant;
  /** A full leader-election cycle with the client's own election recipe, where it has one (etcd3). */
  electionCycle?(name: string, ttlMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Throws when an operation's outcome is not the one the benchmark set up. */
export function expectOutcome(ok: boolean, what: string): void {
  if (!ok) throw new Error(`benchmark invariant broken: ${what}`);
}
