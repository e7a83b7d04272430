/**
 * `/znodes/v1/<path>` (SPEC v2): GET = get data or children, HEAD = exists, PUT = set, POST = create,
 * DELETE = delete, with the Java gateway's content negotiation, parameters and status codes.
 * `?session=<id>` runs the call on that REST session's ZooKeeper session (401 when there is none), attaching
 * it first when another gateway instance (or this one before a restart) held it.
 */
import { type Exchange, param, versionParam } from "./exchange.ts";
import {
  contentTypeIs,
  HttpError,
  JAVASCRIPT_TYPE,
  JSON_TYPE,
  negotiate,
  OCTET_TYPE,
  readBody,
  send,
} from "./http.ts";
import { childrenEntity, pathEntity, statEntity } from "./render.ts";
import type { SessionRegistry } from "./session-registry.ts";
import type { SharedSession } from "./shared-session.ts";
import type { ZkSession } from "./zk.ts";

export interface ZnodeDeps {
  sessions: SessionRegistry;
  shared: SharedSession;
  maxBodyBytes: number;
}

const TYPES = [JSON_TYPE, JAVASCRIPT_TYPE, OCTET_TYPE] as const;
const ALLOW = "HEAD,DELETE,POST,GET,OPTIONS,PUT";
const CALLBACK = /^[A-Za-z0-9_]+$/;

/** The response type; a JSONP callback name is checked here, before anything is done. */
function chooseType(ex: Exchange): string {
  const type = negotiate(ex.req.headers.accept, TYPES);
  if (!type) throw new HttpError(406);
  if (type === JAVASCRIPT_TYPE && !CALLBACK.test(param(ex, "callback", "callback"))) {
    throw new HttpError(400, "callback may contain only letters, digits and underscores");
  }
  return type;
}

/** Runs `call` on the `?session=` REST session's ZooKeeper session (401 when unknown), or the gateway's own. */
async function onSession<T>(ex: Exchange, deps: ZnodeDeps, call: (zk: ZkSession) => Promise<T>): Promise<T> {
  const restSessionId = param(ex, "session", "");
  if (restSessionId === "") return call(await deps.shared.get());
  return deps.sessions.use(restSessionId, call);
}

/** Sends an entity as JSON, or as JSONP (`callback(...)`, default name "callback") for application/javascript. */
function sendEntity(ex: Exchange, status: number, type: string, json: string, headers = {}): void {
  if (type === JAVASCRIPT_TYPE) {
    const callback = param(ex, "callback", "callback");
    send(ex.req, ex.res, status, { ...headers, "content-type": JAVASCRIPT_TYPE }, `${callback}(${json})`);
    return;
  }
  send(ex.req, ex.res, status, { ...headers, "content-type": JSON_TYPE }, json);
}

async function readData(ex: Exchange, deps: ZnodeDeps): Promise<Buffer | null> {
  if (!contentTypeIs(ex.req, OCTET_TYPE)) throw new HttpError(415);
  const body = await readBody(ex.req, deps.maxBodyBytes);
  return param(ex, "null", "false") === "true" ? null : body;
}

/** Handles one request for the znode `path` (already decoded, e.g. "/a/b" or "/"). */
export async function handleZnode(ex: Exchange, path: string, deps: ZnodeDeps): Promise<void> {
  const method = ex.req.method ?? "GET";
  if (method === "OPTIONS") {
    send(ex.req, ex.res, 204, { allow: ALLOW });
    return;
  }
  if (!["GET", "HEAD", "PUT", "POST", "DELETE"].includes(method)) {
    throw new HttpError(405, undefined, { allow: ALLOW });
  }
  const type = chooseType(ex);
  switch (method) {
    case "HEAD":
      return head(ex, path, type, deps);
    case "GET":
      return get(ex, path, type, deps);
    case "PUT":
      return put(ex, path, type, deps);
    case "POST":
      return post(ex, path, type, deps);
    default:
      return remove(ex, path, deps);
  }
}

async function head(ex: Exchange, path: string, type: string, deps: ZnodeDeps): Promise<void> {
  const stat = await onSession(ex, deps, (zk) => zk.exists(path));
  if (!stat) throw new HttpError(404, `${path} not found`);
  send(ex.req, ex.res, type === OCTET_TYPE ? 204 : 200, {});
}

async function get(ex: Exchange, path: string, type: string, deps: ZnodeDeps): Promise<void> {
  if (type === OCTET_TYPE) {
    const { data } = await onSession(ex, deps, (zk) => zk.getData(path));
    if (data === null) send(ex.req, ex.res, 204, {});
    else send(ex.req, ex.res, 200, { "content-type": OCTET_TYPE }, data);
    return;
  }
  if (param(ex, "view", "data") === "children") {
    const children = await onSession(ex, deps, (zk) => zk.getChildren(path));
    sendEntity(ex, 200, type, childrenEntity(path, ex.absolutePath, children));
    return;
  }
  const { data, stat } = await onSession(ex, deps, (zk) => zk.getData(path));
  const dataformat = param(ex, "dataformat", "base64");
  sendEntity(ex, 200, type, statEntity(path, ex.absolutePath, data, dataformat, stat));
}

async function put(ex: Exchange, path: string, type: string, deps: ZnodeDeps): Promise<void> {
  const data = await readData(ex, deps);
  const version = versionParam(ex, path);
  const stat = await onSession(ex, deps, (zk) => zk.setData(path, data, version));
  if (type === OCTET_TYPE) send(ex.req, ex.res, 204, {});
  else sendEntity(ex, 200, type, statEntity(path, ex.absolutePath, undefined, "base64", stat));
}

async function post(ex: Exchange, parent: string, type: string, deps: ZnodeDeps): Promise<void> {
  const data = await readData(ex, deps);
  const name = ex.url.searchParams.get("name");
  const op = param(ex, "op", "create");
  const target = parent === "/" ? `/${name ?? ""}` : `${parent}/${name ?? ""}`;
  if (op !== "create") throw new HttpError(400, `${target} bad operation ${op}`);
  if (name === null || name === "") throw new HttpError(400, `${target} bad arguments: name is missing`);
  // As in the Java gateway: any value but "false" makes the znode ephemeral; only "true" makes it sequential.
  const ephemeral = param(ex, "ephemeral", "false") !== "false";
  const sequence = param(ex, "sequence", "false") === "true";
  const created = await onSession(ex, deps, (zk) => zk.create(target, data, { ephemeral, sequence }));
  const location = `${ex.url.origin}/znodes/v1${created.split("/").map(encodeURIComponent).join("/")}`;
  if (type === OCTET_TYPE) {
    send(ex.req, ex.res, 201, { location, "content-type": OCTET_TYPE }, created);
    return;
  }
  sendEntity(ex, 201, type, pathEntity(created, ex.absolutePath), { location });
}

async function remove(ex: Exchange, path: string, deps: ZnodeDeps): Promise<void> {
  const version = versionParam(ex, path);
  await onSession(ex, deps, (zk) => zk.remove(path, version));
  send(ex.req, ex.res, 204, {});
}
