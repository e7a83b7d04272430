/**
 * The benchmarked operations, as fixtures: untimed set-up, the timed call, untimed clean-up. Every worker of
 * every client gets its own lease names, so workers never contend with each other unless an operation says so.
 */
import { type BenchClient, type ClaimResult, expectOutcome, type Participant } from "./clients/types.ts";

export type OpId =
  | "claim-free"
  | "claim-held"
  | "claim-busy"
  | "claim-resume"
  | "park"
  | "renew"
  | "leader"
  | "do-if-leader"
  | "release"
  | "cycle"
  | "election-cycle";

/** TTL of leases held for a whole fixture, in ms: long enough never to lapse during a run. */
export const HELD_TTL_MS = 300_000;
/** TTL of claims that are released at once or lose, in ms. */
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

async function claimAs(p: Participant, expected: ClaimResult, what: string): Promise<void> {
  const found = await p.claim();
  expectOutcome(found === expected, `${what}: expected ${expected}, found ${found}`);
}

async function holding(client: BenchClient, name: string, holder: string): Promise<Participant> {
  const p = client.participant(name, holder, HELD_TTL_MS);
  await claimAs(p, "leader", `${client.id} claims the free lease ${name}`);
  return p;
}

/**
 * A term of `holder` on `name`, parked: each invocation is a fresh participant that resumes it. `end` resumes it
 * once more and releases it.
 */
async function parkedTerm(client: BenchClient, name: string, holder: string) {
  const invocation = () => client.participant(name, holder, HELD_TTL_MS);
  const resume = async () => {
    const p = invocation();
    await claimAs(p, "leader", `${client.id} resumes its parked term of ${name}`);
    return p;
  };
  const p = invocation();
  await claimAs(p, "leader", `${client.id} claims the free lease ${name}`);
  await p.park();
  return { invocation, resume, end: async () => (await resume()).release() };
}

const everyClient = () => true;
const handOff = (client: BenchClient) => client.handOff;
let writes = 0;

export const OPS: readonly OpSpec[] = [
  {
    id: "claim-free",
    label: "claim (lease free)",
    supports: everyClient,
    async fixture(client, w) {
      const p = client.participant(`claim-free/${w}`, `w${w}`, SHORT_TTL_MS);
      return {
        run: () => claimAs(p, "leader", `${client.id} claims a free lease`),
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
        run: () => claimAs(contender, "held", `${client.id} loses a lease another holder holds`),
        dispose: () => holder.release(),
      };
    },
  },
  {
    id: "claim-busy",
    label: "claim (own holder busy)",
    supports: handOff,
    async fixture(client, w) {
      const name = `claim-busy/${w}`;
      const running = await holding(client, name, `w${w}`);
      const overlapping = client.participant(name, `w${w}`, SHORT_TTL_MS);
      return {
        run: () => claimAs(overlapping, "busy", `${client.id} finds its own holder's term busy`),
        dispose: () => running.release(),
      };
    },
  },
  {
    id: "claim-resume",
    label: "claim (own term parked: resume)",
    supports: handOff,
    async fixture(client, w) {
      const term = await parkedTerm(client, `claim-resume/${w}`, `w${w}`);
      let p = term.invocation();
      return {
        before: async () => {
          p = term.invocation();
        },
        run: () => claimAs(p, "leader", `${client.id} resumes its parked term`),
        after: () => p.park(),
        dispose: term.end,
      };
    },
  },
  {
    id: "park",
    label: "park",
    supports: handOff,
    async fixture(client, w) {
      const term = await parkedTerm(client, `park/${w}`, `w${w}`);
      let p = term.invocation();
      return {
        before: async () => {
          p = await term.resume();
        },
        run: () => p.park(),
        dispose: term.end,
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
        before: () => claimAs(p, "leader", `${client.id} claims a free lease`),
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
          await claimAs(p, "leader", `${client.id} claims a free lease`);
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
