/**
 * `/sessions/v1/<id>` (SPEC v2): POST `?op=create&expire=<seconds>` opens a session (201 + `{id, uri}`),
 * PUT heartbeats it (200, empty body; 404 when unknown), DELETE closes it (204, also when unknown). The ID
 * is a sealed token (session-token.ts) that every instance with the session key serves.
 */
import { type Exchange, param } from "./exchange.ts";
import { contentTypeIs, HttpError, JAVASCRIPT_TYPE, JSON_TYPE, negotiate, OCTET_TYPE, send } from "./http.ts";
import { sessionEntity } from "./render.ts";
import type { SessionRegistry } from "./session-registry.ts";

const ALLOW = "DELETE,POST,OPTIONS,PUT";
const TYPES = [JSON_TYPE, JAVASCRIPT_TYPE] as const;
const INT32 = /^[+-]?\d{1,10}$/;

/** Handles one request; `restSessionId` is what follows `/sessions/v1/` ("" for the collection). */
export async function handleSession(
  ex: Exchange,
  restSessionId: string,
  sessions: SessionRegistry,
): Promise<void> {
  const method = ex.req.method ?? "GET";
  switch (method) {
    case "POST":
      return create(ex, sessions);
    case "PUT":
      return heartbeat(ex, restSessionId, sessions);
    case "DELETE":
      await sessions.close(restSessionId);
      send(ex.req, ex.res, 204, {});
      return;
    case "OPTIONS":
      send(ex.req, ex.res, 204, { allow: ALLOW });
      return;
    default:
      throw new HttpError(405, undefined, { allow: ALLOW });
  }
}

function jsonType(ex: Exchange): string {
  const type = negotiate(ex.req.headers.accept, TYPES);
  if (!type) throw new HttpError(406);
  return type;
}

async function create(ex: Exchange, sessions: SessionRegistry): Promise<void> {
  const type = jsonType(ex);
  const op = ex.url.searchParams.get("op");
  if (op !== "create") throw new HttpError(400, "");
  const expire = param(ex, "expire", "5");
  const expireS = INT32.test(expire) ? Number(expire) : Number.NaN;
  if (!Number.isSafeInteger(expireS)) throw new HttpError(400);
  const restSessionId = await sessions.create(expireS);
  const uri = `${ex.url.origin}/sessions/v1/${restSessionId}`;
  const body = sessionEntity(restSessionId, uri);
  if (type === JAVASCRIPT_TYPE) {
    send(ex.req, ex.res, 201, { location: uri, "content-type": JAVASCRIPT_TYPE }, `callback(${body})`);
  } else {
    send(ex.req, ex.res, 201, { location: uri, "content-type": JSON_TYPE }, body);
  }
}

async function heartbeat(ex: Exchange, restSessionId: string, sessions: SessionRegistry): Promise<void> {
  if (!contentTypeIs(ex.req, OCTET_TYPE)) throw new HttpError(415);
  const type = jsonType(ex);
  // The body is ignored; drain it so that the connection stays usable.
  ex.req.resume();
  await sessions.heartbeat(restSessionId);
  send(ex.req, ex.res, 200, { "content-type": type });
}
