/**
 * The `/sessions/v1` resource of SPEC v2: REST sessions (`restSessionId`), each on a ZooKeeper session of the
 * gateway. Their requests, and what the answers say.
 */
import {
  type CallContext,
  type HttpRequest,
  type HttpResponse,
  InvalidArgumentError,
} from "../../src/backend-kit.ts";
import { gatewayFailure, messageOf } from "./rest-answers.ts";
import { NO_BODY, type RestHttp } from "./rest-http.ts";
import { parseWire, sessionEntity } from "./wire.ts";

/** `POST /sessions/v1/?op=create&expire=<s>`. */
export function createSessionRequest(http: RestHttp, expireS: number, ctx: CallContext): HttpRequest {
  return http.request("POST", `${http.base}/sessions/v1/?op=create&expire=${expireS}`, ctx, NO_BODY);
}

/**
 * The new session's ID.
 * @throws {InvalidArgumentError} for `ttlMs` when the gateway refuses the expire (400).
 */
export function createdSession(res: HttpResponse, expireS: number): string {
  if (res.status === 201) return parseWire(sessionEntity, res.body, "session create").id;
  if (res.status === 400) {
    throw new InvalidArgumentError(
      "ttlMs",
      `the gateway refused a session expire of ${expireS} s${messageOf(res) ? `: ${messageOf(res)}` : ""}`,
    );
  }
  throw gatewayFailure(res, "session create");
}

/** `PUT /sessions/v1/<id>`: a heartbeat. */
export function heartbeatRequest(http: RestHttp, restSessionId: string, ctx: CallContext): HttpRequest {
  return http.request("PUT", sessionUrl(http, restSessionId), ctx, NO_BODY);
}

/** True when the gateway renewed the session, false when it no longer has it (404). */
export function heartbeatOutcome(res: HttpResponse): boolean {
  if (res.status === 200 || res.status === 204) return true;
  if (res.status === 404) return false;
  throw gatewayFailure(res, "session heartbeat");
}

export function sessionUrl(http: RestHttp, restSessionId: string): string {
  return `${http.base}/sessions/v1/${restSessionId}`;
}

/** A `DELETE /sessions/v1/<id>` closed the session, or found it gone already (404). */
export function checkSessionDeleted(res: HttpResponse): void {
  if (res.status === 204 || res.status === 200 || res.status === 404) return;
  throw gatewayFailure(res, "session delete");
}
