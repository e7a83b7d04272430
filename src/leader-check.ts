/** The core's own check of every term a backend reports, before the core acts on it or hands it on. */
import type { LeaderInfo } from "./backend.ts";
import { MalformedResponseError } from "./errors.ts";

const INT64 = /^-?\d{1,19}$/;

/**
 * Checks what any backend reports, so that a faulty backend cannot make a leader of a bad term: a fencing
 * token is a positive int64, and a lease ID a decimal int64.
 * @throws {MalformedResponseError} naming the backend.
 */
export function checkLeader(info: LeaderInfo, kind: string): void {
  const id = INT64.test(info.leaseId) ? BigInt(info.leaseId) : null;
  if (
    typeof info.token !== "bigint" ||
    info.token <= 0n ||
    info.token >= 1n << 63n ||
    id === null ||
    BigInt.asIntN(64, id) !== id
  ) {
    throw new MalformedResponseError(`${kind}: a term with token ${info.token} and lease ID ${info.leaseId}`);
  }
}
