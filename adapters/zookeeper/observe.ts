/**
 * `Backend.observe` on ZooKeeper, through the `/leasehold/v1/watch` long poll of leasehold-zk-gateway
 * (extension.ts): the leader znode now, then every state the server's ZooKeeper watch read since the last
 * answer, in order, each decoded as `leader()` decodes it. A poll that fails on the way (a broken connection,
 * no answer in time) is sent again from the same cursor, so nothing is missed or repeated; the gateway's 410
 * (it cannot tell what changed since) ends the watch, and `observe()` polls.
 */
import {
  type BackendObserveOptions,
  deadlineSignal,
  isLeaseError,
  LeaseTimeoutError,
  MalformedResponseError,
  type ObservedTerm,
  redactSecrets,
  TransportError,
} from "../../src/backend-kit.ts";
import { MAX_WATCH_WAIT_MS, type WatchedState } from "./extension.ts";
import type { LeaderZnodes } from "./leader-znode.ts";
import type { RestClient } from "./rest.ts";
import { checkStat } from "./wire.ts";

/** Polls that fail in a row (transport failures, timeouts) before the watch is given up. */
const MAX_RETRIES = 3;

/** Follows the leader znode of `name` (see the module doc). */
export async function* watchLeader(
  rest: Pick<RestClient, "watch" | "secrets">,
  znodes: LeaderZnodes,
  name: string,
  { signal, requestTimeoutMs, checkIntervalMs }: BackendObserveOptions,
): AsyncGenerator<ObservedTerm> {
  const path = znodes.path(name);
  // Each empty answer is the check that the watch still follows the store.
  const waitMs = Math.min(checkIntervalMs, MAX_WATCH_WAIT_MS);
  let cursor: string | null = null;
  let zxid = -1n;
  let failures = 0;
  const term = (state: WatchedState): ObservedTerm => {
    if (state.zxid < zxid)
      throw new MalformedResponseError(`ZooKeeper gateway watch ${path}: a zxid went back`);
    zxid = state.zxid;
    const node = state.node ? checkStat({ ...state.node, path }, path, `watch ${path}`) : null;
    return { leader: node ? znodes.decode(name, node).info : null, revision: state.zxid };
  };
  try {
    while (!signal.aborted) {
      const timeoutMs = (cursor === null ? 0 : waitMs) + requestTimeoutMs;
      let answer: Awaited<ReturnType<RestClient["watch"]>>;
      try {
        answer = await rest.watch(path, cursor, waitMs, {
          signal: deadlineSignal(timeoutMs, signal),
          timeoutMs,
        });
        failures = 0;
      } catch (error) {
        const again = error instanceof TransportError || error instanceof LeaseTimeoutError;
        if (signal.aborted || (again && cursor !== null && ++failures < MAX_RETRIES)) continue;
        throw error;
      }
      if (cursor === null && answer.changes.length !== 1) {
        throw new MalformedResponseError(
          `ZooKeeper gateway watch ${path}: the first answer is not one state`,
        );
      }
      cursor = answer.cursor;
      for (const state of answer.changes) yield term(state);
    }
  } catch (error) {
    throw isLeaseError(error) ? redactSecrets(error, rest.secrets()) : error;
  }
}
