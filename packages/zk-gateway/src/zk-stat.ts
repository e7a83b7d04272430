/**
 * A znode's stat as the extension's answers carry it: ZooKeeper's 64-bit fields, which node-zookeeper-client
 * gives as 8-byte big-endian buffers, kept exact as bigints.
 */
import type { ZnodeStat } from "leasehold/zookeeper/extension";
import type { Stat } from "node-zookeeper-client";

/** A znode's stat with exact 64-bit fields. */
export type ZStat = ZnodeStat;

const long = (buffer: Buffer): bigint => buffer.readBigInt64BE(0);

export function toZStat(stat: Stat): ZStat {
  return {
    czxid: long(stat.czxid),
    mzxid: long(stat.mzxid),
    ctime: long(stat.ctime),
    mtime: long(stat.mtime),
    version: stat.version,
    cversion: stat.cversion,
    aversion: stat.aversion,
    ephemeralOwner: long(stat.ephemeralOwner),
    dataLength: stat.dataLength,
    numChildren: stat.numChildren,
    pzxid: long(stat.pzxid),
  };
}
