/**
 * ZooKeeper's own history: its transaction logs (every committed txn with its zxid and session, read with
 * ZooKeeper's TxnLogToolkit), replayed for the leader znode (create, setData, delete, and the closeSession
 * that deletes a session's ephemeral znodes, on expiry too), with each multi that created a guarded write's
 * znode judged against the leader znode as it stood at that zxid. The writes' values are read back from the
 * znodes through the gateway.
 */
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { javaBinary, zookeeperJvmArgs } from "../lib/zookeeper-server.ts";
import {
  parseRecord,
  parseWriteValue,
  type StoredWrite,
  type StoreHistory,
  type StoreTerm,
} from "./store-history.ts";

export interface ZkTxn {
  zxid: bigint;
  session: string;
  type: string;
  body: string;
}

const HEADER = / session (0x[0-9a-f]+) cxid 0x[0-9a-f]+ zxid (0x[0-9a-f]+) (\w+) ?/;

/** Every txn of the logs in `dataDir/version-2`, in zxid order. */
export async function readTxnLogs(dataDir: string): Promise<ZkTxn[]> {
  const dir = join(dataDir, "version-2");
  const logs = (await readdir(dir))
    .filter((f) => f.startsWith("log."))
    .sort((a, b) => (BigInt(`0x${a.slice(4)}`) < BigInt(`0x${b.slice(4)}`) ? -1 : 1));
  const txns: ZkTxn[] = [];
  for (const log of logs) {
    const { stdout } = await promisify(execFile)(
      javaBinary(),
      [
        "-Dfile.encoding=UTF-8",
        "-Dstdout.encoding=UTF-8",
        ...zookeeperJvmArgs(),
        "org.apache.zookeeper.server.persistence.TxnLogToolkit",
        join(dir, log),
      ],
      { maxBuffer: 256 * 1024 * 1024, timeout: 60_000 },
    );
    let current: ZkTxn | null = null;
    for (const line of stdout.split("\n")) {
      const m = HEADER.exec(line);
      if (m) {
        current = {
          session: BigInt(m[1] as string).toString(),
          zxid: BigInt(m[2] as string),
          type: m[3] as string,
          body: line.slice((m.index ?? 0) + m[0].length),
        };
        txns.push(current);
      } else if (current && !line.startsWith("EOF reached") && !line.startsWith("ZooKeeper Transactional")) {
        current.body += `\n${line}`;
      }
    }
  }
  return txns.sort((a, b) => (a.zxid < b.zxid ? -1 : a.zxid > b.zxid ? 1 : 0));
}

/** A write znode as read back from the store. */
export interface WriteZnode {
  value: string;
  czxid: bigint;
}

interface LeaderZnode {
  czxid: bigint;
  owner: string;
  data: string;
}

const CREATE = /^(\S+?),(.*),\[\d+,[\s\S]*\],(true|false),\d+$/;
const SET_DATA = /^(\S+?),(.*),\d+$/;

/**
 * Replays the txns for leader znode `leaderPath` and the write znodes under `writePath/`; `readNode` reads a
 * write znode's stored value and czxid (null when it does not exist).
 */
export async function replayZooKeeper(
  txns: readonly ZkTxn[],
  leaderPath: string,
  writePath: string,
  readNode: (path: string) => Promise<WriteZnode | null>,
): Promise<StoreHistory> {
  let leader: LeaderZnode | null = null;
  const terms: StoreTerm[] = [];
  const writes = new Map<string, StoredWrite>();
  const pending: (() => Promise<void>)[] = [];
  const writeRe = new RegExp(`${writePath.replace(/[.^$*+?()[\]{}|\\]/g, "\\$&")}/[A-Za-z0-9-]+`, "g");
  /** Records a write znode created at `t` and judges it (once its value is read) against the leader as it is now. */
  const written = (path: string, t: ZkTxn, how: string) => {
    const seen = writes.get(path);
    if (seen) {
      seen.commits++;
      return;
    }
    const at = leader ? { ...leader } : null;
    const write: StoredWrite = {
      key: path.slice(1),
      at: t.zxid,
      commits: 1,
      token: "?",
      hold: "?",
      problem: null,
    };
    writes.set(path, write);
    pending.push(async () => {
      const node = await readNode(path);
      const named = node === null ? null : parseWriteValue(node.value);
      const view = at ? parseRecord(at.data) : null;
      if (named) {
        write.token = named.token;
        write.hold = named.hold;
      }
      if (!named) write.problem = node === null ? "its znode is gone" : "its value names no term";
      else if (node?.czxid !== t.zxid) write.problem = `its czxid is ${node?.czxid}, not its create's zxid`;
      else if (how !== "multi") write.problem = `a ${how}, not a guarded multi`;
      else if (!at || !view) write.problem = "no leader znode";
      else if (at.czxid.toString() !== named.token)
        write.problem = `term ${at.czxid} led, not ${named.token}`;
      else if (at.owner !== t.session)
        write.problem = `the multi ran on session ${t.session}, not the term's`;
      else if (view.state !== "busy") write.problem = `the term was ${view.state}`;
      else if (view.run !== named.hold)
        write.problem = `the term was held under ${view.run}, not ${named.hold}`;
    });
  };
  for (const t of txns) {
    if (t.type === "create" || t.type === "setData") {
      // TxnLogToolkit sometimes ends a txn with an empty line.
      const m = (t.type === "create" ? CREATE : SET_DATA).exec(t.body.trim());
      const path = m?.[1];
      if (t.type === "create" && path?.startsWith(`${writePath}/`)) written(path, t, "plain create");
      if (!m || path !== leaderPath) continue;
      if (t.type === "create") {
        leader = { czxid: t.zxid, owner: t.session, data: m[2] as string };
        const view = parseRecord(leader.data);
        terms.push({ token: t.zxid, holder: view?.holder ?? "?", leaseId: t.session, from: t.zxid });
      } else if (leader) leader.data = m[2] as string;
    } else if (t.type === "delete") {
      if (t.body.trim() === leaderPath) leader = null;
    } else if (t.type === "closeSession") {
      if (leader && t.session === leader.owner) leader = null;
    } else if (t.type === "multi" && !/\berror\b/.test(t.body)) {
      for (const path of new Set(t.body.match(writeRe) ?? [])) written(path, t, "multi");
    }
  }
  // A few reads at a time: the gateway and ZooKeeper share the machine with the next scenario's teardown.
  for (let i = 0; i < pending.length; i += 8)
    await Promise.all(pending.slice(i, i + 8).map((read) => read()));
  const dump = txns.map((t) => `0x${t.zxid.toString(16)} ${t.session} ${t.type} ${t.body}`).join("\n");
  return { terms, writes: [...writes.values()], head: txns.at(-1)?.zxid ?? 0n, dump };
}
