/**
 * The watch of leasehold-zk-gateway's `/leasehold/v1` extension: a long poll of one znode. Its request URL, and
 * what the answer says.
 */
import type { HttpResponse } from "../../src/backend-kit.ts";
import { WATCH_PATH, type WatchAnswer, watchAnswer } from "./extension.ts";
import { gatewayFailure } from "./rest-answers.ts";
import { parseWire } from "./wire.ts";

/** `GET /leasehold/v1/watch?path=<path>[&after=<cursor>]&waitMs=<ms>` under `base`. */
export function watchUrl(base: string, path: string, after: string | null, waitMs: number): string {
  const query = new URLSearchParams({ path, waitMs: String(waitMs) });
  if (after !== null) query.set("after", after);
  return `${base}${WATCH_PATH}?${query}`;
}

/**
 * The states of the answer.
 * @throws {HttpStatusError} 410 the gateway cannot tell what changed since `after`; any other answer.
 * @throws {MalformedResponseError} a 200 that is not a watch answer.
 */
export function watchOutcome(res: HttpResponse, path: string): WatchAnswer {
  if (res.status !== 200) throw gatewayFailure(res, `watch ${path}`);
  return parseWire(watchAnswer, res.body, `watch ${path}`);
}
