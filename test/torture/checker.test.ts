/**
 * The torture checker on hand-made logs and histories: a clean history passes, and each class of violation
 * it must catch is caught (so that a green torture run means something).
 */
import { describe, expect, test } from "vitest";
import { check, windowsOf } from "../../scripts/torture/checker.ts";
import type { WorkerEvent } from "../../scripts/torture/events.ts";
import type { StoredWrite, StoreHistory, StoreTerm } from "../../scripts/torture/store-history.ts";

const BIG = "9007199254740993"; // 2^53 + 1: tokens must stay exact

type Body = Record<string, unknown> & { ev: string; h: string };
let clock = 0;
const ev = (t: number, body: Body): WorkerEvent =>
  ({ t, w: body.h.split("#")[0], pid: 1, ...body }) as WorkerEvent;
const claim = (t: number, h: string, token: string, validUntil: number, extra: Partial<Body> = {}) =>
  ev(t, {
    ev: "claim",
    h,
    sentAt: t - 5,
    isLeader: true,
    busy: false,
    holder: h.split("#")[0],
    token,
    leaseId: `L${token}`,
    validUntil,
    hold: `${token}0`,
    ...extra,
  });
const term = (token: string, holder: string): StoreTerm => ({
  token: BigInt(token),
  holder,
  leaseId: `L${token}`,
  from: BigInt(token),
});
const stored = (key: string, token: string, extra: Partial<StoredWrite> = {}): StoredWrite => ({
  key,
  at: BigInt(token) + 1n,
  commits: 1,
  token,
  hold: `${token}0`,
  problem: null,
  ...extra,
});
const history = (terms: StoreTerm[], writes: StoredWrite[] = []): StoreHistory => ({
  terms,
  writes,
  head: 100n,
  dump: "",
});

/** Two terms handed over cleanly, one acknowledged write in each. */
function clean(): { events: WorkerEvent[]; store: StoreHistory } {
  clock = 1000;
  const events = [
    claim(clock, "a#1", "5", clock + 2900),
    ev(clock + 10, { ev: "write-sent", h: "a#1", key: "w/a-1", token: "5", hold: "50" }),
    ev(clock + 20, { ev: "write", h: "a#1", key: "w/a-1", applied: true }),
    ev(clock + 30, { ev: "release-sent", h: "a#1" }),
    claim(clock + 40, "b#1", BIG, clock + 3000),
    ev(clock + 50, { ev: "write-sent", h: "b#1", key: "w/b-1", token: BIG, hold: `${BIG}0` }),
    ev(clock + 60, { ev: "write", h: "b#1", key: "w/b-1", applied: true }),
  ];
  return {
    events,
    store: history([term("5", "a"), term(BIG, "b")], [stored("w/a-1", "5"), stored("w/b-1", BIG)]),
  };
}

