/**
 * The ZooKeeper backend's watch (adapters/zookeeper/observe.ts) on a scripted REST client: the long polls it
 * sends (from the cursor of the last answer, again from the same one after a broken connection), the terms it
 * yields, and when it gives up so that observe() polls.
 */
import { describe, expect, it } from "vitest";
import type { WatchAnswer, WatchedState } from "../../../adapters/zookeeper/extension.ts";
import { LeaderZnodes } from "../../../adapters/zookeeper/leader-znode.ts";
import { watchLeader } from "../../../adapters/zookeeper/observe.ts";
import { encodeLeaderRecord } from "../../../adapters/zookeeper/record.ts";
import type { RestClient } from "../../../adapters/zookeeper/rest.ts";
import {
  encodeBase64,
  HttpStatusError,
  MalformedResponseError,
  TransportError,
} from "../../../src/backend-kit.ts";
import { BIG, OWNER, stat, TOKEN } from "./txn-fixtures.ts";

const ROOT = "/leasehold";
const PATH = `${ROOT}/jobs`;
const free = (zxid: bigint): WatchedState => ({ zxid, node: null });
const held = (holder: string): WatchedState => {
  const data = encodeLeaderRecord({ holder, ttlMs: 5000, restSessionId: "s1", state: "busy", run: "1" });
  const { path: _, uri: __, dataUtf8: ___, ...node } = stat(PATH, { czxid: TOKEN, owner: OWNER });
  return { zxid: TOKEN, node: { ...node, data64: encodeBase64(data) } };
};

/** Answers the watch polls in turn (an Error is thrown); records each poll's `after`. */
function scripted(
  answers: (WatchAnswer | Error | ((stop: () => void) => WatchAnswer))[],
  stop: AbortController,
) {
  const afters: (string | null)[] = [];
  const rest: Pick<RestClient, "watch" | "secrets"> = {
    secrets: () => [],
    async watch(path, after) {
      expect(path).toBe(PATH);
      afters.push(after);
      const next = answers.shift();
      if (next === undefined) throw new Error("no more scripted answers");
      if (next instanceof Error) throw next;
      return typeof next === "function" ? next(() => stop.abort()) : next;
    },
  };
  return { rest, afters };
}

async function collect(rest: Pick<RestClient, "watch" | "secrets">, stop: AbortController) {
  const znodes = new LeaderZnodes(rest as RestClient, ROOT);
  const options = { signal: stop.signal, requestTimeoutMs: 1000, checkIntervalMs: 30_000 };
  const seen: [string | null, bigint][] = [];
  for await (const term of watchLeader(rest, znodes, "jobs", options)) {
    seen.push([term.leader?.holder ?? null, term.revision]);
  }
  return seen;
}

describe("ZooKeeper watch (long polls of /leasehold/v1/watch)", () => {
  it("starts from the znode now, then polls after each cursor, sending the same one again after a broken connection", async () => {
    const stop = new AbortController();
    const { rest, afters } = scripted(
      [
        { cursor: "e.1", changes: [free(BIG)] },
        new TransportError("connection reset"),
        { cursor: "e.3", changes: [held("a"), free(TOKEN + 1n)] },
        (end) => {
          end();
          return { cursor: "e.3", changes: [] };
        },
      ],
      stop,
    );
    expect(await collect(rest, stop)).toEqual([
      [null, BIG],
      ["a", TOKEN],
      [null, TOKEN + 1n],
    ]);
    expect(afters).toEqual([null, "e.1", "e.1", "e.3"]);
  });

  it("gives up after three broken polls in a row, and at once on the gateway's 410", async () => {
    const reset = () => new TransportError("connection reset");
    const stop = new AbortController();
    const broken = scripted([{ cursor: "e.1", changes: [free(BIG)] }, reset(), reset(), reset()], stop);
    await expect(collect(broken.rest, stop)).rejects.toThrow(TransportError);
    expect(broken.afters).toEqual([null, "e.1", "e.1", "e.1"]);
    const gone = scripted([{ cursor: "e.1", changes: [free(BIG)] }, new HttpStatusError(410, "gone")], stop);
    await expect(collect(gone.rest, stop)).rejects.toThrow(HttpStatusError);
    expect(gone.afters).toEqual([null, "e.1"]);
  });

  it("refuses answers that cannot be a watch of the znode: a zxid going back, a start that is not one state", async () => {
    const stop = new AbortController();
    const back = scripted([{ cursor: "e.2", changes: [held("a"), free(TOKEN - 1n)] }], stop);
    await expect(collect(back.rest, stop)).rejects.toThrow(MalformedResponseError);
    const empty = scripted([{ cursor: "e.1", changes: [] }], stop);
    await expect(collect(empty.rest, stop)).rejects.toThrow(MalformedResponseError);
  });
});
