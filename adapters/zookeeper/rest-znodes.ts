/**
 * The `/znodes/v1` resource of SPEC v2: the requests for one znode (read, create, set, delete, plain or versioned
 * on a REST session), and what their answers say.
 */
import type { CallContext, HttpRequest, HttpResponse } from "../../src/backend-kit.ts";
import { splitPath, znodeUrl } from "./paths.ts";
import { type Conflict, conflictOf, gatewayFailure, throwFailure } from "./rest-answers.ts";
import { OCTET_TYPE, type RestHttp } from "./rest-http.ts";
import { checkStat, parseWire, type StatEntity, statEntity } from "./wire.ts";

/**
 * Room for a key's znode in an answer, in bytes: its data (ZooKeeper's jute.maxbuffer, 1 MiB by default) in
 * base64, or as escaped UTF-8 text. Lease answers keep the transport's default cap.
 */
const ZNODE_ANSWER_BYTES = 8 * 1_048_576;

/** `GET /znodes/v1/<path>` as JSON (data in base64); `key`: a transaction key's znode, whose data may be large. */
export function getRequest(http: RestHttp, path: string, ctx: CallContext, key = false): HttpRequest {
  return http.request("GET", znodeUrl(http.base, path), ctx, undefined, key ? ZNODE_ANSWER_BYTES : undefined);
}

/** The znode of a get's answer, or null when it does not exist. */
export function readNode(res: HttpResponse, path: string): StatEntity | null {
  if (res.status === 404) return null;
  if (res.status !== 200) throw gatewayFailure(res, `get ${path}`);
  return checkStat(parseWire(statEntity, res.body, `get ${path}`), path, `get ${path}`);
}

/** Whether a `HEAD /znodes/v1/<path>` found the znode. */
export function existsOutcome(res: HttpResponse, path: string): boolean {
  if (res.status === 200 || res.status === 204) return true;
  if (res.status === 404) return false;
  throw gatewayFailure(res, `exists ${path}`);
}

/** `POST /znodes/v1/<parent>?op=create&name=<name>`; `data: null` stores no data (`null=true`). */
export function createRequest(
  http: RestHttp,
  path: string,
  data: Uint8Array | null,
  options: { ephemeral: boolean; restSessionId?: string },
  ctx: CallContext,
): HttpRequest {
  const [parent, name] = splitPath(path);
  const query = new URLSearchParams({ op: "create", name });
  if (options.ephemeral) query.set("ephemeral", "true");
  if (options.restSessionId !== undefined) query.set("session", options.restSessionId);
  if (data === null) query.set("null", "true");
  return http.request("POST", `${znodeUrl(http.base, parent)}?${query}`, ctx, {
    type: OCTET_TYPE,
    data: data ?? new Uint8Array(0),
  });
}

/** `PUT /znodes/v1/<path>` of any version: false when the znode does not exist. */
export function setOutcome(res: HttpResponse, path: string): boolean {
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw gatewayFailure(res, `set ${path}`);
}

/** `/znodes/v1/<path>?version=<v>&session=<id>`: a write only at data version `v`, on that session. */
export function versionedUrl(http: RestHttp, path: string, version: number, restSessionId: string): string {
  const query = new URLSearchParams({ version: String(version), session: restSessionId });
  return `${znodeUrl(http.base, path)}?${query}`;
}

/** A versioned `PUT` of `data`. */
export function versionedSetRequest(
  http: RestHttp,
  path: string,
  data: Uint8Array,
  version: number,
  restSessionId: string,
  ctx: CallContext,
): HttpRequest {
  return http.request("PUT", versionedUrl(http, path, version, restSessionId), ctx, {
    type: OCTET_TYPE,
    data,
  });
}

/** The znode's new stat (without data) after a versioned set, or why it did not apply. */
export function versionedSetOutcome(res: HttpResponse, path: string): StatEntity | Conflict {
  if (res.status === 200) {
    return checkStat(parseWire(statEntity, res.body, `set ${path}`), path, `set ${path}`);
  }
  return conflictOf(res) ?? throwFailure(res, `set ${path}`);
}

/** "deleted" after a versioned `DELETE`, or why it did not apply. */
export function versionedDeleteOutcome(res: HttpResponse, path: string): "deleted" | Conflict {
  if (res.status === 204 || res.status === 200) return "deleted";
  return conflictOf(res) ?? throwFailure(res, `delete ${path}`);
}

/** `DELETE /znodes/v1/<path>` of any version: false when the znode did not exist. */
export function deleteOutcome(res: HttpResponse, path: string): boolean {
  if (res.status === 204 || res.status === 200) return true;
  if (res.status === 404) return false;
  throw gatewayFailure(res, `delete ${path}`);
}