describe("torture checker", () => {
  test("a clean history passes, with its counts and the hand-over gap", () => {
    const { events, store } = clean();
    const v = check(events, store);
    expect(v.violations).toEqual([]);
    expect(v).toMatchObject({
      terms: 2,
      storeTerms: 2,
      writesAcked: 2,
      storedWrites: 2,
      minHandoverGapMs: 10,
    });
    expect(windowsOf(events).map((w) => [w.token, w.end])).toEqual([
      [5n, 1030],
      [BigInt(BIG), 4000],
    ]);
  });

  test("overlapping windows of different terms", () => {
    const { events, store } = clean();
    events.splice(3, 1); // no release: a's window runs to its validUntil, past b's start
    expect(check(events, store).violations).toEqual([
      expect.stringMatching(/^overlap: a#1 led term 5 until 3900/),
    ]);
  });

  test("a worker stopped before it could log its answer: an empty window, not an overlap", () => {
    const { events, store } = clean();
    // Told term 5 (valid until 3900), stopped, and logged only at 5000, after term b began at 1040.
    events.splice(0, 1, claim(5000, "a#1", "5", 3900));
    events.splice(3, 1);
    const v = check(events, store);
    expect(v.violations).toEqual([]);
    expect(v.terms).toBe(1);
  });

  test("a claim sent before the previous term ended and granted after it: counted, not a violation", () => {
    const { events, store } = clean();
    events.splice(4, 1, claim(1040, "b#1", BIG, 4000, { sentAt: 1000 }));
    const v = check(events, store);
    expect(v.violations).toEqual([]);
    expect(v.sentOverlaps).toBe(1);
    expect(check(clean().events, clean().store).sentOverlaps).toBe(0);
  });

  test("two handles leading one term at once", () => {
    const { events, store } = clean();
    events.push(claim(1100, "b#2", BIG, 3000));
    expect(check(events, store).violations).toEqual([expect.stringMatching(/^overlap: b#1 .* b#2 led term/)]);
  });

  test("tokens that go down, in the workers' order and in the store's", () => {
    const { events } = clean();
    const swapped = events.map((e) =>
      "token" in e && e.token === "5" ? { ...e, token: "99999999999999999" } : e,
    ) as WorkerEvent[];
    const store = history(
      [term("99999999999999999", "a"), term(BIG, "b")],
      [stored("w/a-1", "99999999999999999", { hold: "50" }), stored("w/b-1", BIG)],
    );
    const problems = check(swapped, store).violations;
    expect(problems).toContainEqual(expect.stringMatching(/^tokens: term 9007199254740993 began/));
    expect(problems).toContainEqual(expect.stringMatching(/^store tokens: term 9007199254740993 followed/));
  });

  test("a term the store never had, or had for another holder or lease", () => {
    const { events } = clean();
    const store = history([term("5", "a"), { ...term(BIG, "b"), leaseId: "other" }], clean().store.writes);
    expect(check(events, store).violations).toEqual([
      expect.stringMatching(/^unknown term: b#1 was told term 9007199254740993/),
    ]);
    expect(check(events, history([term(BIG, "b")], clean().store.writes)).violations).toContainEqual(
      expect.stringMatching(/^unknown term: a#1 .* no such term/),
    );
    const follower = claim(1100, "c#1", BIG, 0, { isLeader: false, validUntil: null, holder: "c" });
    expect(check([...clean().events, follower], clean().store).violations).toEqual([
      expect.stringMatching(/^unknown term: c#1 was told c leads term 9007199254740993 .* the store had b/),
    ]);
  });

  test("a write committed outside its term, twice, or never sent", () => {
    const { events } = clean();
    const store = history(clean().store.terms, [
      stored("w/a-1", "5", { problem: "the term was parked" }),
      stored("w/b-1", BIG, { commits: 2 }),
      stored("w/ghost", "5"),
    ]);
    expect(check(events, store).violations).toEqual([
      expect.stringMatching(/^write w\/a-1 at 6 .*: the term was parked/),
      "write w/b-1 committed 2 times",
      "write w/ghost in the store was never sent",
    ]);
  });

  test("an acknowledged write lost, a refused one committed", () => {
    const { events, store } = clean();
    events.push(
      ev(1200, { ev: "write-sent", h: "b#1", key: "w/b-2", token: BIG, hold: `${BIG}0` }),
      ev(1210, { ev: "write", h: "b#1", key: "w/b-2", applied: false, reason: "not-leader" }),
    );
    const withRefused = history(store.terms, [...store.writes, stored("w/b-2", BIG)]);
    expect(check(events, withRefused).violations).toEqual([
      "write w/b-2 was refused (not-leader) but committed",
    ]);
    expect(check(events, history(store.terms, [store.writes[1] as StoredWrite])).violations).toEqual([
      "acknowledged write w/a-1 is not in the store",
    ]);
  });

  test("an untyped error, while typed ones are only counted", () => {
    const { events, store } = clean();
    const error = { ev: "error", h: "a#2", op: "claim", retryable: true, message: "boom" };
    events.push(
      ev(1300, { ...error, typed: true, code: "TIMEOUT" }),
      ev(1301, { ...error, typed: false, code: "TypeError" }),
    );
    const v = check(events, store);
    expect(v.violations).toEqual(["untyped error from a#2 (claim): TypeError boom"]);
    expect(v.errors).toEqual({ "claim:TIMEOUT": 1, "claim:TypeError": 1 });
  });
});
