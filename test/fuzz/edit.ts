/**
 * Replays a recorded step (test/fixtures) with its answers edited by hand: the unit tests of each class of
 * hostile answer start from what real etcd and leasehold-zk-gateway sent, changed in one place.
 */
import { readFileSync } from "node:fs";
import { etcd } from "../../adapters/etcd/index.ts";
import { zookeeper } from "../../adapters/zookeeper/index.ts";
import { type Backend, deadlineSignal, type Transport } from "../../src/backend-kit.ts";
import { Replay, replayTransport } from "./replay.ts";
import { type Exchange, type Fixture, fromJsonValue, invoke, type Step } from "./steps.ts";

export function loadFixture(kind: "etcd" | "zookeeper"): Fixture {
  const url = new URL(`../fixtures/${kind}-exchanges.json`, import.meta.url);
  return JSON.parse(readFileSync(url, "utf8")) as Fixture;
}

export function backendFor(fixture: Fixture, url: string, transport: Transport): Backend {
  const auth = { username: fixture.username, password: fixture.password };
  return fixture.backend === "etcd"
    ? etcd({ endpoints: [url], prefix: "fuzz/leases/", auth, transport })
    : zookeeper({ url, prefix: "/fuzz/leases", auth, extensions: "leasehold-v1", transport });
}

/** The recorded exchanges of step `id` whose path starts with `path`, in order. */
export const exchanges = (step: Step, path: string): Exchange[] =>
  step.exchanges.filter((e) => e.path.startsWith(path));

/**
 * Runs step `id` of `fixture` on a fresh backend against its recorded answers after `edit` changed them.
 * Resolves with the backend method's result; rejects with its error.
 */
export async function replayEdited(
  fixture: Fixture,
  id: string,
  edit: (step: Step) => void,
  transport?: (replay: Replay) => Transport,
): Promise<unknown> {
  const recorded = fixture.steps.find((s) => s.id === id);
  if (!recorded) throw new Error(`no step ${id}`);
  const step = structuredClone(recorded);
  edit(step);
  const replay = new Replay(step, 0, null);
  const backend = backendFor(
    fixture,
    "http://127.0.0.1:1",
    transport ? transport(replay) : replayTransport(() => replay),
  );
  try {
    return await invoke(backend, step.op, fromJsonValue(step.input), {
      signal: deadlineSignal(5000),
      timeoutMs: 5000,
    });
  } finally {
    await backend.close?.();
  }
}

/** A parsed answer, edited freely by tests (any shape a hostile server could send). */
// biome-ignore lint/suspicious/noExplicitAny: the edits reach into arbitrary JSON.
export type JsonBody = Record<string, any>;

/** Edits an answer's JSON (etcd's: its int64s are strings, so JSON.parse keeps them exact). */
export function editJson(ex: Exchange | undefined, f: (body: JsonBody) => void): void {
  if (!ex) throw new Error("no such exchange");
  const body = JSON.parse(ex.body) as JsonBody;
  f(body);
  ex.body = JSON.stringify(body);
}

/** Replaces text in an answer (ZooKeeper's: its longs are bare numbers that JSON.parse would round). */
export function editText(ex: Exchange | undefined, from: string | RegExp, to: string): void {
  if (!ex) throw new Error("no such exchange");
  const body = ex.body.replace(from, to);
  if (body === ex.body) throw new Error(`${String(from)} not in ${ex.body.slice(0, 200)}`);
  ex.body = body;
}
