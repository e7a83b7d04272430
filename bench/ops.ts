/**
 * The benchmarked operations, as fixtures: untimed set-up, the timed call, untimed clean-up. Every worker of
 * every client gets its own lease names, so workers never contend with each other unless an operation says so.
 */
import { type BenchClient, expectOutcome, type Participant } from "./clients/types.ts";

export type OpId =
  | "claim-free"
  | "claim-held"
  | "renew"
  | "leader"
  | "do-if-leader"
  | "release"
  | "cycle"
  | "election-cycle";

/** TTL of leases held for a whole fixture, in ms: long enough never to lapse during a run. */
export const HELD_TTL_MS = 300_000;
/**
 * TTL of claims that are released at once or lose, in ms. A losing claim leaves its lease unattached until
 * this TTL passes (leasehold sends no revoke for it), so it bounds how many such leases etcd carries.
 */
export const SHORT_TTL_MS = 5000;

export interface OpFixture {
  /** Untimed work before each timed call. */
  before?(): Promise<void>;
  /** The timed call. */
  run(): Promise<void>;
  /** Untimed work after each timed call. */
  after?(): Promise<void>;
  /** Ends the fixture: releases whatever it holds. */
  dispose(): Promise<void>;
}

export interface OpSpec {
  id: OpId;
  /** Row label in the report. */
  label: string;
  supports(client: BenchClient): boolean;
  /** A fixture for worker `worker` of `client`. */
  fixture(client: BenchClient, worker: number): Promise<OpFixture>;
}

async function holding(client: BenchClient, name: string, holder: string): Promise<Participant> {
  const p = client.participant(name, holder, HELD_TTL_MS);
  expectOutcome(await p.claim(), `${client.id} claims the free lease ${name}`);
  return p;
}

const everyClient = () => true;
let writes = 0;

export const OPS: readonly OpSpec[] = [
  {
    id: "claim-free",
    label: "claim (lease free)",
    supports: everyClient,
    async fixture(client, w) {
      const p = client.participant(`claim-free/${w}`, `w${w}`, SHORT_TTL_MS);
      return {
        run: async () => expectOutcome(await p.claim(), `${client.id} claims a free lease`),
        after: () => p.release(),
        dispose: async () => {},
      };
    },
  },
  {
    id: "claim-held",
    label: "claim (held by another)",
    supports: everyClient,
    async fixture(client, w) {
      const name = `claim-held/${w}`;
      const holder = await holding(client, name, `holder${w}`);
      const contender = client.participant(name, `contender${w}`, SHORT_TTL_MS);
      return {
        run: async () => expectOutcome(!(await contender.claim()), `${client.id} loses a held lease`),
        dispose: () => holder.release(),
      };
    },
  },
  {
    id: "renew",
    label: "renew",
    supports: everyClient,
    async fixture(client, w) {
      const p = await holding(client, `renew/${w}`, `w${w}`);
      return { run: () => p.renew(), dispose: () => p.release() };
    },
  },
  {
    id: "leader",
    label: "leader()",
    supports: everyClient,
    async fixture(client, w) {
      const p = await holding(client, `leader/${w}`, `w${w}`);
      return {
        run: async () => expectOutcome((await p.leader()) === `w${w}`, `${client.id} reads the holder`),
        dispose: () => p.release(),
      };
    },
  },
  {
    id: "do-if-leader",
    label: "doIfLeader (1 put)",
    supports: everyClient,
    async fixture(client, w) {
      const p = await holding(client, `do-if-leader/${w}`, `w${w}`);
      return {
        run: async () =>
          expectOutcome(await p.doIfLeader(String(++writes)), `${client.id} guarded txn commits`),
        dispose: () => p.release(),
      };
    },
  },
  {
    id: "release",
    label: "release",
    supports: everyClient,
    async fixture(client, w) {
      const p = client.participant(`release/${w}`, `w${w}`, SHORT_TTL_MS);
      return {
        before: async () => expectOutcome(await p.claim(), `${client.id} claims a free lease`),
        run: () => p.release(),
        dispose: async () => {},
      };
    },
  },
  {
    id: "cycle",
    label: "claim + release cycle",
    supports: everyClient,
    async fixture(client, w) {
      const p = client.participant(`cycle/${w}`, `w${w}`, SHORT_TTL_MS);
      return {
        run: async () => {
          expectOutcome(await p.claim(), `${client.id} claims a free lease`);
          await p.release();
        },
        dispose: async () => {},
      };
    },
  },
  {
    id: "election-cycle",
    label: "Election campaign + resign",
    supports: (client) => client.electionCycle !== undefined,
    async fixture(client, w) {
      const cycle = client.electionCycle?.bind(client);
      if (!cycle) throw new Error(`${client.id} has no election recipe`);
      return { run: () => cycle(`cycle/${w}`, SHORT_TTL_MS), dispose: async () => {} };
    },
  },
];

export function op(id: OpId): OpSpec {
  const spec = OPS.find((o) => o.id === id);
  if (!spec) throw new Error(`unknown operation ${id}`);
  return spec;
}
