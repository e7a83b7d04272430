/**
 * The server's side of the `/leasehold/v1` extension, outside SPEC v2 (its wire contract, requests and
 * answers, is `leasehold/zookeeper/extension`): `GET /leasehold/v1` names the extensions, and
 * `POST /leasehold/v1/multi[?session=<id>]` runs ONE ZooKeeper multi on that REST session's ZooKeeper
 * session, or on the server's own without `?session=`; `GET /leasehold/v1/watch` goes to watch-route.ts. Versions are ZooKeeper's (absent = -1, any); absent
 * `data64` stores no data.
 */
import {
  EXTENSION_PATH,
  type ExtensionInfo,
  MULTI,
  MULTI_PATH,
  type MultiFailure,
  type MultiRequest,
  type MultiResult,
  multiRequest,
  WATCH,
  WATCH_PATH,
} from "leasehold/zookeeper/extension";
import * as z from "zod/mini";
import { type Exchange, keeperAnswer, param } from "./exchange.ts";
import { contentTypeIs, HttpError, JSON_TYPE, readBody, send } from "./http.ts";
import { jsonObject, statJson } from "./render.ts";
import type { SessionRegistry } from "./session-registry.ts";
import type { SharedSession } from "./shared-session.ts";
import { handleWatch } from "./watch-route.ts";
import { MultiError, type MultiOp } from "./zk.ts";
import type { ZnodeWatches } from "./znode-watch.ts";

export interface MultiDeps {
  sessions: SessionRegistry;
  shared: SharedSession;
  watches: ZnodeWatches;
  maxBodyBytes: number;
}

const bytes = (text: string | null | undefined): Buffer | null =>
  text === undefined || text === null ? null : Buffer.from(text, "base64");

function toOps(body: MultiRequest): MultiOp[] {
  return body.ops.map((op): MultiOp => {
    switch (op.op) {
      case "check":
        return { op: "check", path: op.path, version: op.version ?? -1 };
      case "create":
        return { op: "create", path: op.path, data: bytes(op.data64), ephemeral: op.ephemeral ?? false };
      case "set":
        return { op: "set", path: op.path, data: bytes(op.data64), version: op.version ?? -1 };
      default:
        return { op: "delete", path: op.path, version: op.version ?? -1 };
    }
  });
}

/** SPEC v2's ZError fields in its way (render.ts), then the op's. */
function failureJson(failure: MultiFailure): string {
  return jsonObject([
    ["request", failure.request],
    ["message", failure.message],
    ["index", failure.index],
    ["code", failure.code],
  ]);
}

function resultJson(result: MultiResult): string {
  switch (result.op) {
    case "create":
      return jsonObject([
        ["op", "create"],
        ["path", result.path],
      ]);
    case "set":
      return `{"op":"set","stat":${statJson(result.stat)}}`;
    default:
      return jsonObject([["op", result.op]]);
  }
}

/** Handles `path` (decoded), one under `/leasehold/v1`. */
export async function handleExtension(ex: Exchange, path: string, deps: MultiDeps): Promise<void> {
  const method = ex.req.method ?? "GET";
  if (path === EXTENSION_PATH || path === `${EXTENSION_PATH}/`) {
    if (method !== "GET" && method !== "HEAD") throw new HttpError(405, undefined, { allow: "GET,HEAD" });
    const info: ExtensionInfo = { extensions: [MULTI, WATCH] };
    send(ex.req, ex.res, 200, { "content-type": JSON_TYPE }, JSON.stringify(info));
    return;
  }
  if (path === WATCH_PATH) return handleWatch(ex, deps.watches);
  if (path !== MULTI_PATH) throw new HttpError(404);
  if (method !== "POST") throw new HttpError(405, undefined, { allow: "POST" });
  if (!contentTypeIs(ex.req, JSON_TYPE)) throw new HttpError(415);
  const raw = await readBody(ex.req, deps.maxBodyBytes);
  let json: unknown;
  try {
    json = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new HttpError(400, "the body is not JSON");
  }
  const parsed = multiRequest.safeParse(json);
  if (!parsed.success) {
    throw new HttpError(400, `the body is not a multi request: ${z.prettifyError(parsed.error)}`);
  }
  const restSessionId = param(ex, "session", "");
  const ops = toOps(parsed.data);
  let results: MultiResult[];
  try {
    results =
      restSessionId === ""
        ? await (await deps.shared.get()).multi(ops)
        : await deps.sessions.use(restSessionId, (zk) => zk.multi(ops));
  } catch (error) {
    if (!(error instanceof MultiError)) throw error;
    const answer = keeperAnswer(error.cause);
    const failure: MultiFailure = {
      request: ex.requestUri,
      message: answer.entityMessage,
      index: error.index,
      code: error.cause.code,
    };
    send(ex.req, ex.res, answer.status, { "content-type": JSON_TYPE }, failureJson(failure));
    return;
  }
  send(
    ex.req,
    ex.res,
    200,
    { "content-type": JSON_TYPE },
    `{"results":[${results.map(resultJson).join(",")}]}`,
  );
}
