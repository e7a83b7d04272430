/** Znode stats and transaction inputs for the ZooKeeper planner and executor tests (zxids above 2^53). */

import type { StatEntity } from "../../../adapters/zookeeper/wire.ts";
import { encodeBase64, type NormalizedCompare, type NormalizedOp } from "../../../src/backend-kit.ts";

const utf8 = new TextEncoder();
export const bytes = (text: string) => utf8.encode(text);

/** Above 2^53: a zxid a JS number would round. */
export const BIG = 2n ** 60n;

export function stat(
  path: string,
  o: { czxid?: bigint; mzxid?: bigint; version?: number; data?: string; owner?: bigint } = {},
): StatEntity {
  const czxid = o.czxid ?? BIG + 1n;
  return {
    path,
    data64: o.data === undefined ? null : encodeBase64(bytes(o.data)),
    czxid,
    mzxid: o.mzxid ?? czxid,
    ctime: 1n,
    mtime: 1n,
    version: o.version ?? 0,
    cversion: 0,
    aversion: 0,
    ephemeralOwner: o.owner ?? 0n,
    dataLength: o.data?.length ?? 0,
    numChildren: 0,
    pzxid: czxid,
  };
}

export const LEADER_PATH = "/leasehold/jobs";
export const TOKEN = BIG + 10n;
export const OWNER = BIG + 77n;
export const leaderStat = () =>
  stat(LEADER_PATH, { czxid: TOKEN, mzxid: TOKEN + 3n, version: 4, data: "record", owner: OWNER });

export const put = (key: string, value: string): NormalizedOp => ({
  type: "put",
  key: bytes(key),
  value: bytes(value),
});
export const get = (key: string): NormalizedOp => ({ type: "get", key: bytes(key) });
export const del = (key: string): NormalizedOp => ({ type: "delete", key: bytes(key) });
export const versionIs = (key: string, value: bigint): NormalizedCompare => ({
  key: bytes(key),
  target: "version",
  op: "=",
  value,
});
