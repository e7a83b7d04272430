/**
 * The ops of a ZooKeeper multi, their translation to a node-zookeeper-client transaction, and the client's
 * answer read back as the extension's `MultiResult`s (`leasehold/zookeeper/extension`) or a {@link MultiError}.
 */
import type { MultiResult } from "leasehold/zookeeper/extension";
import { CreateMode, type Stat, type Transaction } from "node-zookeeper-client";
import { codeName, KeeperError } from "./zk-errors.ts";
import { toZStat } from "./zk-stat.ts";

/** One op of a ZooKeeper multi. Versions are ZooKeeper's (-1 = any). `data: null` stores no data. */
export type MultiOp =
  | { op: "check"; path: string; version: number }
  | { op: "create"; path: string; data: Buffer | null; ephemeral: boolean }
  | { op: "set"; path: string; data: Buffer | null; version: number }
  | { op: "delete"; path: string; version: number };

/** A multi ZooKeeper refused as a whole; `index` is the op that failed. */
export class MultiError extends Error {
  readonly index: number;
  override readonly cause: KeeperError;

  constructor(index: number, cause: KeeperError) {
    super(`multi op ${index} failed: ${cause.message}`);
    this.name = "MultiError";
    this.index = index;
    this.cause = cause;
  }
}

/**
 * Adds one op to a client transaction. The client turns a version of 0 into -1 (`version || -1`), which
 * would make "version must be 0" mean "any version"; the pushed op is corrected afterwards.
 */
export function addOp(tx: Transaction, op: MultiOp): void {
  switch (op.op) {
    case "check":
      tx.check(op.path, op.version);
      break;
    case "create":
      if (op.data === null) tx.create(op.path, op.ephemeral ? CreateMode.EPHEMERAL : CreateMode.PERSISTENT);
      else tx.create(op.path, op.data, op.ephemeral ? CreateMode.EPHEMERAL : CreateMode.PERSISTENT);
      return;
    case "set":
      tx.setData(op.path, op.data, op.version);
      break;
    case "delete":
      tx.remove(op.path, op.version);
      break;
  }
  const ops = (tx as unknown as { ops: { version: number }[] }).ops;
  const pushed = ops[ops.length - 1];
  if (pushed) pushed.version = op.version;
}

/** What a committed client transaction answered: its result list, and whether ZooKeeper refused it. */
export interface Committed {
  results: unknown[];
  failed: boolean;
}

/**
 * The results of `ops` from the client's answer, one per op.
 * @throws {MultiError} ZooKeeper refused the multi: the first op with an error code (`where` when none names one).
 */
export function multiResults(ops: readonly MultiOp[], committed: Committed, where: string): MultiResult[] {
  const { results } = committed;
  if (committed.failed) {
    const index = Math.max(
      0,
      results.findIndex((r) => ((r as { err?: number }).err ?? 0) !== 0),
    );
    const err = (results[index] as { err?: number } | undefined)?.err ?? -1;
    throw new MultiError(index, new KeeperError(codeName(err), ops[index]?.path ?? where));
  }
  return ops.map((op, i): MultiResult => {
    const res = results[i] as { path?: string; stat?: Stat } | undefined;
    switch (op.op) {
      case "create":
        return { op: "create", path: res?.path ?? op.path };
      case "set":
        if (!res?.stat) throw new Error("ZooKeeper multi: no stat for a setData op");
        return { op: "set", stat: toZStat(res.stat) };
      default:
        return { op: op.op };
    }
  });
}
