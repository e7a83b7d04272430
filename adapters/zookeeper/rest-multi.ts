/**
 * The multi of leasehold-zk-gateway's `/leasehold/v1` extension: ONE ZooKeeper multi per request. Its ops in
 * the request body, and what the answer says the multi did.
 */
import { encodeBase64, type HttpResponse, MalformedResponseError } from "../../src/backend-kit.ts";
import { type MultiRequest, multiFailure, multiResults } from "./extension.ts";
import { gatewayFailure, unknownSession } from "./rest-answers.ts";
import { parseWire, type SetStat } from "./wire.ts";

/** One op of the extension's multi; versions are ZooKeeper's (-1 = any). */
export type WireMultiOp =
  | { op: "check"; path: string; version: number }
  | { op: "create"; path: string; data: Uint8Array | null; ephemeral: boolean }
  | { op: "set"; path: string; data: Uint8Array; version: number }
  | { op: "delete"; path: string; version: number };

/**
 * What a multi did:
 * - committed: `commitZxid` is the multi's zxid, from its first op, a `set` whose new stat is `guard`;
 * - refused: ZooKeeper refused op `index` with `code` (its `KeeperException.Code` name, e.g. "BADVERSION"),
 *   in an answer of HTTP `status`; nothing was applied;
 * - no-session: the gateway no longer has the REST session (nothing was applied).
 */
export type MultiOutcome =
  | { committed: true; commitZxid: bigint; guard: SetStat }
  | { committed: false; refused: { index: number; code: string; status: number } }
  | { committed: false; refused: "no-session" };

/** The JSON body of `POST /leasehold/v1/multi`: data in base64 (`data64`), none for a create of `data: null`. */
export function multiBody(ops: readonly WireMultiOp[]): string {
  const request: MultiRequest = {
    ops: ops.map((op) => {
      switch (op.op) {
        case "create":
          return {
            op: "create",
            path: op.path,
            ephemeral: op.ephemeral,
            ...(op.data === null ? {} : { data64: encodeBase64(op.data) }),
          };
        case "set":
          return { op: "set", path: op.path, version: op.version, data64: encodeBase64(op.data) };
        default:
          return op;
      }
    }),
  };
  return JSON.stringify(request);
}

/**
 * What the multi of `ops` did, from its answer; null when the gateway has no such endpoint (a 404 that is not
 * a multi failure).
 * @throws {MalformedResponseError} results that do not match the ops.
 * @throws {LeaseError} any other answer (a redirect or 5xx says nothing about the multi).
 */
export function multiOutcome(res: HttpResponse, ops: readonly WireMultiOp[]): MultiOutcome | null {
  if (res.status === 200) {
    const { results } = parseWire(multiResults, res.body, "multi");
    const first = results[0];
    const guard = first?.op === "set" ? first.stat : undefined;
    // One result per op, each of its op; the first (the guard's set) with the stat it left.
    if (
      results.length !== ops.length ||
      results.some((r, i) => r.op !== ops[i]?.op) ||
      guard === undefined ||
      guard.mzxid <= 0n
    ) {
      throw new MalformedResponseError(
        `ZooKeeper gateway multi: the results do not match the ${ops.length} ops`,
      );
    }
    return { committed: true, commitZxid: guard.mzxid, guard };
  }
  if (unknownSession(res)) return { committed: false, refused: "no-session" };
  // A refusal is a 4xx naming the op.
  const failure = res.status >= 400 && res.status < 500 ? multiFailureOf(res) : null;
  if (failure && failure.index >= 0 && failure.index < ops.length) {
    return { committed: false, refused: { index: failure.index, code: failure.code, status: res.status } };
  }
  if (res.status === 404 && !failure) return null;
  throw gatewayFailure(res, "multi");
}

function multiFailureOf(res: HttpResponse): { index: number; code: string } | null {
  try {
    const parsed = multiFailure.safeParse(JSON.parse(res.body));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
