/**
 * What every benchmarked client offers: participants that each take part in one named lease, doing the same
 * logical operations whatever the protocol underneath. Each method checks the outcome it expects (a claim on a
 * free lease must win, a guarded txn by the holder must commit), so a client measures only correct work.
 */

export type ClientId = "raw" | "lh-undici" | "lh-fetch" | "etcd3";

/**
 * What a claim found: `leader` (this participant now holds the term: a free lease, or its holder's parked term
 * resumed), `held` (another holder's term), `busy` (its own holder's term, held by another participant).
 */
export type ClaimResult = "leader" | "held" | "busy";

/**
 * One participant (an invocation of a holder) in one named lease. Calls on one participant are sequential;
 * several participants may share a holder, as sequential or overlapping invocations of it do.
 */
export interface Participant {
  /** Claims the lease: takes it if free, resumes its holder's parked term, or reports who holds it. */
  claim(): Promise<ClaimResult>;
  /** Extends the held lease by its TTL (one keepalive). */
  renew(): Promise<void>;
  /** Reads who holds the lease now; the holder's identity, or null when it is free. */
  leader(): Promise<string | null>;
  /** One write guarded by this participant's term; true when it committed. */
  doIfLeader(value: string): Promise<boolean>;
  /** Ends the held term (revokes its lease). */
  release(): Promise<void>;
  /** Hands the held term over to the holder's next participant (one guarded write); where `handOff`. */
  park(): Promise<void>;
}

export interface BenchClient {
  readonly id: ClientId;
  /** Column label in the report. */
  readonly label: string;
  /** Whether its participants can park a term and resume it (leasehold's hand-off); etcd3 has no such recipe. */
  readonly handOff: boolean;
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
