/**
 * The gateway's own extension, outside SPEC v2 and versioned by its path (see docs/zookeeper.md):
 *
 * - `GET /leasehold/v1` → 200 `{"extensions":["multi"]}`: lets clients detect the extension.
 * - `POST /leasehold/v1/multi[?session=<id>]` with `{"ops":[...]}` → ONE ZooKeeper multi (all or nothing)
 *   on that REST session's ZooKeeper session (401 when there is none) or the gateway's own. Ops:
 *   `{"op":"check","path","version"?}`, `{"op":"create","path","data64"?,"ephemeral"?}`,
 *   `{"op":"set","path","data64"?,"version"?}`, `{"op":"delete","path","version"?}`; versions are
 *   ZooKeeper's (default -1 = any), absent `data64` stores no data. 200 → `{"results":[...]}` with one
 *   entry per op (`create` gives the path, `set` the stat); when ZooKeeper refuses an op, the status is the
 *   one SPEC v2 gives that error (404 NONODE, 409 NODEEXISTS/NOTEMPTY, 412 BADVERSION, ...) and the body
 *   is `{"request","message","index","code"}` naming the op.
 */
import * as z from "zod/mini";
import { type Exchange, keeperAnswer, param } from "./exchange.ts";
import { contentTypeIs, HttpError, JSON_TYPE, readBody, send } from "./http.ts";
import { jsonObject, statJson } from "./render.ts";
import type { SessionRegistry } from "./session-registry.ts";
import type { SharedSession } from "./shared-session.ts";
import { MultiError, type MultiOp, type MultiResult } from "./zk.ts";

/** Most ops in one multi. */
const MAX_MULTI_OPS = 512;

const path = z.string().check(z.minLength(1));
const version = z.optional(z.int().check(z.gte(-1), z.lte(2147483647)));
const data64 = z.optional(
  z.nullable(z.string().check(z.regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/))),
);

const multiBody = z.object({
  ops: z
    .array(
      z.discriminatedUnion("op", [
        z.object({ op: z.literal("check"), path, version }),
        z.object({ op: z.literal("create"), path, data64, ephemeral: z.optional(z.boolean()) }),
        z.object({ op: z.literal("set"), path, data64, version }),
        z.object({ op: z.literal("delete"), path, version }),
      ]),
    )
    .check(z.minLength(1), z.maxLength(MAX_MULTI_OPS)),
});

export interface MultiDeps {
  sessions: SessionRegistry;
  shared: SharedSession;
  maxBodyBytes: number;
}

const bytes = (text: string | null | undefined): Buffer | null =>
  text === undefined || text === null ? null : Buffer.from(text, "base64");

function toOps(body: z.infer<typeof multiBody>): MultiOp[] {
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

/** Handles `/leasehold/v1` (`rest` "") and `/leasehold/v1/multi` (`rest` "/multi"). */
export async function handleExtension(ex: Exchange, rest: string, deps: MultiDeps): Promise<void> {
  const method = ex.req.method ?? "GET";
  if (rest === "" || rest === "/") {
    if (method !== "GET" && method !== "HEAD") throw new HttpError(405, undefined, { allow: "GET,HEAD" });
    send(ex.req, ex.res, 200, { "content-type": JSON_TYPE }, '{"extensions":["multi"]}');
    return;
  }
  if (rest !== "/multi") throw new HttpError(404);
  if (method !== "POST") throw new HttpError(405, undefined, { allow: "POST" });
  if (!contentTypeIs(ex.req, JSON_TYPE)) throw new HttpError(415);
  const raw = await readBody(ex.req, deps.maxBodyBytes);
  let json: unknown;
  try {
    json = JSON.parse(raw.toString("utf8"));
  } catch {
    throw new HttpError(400, "the body is not JSON");
  }
  const parsed = multiBody.safeParse(json);
  if (!parsed.success) {
    throw new HttpError(400, `the body is not a multi request: ${z.prettifyError(parsed.error)}`);
  }
  const session = param(ex, "session", "");
  const ops = toOps(parsed.data);
  let results: MultiResult[];
  try {
    results =
      session === ""
        ? await (await deps.shared.get()).multi(ops)
        : await deps.sessions.use(session, (zk) => zk.multi(ops));
  } catch (error) {
    if (!(error instanceof MultiError)) throw error;
    const answer = keeperAnswer(error.cause);
    const body = jsonObject([
      ["request", ex.requestUri],
      ["message", answer.entityMessage],
      ["index", error.index],
      ["code", error.cause.code],
    ]);
    send(ex.req, ex.res, answer.status, { "content-type": JSON_TYPE }, body);
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
