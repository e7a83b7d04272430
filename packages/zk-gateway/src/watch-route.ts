/**
 * `GET /leasehold/v1/watch?path=<znode>[&after=<cursor>][&waitMs=<ms>]`: a long poll of one znode (the
 * contract is `leasehold/zookeeper/extension`; the watching is znode-watch.ts). The answer's 64-bit fields are
 * written exactly, as in STAT.
 */
import {
  DEFAULT_WATCH_WAIT_MS,
  MAX_WATCH_WAIT_MS,
  WATCH_CURSOR,
  type WatchAnswer,
  type WatchedState,
} from "leasehold/zookeeper/extension";
import { type Exchange, param } from "./exchange.ts";
import { HttpError, JSON_TYPE, send } from "./http.ts";
import { statJson } from "./render.ts";
import type { ZnodeWatches } from "./znode-watch.ts";

const WAIT = /^\d{1,6}$/;

function stateJson(state: WatchedState): string {
  const node = state.node;
  const data =
    node?.data64 === undefined || node.data64 === null ? [] : [["data64", { base64: node.data64 }] as const];
  return `{"zxid":${state.zxid},"node":${node === null ? "null" : statJson(node, data)}}`;
}

function answerJson(answer: WatchAnswer): string {
  return `{"cursor":${JSON.stringify(answer.cursor)},"changes":[${answer.changes.map(stateJson).join(",")}]}`;
}

export async function handleWatch(ex: Exchange, watches: ZnodeWatches): Promise<void> {
  const method = ex.req.method ?? "GET";
  if (method !== "GET") throw new HttpError(405, undefined, { allow: "GET" });
  const path = param(ex, "path", "");
  if (!path.startsWith("/") || (path.length > 1 && path.endsWith("/"))) {
    throw new HttpError(400, "path must be an absolute znode path");
  }
  const after = ex.url.searchParams.get("after");
  if (after !== null && !WATCH_CURSOR.test(after)) throw new HttpError(400, "after is not a watch cursor");
  const wait = param(ex, "waitMs", String(DEFAULT_WATCH_WAIT_MS));
  const waitMs = WAIT.test(wait) ? Number(wait) : Number.NaN;
  if (!(waitMs <= MAX_WATCH_WAIT_MS)) {
    throw new HttpError(400, `waitMs must be a whole number of ms up to ${MAX_WATCH_WAIT_MS}`);
  }
  const gone = new AbortController();
  ex.res.once("close", () => gone.abort());
  const answer = await watches.poll(path, after, waitMs, gone.signal);
  send(ex.req, ex.res, 200, { "content-type": JSON_TYPE }, answerJson(answer));
}
