/**
 * Property-based wire fuzzing: every operation of the recorded exchanges (test/fixtures, recorded from real
 * etcd and leasehold-zk-gateway by scripts/record-fixtures.ts) replayed with one answer mutated, on both
 * backends, in process and over loopback HTTP through fetchTransport and undiciTransport. The invariants are in
 * invariants.ts. Runs: LEASEHOLD_FUZZ_RUNS (in-process cases per backend; a 25th of it per backend and
 * transport over HTTP), seed: LEASEHOLD_FUZZ_SEED (fast-check prints the seed and path of a failure).
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { undiciTransport } from "../../adapters/node/index.ts";
import { type Backend, deadlineSignal, fetchTransport } from "../../src/backend-kit.ts";
import { backendFor, loadFixture } from "./edit.ts";
import { secretsOf, violation } from "./invariants.ts";
import { answerMutation, type Mutation, wireMutation } from "./mutations.ts";
import { Replay, ReplayServer, replayTransport } from "./replay.ts";
import { type Fixture, fromJsonValue, invoke, type Step } from "./steps.ts";

const RUNS = Number(process.env.LEASEHOLD_FUZZ_RUNS ?? 8000);
const HTTP_RUNS = Math.max(1, Math.round(RUNS / 25));
const SEED = Number(process.env.LEASEHOLD_FUZZ_SEED ?? 20_261_201);
/** Count violations by kind instead of failing at the first one (to survey a build, e.g. an older commit). */
const SURVEY = process.env.LEASEHOLD_FUZZ_SURVEY === "1";
const HTTP_TIMEOUT_MS = 300;
const LOCAL_TIMEOUT_MS = 2000;

const fixtures = [loadFixture("etcd"), loadFixture("zookeeper")];

const tally = new Map<string, number>();
const count = (key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);

async function runCase(
  fixture: Fixture,
  step: Step,
  replay: Replay,
  makeBackend: () => Backend,
  timeoutMs: number,
  mutation: Mutation | null,
): Promise<string | null> {
  const backend = makeBackend();
  const input = fromJsonValue(step.input);
  const started = Date.now();
  let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
  try {
    const value = await invoke(backend, step.op, input, { signal: deadlineSignal(timeoutMs), timeoutMs });
    outcome = { ok: true, value };
  } catch (error) {
    outcome = { ok: false, error };
  }
  const elapsedMs = Date.now() - started;
  await backend.close?.();
  count(`${fixture.backend} ${mutation?.kind ?? "intact"} ${outcome.ok ? "result" : "error"}`);
  const problem = violation({
    op: step.op,
    input,
    baseline: step.outcome,
    outcome,
    mutation,
    consumed: replay.consumed,
    elapsedMs,
    timeoutMs,
    secrets: secretsOf(fixture),
  });
  if (problem && SURVEY) {
    count(`VIOLATION ${fixture.backend} ${step.id} ${mutation?.kind ?? "intact"}: ${problem.slice(0, 60)}`);
    return null;
  }
  return problem;
}

/** A backend of `fixture`'s kind that gets its answers from `replay`, in this process (no socket). */
const inProcess = (fixture: Fixture, replay: Replay) =>
  backendFor(
    fixture,
    "http://127.0.0.1:1",
    replayTransport(() => replay),
  );

const caseArb = (steps: number, mutation: fc.Arbitrary<Mutation>) =>
  fc.record({ step: fc.nat({ max: steps - 1 }), target: fc.nat({ max: 100 }), mutation });

afterAll(() => {
  const total = [...tally.values()].reduce((a, b) => a + b, 0);
  const lines = [...tally.entries()].sort().map(([k, n]) => `  ${k}: ${n}`);
  console.log(`wire fuzz: ${total} cases (seed ${SEED})\n${lines.join("\n")}`);
});

describe.each(fixtures)("wire fuzz: $backend", (fixture) => {
  it("replays every recorded step intact to its recorded outcome", async () => {
    for (const step of fixture.steps) {
      const replay = new Replay(step, 0, null);
      const problem = await runCase(
        fixture,
        step,
        replay,
        () => inProcess(fixture, replay),
        LOCAL_TIMEOUT_MS,
        null,
      );
      expect(problem, step.id).toBeNull();
    }
  });

  it(
    "holds the invariants with one answer mutated (in process)",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          caseArb(fixture.steps.length, answerMutation),
          async ({ step, target, mutation }) => {
            const s = fixture.steps[step] as Step;
            const replay = new Replay(s, target, mutation);
            const problem = await runCase(
              fixture,
              s,
              replay,
              () => inProcess(fixture, replay),
              LOCAL_TIMEOUT_MS,
              mutation,
            );
            expect(problem, `${s.id}: ${JSON.stringify(mutation)}`).toBeNull();
          },
        ),
        { numRuns: RUNS, seed: SEED },
      );
    },
    60_000 + RUNS * 2,
  );

  describe.each([
    { name: "fetchTransport", make: () => fetchTransport() },
    { name: "undiciTransport", make: () => undiciTransport() },
  ])("over loopback HTTP with $name", ({ make }) => {
    const server = new ReplayServer();
    beforeAll(() => server.listen());
    afterAll(() => server.close());

    it(
      "holds the invariants with one answer or its connection mutated, and follows no redirect",
      async () => {
        const mutation = fc.oneof(
          { weight: 3, arbitrary: answerMutation },
          { weight: 1, arbitrary: wireMutation },
        );
        await fc.assert(
          fc.asyncProperty(caseArb(fixture.steps.length, mutation), async ({ step, target, mutation }) => {
            const s = fixture.steps[step] as Step;
            const replay = new Replay(s, target, mutation);
            server.replay = replay;
            const problem = await runCase(
              fixture,
              s,
              replay,
              () => backendFor(fixture, server.url, make()),
              HTTP_TIMEOUT_MS,
              mutation,
            );
            expect(problem, `${s.id}: ${JSON.stringify(mutation)}`).toBeNull();
            if (SURVEY && server.trapHits > 0) {
              count(`VIOLATION ${fixture.backend} ${s.id} redirect: followed to another origin`);
              server.trapHits = 0;
            }
            expect(server.trapHits, "requests sent to a redirect's target").toBe(0);
          }),
          { numRuns: HTTP_RUNS, seed: SEED },
        );
      },
      60_000 + HTTP_RUNS * 300,
    );
  });
});
