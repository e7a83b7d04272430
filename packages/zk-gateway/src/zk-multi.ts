/**
 * The ops of a ZooKeeper multi and their translation to node-zookeeper-client transactions; the results are
 * the extension's `MultiResult` (`leasehold/zookeeper/extension`).
 */
import { CreateMode, type Transaction } from "node-zookeeper-client";
import type { KeeperError } from "./zk-errors.ts";

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
