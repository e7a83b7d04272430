/**
 * Guarded transactions on ZooKeeper. Both ways read first (every request of the batch at once: the leader
 * znode, each key's znode, the ancestors of each key) and decide the guard and the caller's compares on what
 * they read. Then:
 *
 * - atomic (leasehold-zk-gateway's multi extension): ONE ZooKeeper multi on the holder's own ZooKeeper
 *   session that re-checks, at commit, everything the decision used: `check` of the leader znode's version
 *   (the multi fails when the session is gone, and with it the ephemeral leader znode), `check` of each
 *   compared or read znode's version, and for a znode read as missing a create-then-delete that fails if it
 *   now exists. A multi refused because something changed in between is planned again (3 tries).
 * - non-atomic (SPEC v2 only, `allowNonAtomicGuard: true`): the writes follow as separate requests; the
 *   lease can move, and keys can change, between the read and the writes.
 *
 * Keys map to znodes as "/" + key. A put creates missing parent znodes (persistent, no data). Puts and
 * deletes ignore versions, as etcd's do. ZooKeeper limits: a znode with children cannot be deleted, a key
 * cannot be written twice or read after being written in one transaction.
 */
import {
  type CallContext,
  compareMatches,
  HttpStatusError,
  InvalidArgumentError,
  type NormalizedCompare,
  type NormalizedOp,
  type OpResult,
  type TxnOutcome,
  UnsupportedError,
} from "../../src/index.ts";
import { ancestors, keyPath } from "./paths.ts";
import type { RestClient, WireMultiOp } from "./rest.ts";
import { type StatEntity, toKeyValue } from "./wire.ts";

/** What a transaction needs to know about its term's leader znode. */
export interface Guard {
  path: string;
  token: bigint;
  session: string;
  /** True when the znode read is this term's: same czxid and owned by this REST session. */
  holds(node: StatEntity): boolean;
}

interface Read {
  leader: StatEntity | null;
  nodes: Map<string, StatEntity | null>;
  exists: Map<string, boolean>;
}

interface Plan {
  ops: WireMultiOp[];
  results: OpResult[];
}

const TRIES = 3;
const CONTENDED = new Set(["NONODE", "NODEEXISTS", "BADVERSION"]);

/** The znode path of every op and compare, validated; and refuses writing a key twice or reading it after a write. */
function pathsOf(ops: readonly NormalizedOp[], compares: readonly NormalizedCompare[]) {
  const written = new Set<string>();
  const opPaths = ops.map((op, i) => {
    const path = keyPath(op.key, `ops[${i}].key`);
    if (written.has(path)) {
      throw new UnsupportedError(
        `ops[${i}]: ZooKeeper transactions cannot ${op.type === "get" ? "read" : "write"} a key written earlier in the same transaction`,
      );
    }
    if (op.type !== "get") written.add(path);
    return path;
  });
  const comparePaths = compares.map((c, i) => keyPath(c.key, `compares[${i}].key`));
  return { opPaths, comparePaths };
}

async function readAll(
  rest: RestClient,
  guard: Guard,
  keyPaths: readonly string[],
  ctx: CallContext,
): Promise<Read> {
  const keys = [...new Set(keyPaths)];
  const parents = [...new Set(keys.flatMap(ancestors))].filter((p) => !keys.includes(p));
  const [leader, nodes, parentExists] = await Promise.all([
    rest.getNode(guard.path, ctx),
    Promise.all(keys.map((p) => rest.getNode(p, ctx))),
    Promise.all(parents.map((p) => rest.exists(p, ctx))),
  ]);
  const read: Read = { leader, nodes: new Map(), exists: new Map() };
  keys.forEach((p, i) => {
    read.nodes.set(p, nodes[i] ?? null);
    read.exists.set(p, nodes[i] !== null);
  });
  parents.forEach((p, i) => {
    read.exists.set(p, parentExists[i] === true);
  });
  return read;
}

function missingAncestors(read: Read, path: string): string[] {
  return ancestors(path).filter((p) => read.exists.get(p) !== true);
}

/** Ops that fail at commit unless `path` is still missing, and leave no trace when it is. */
function stillMissing(read: Read, path: string): WireMultiOp[] {
  const created = [...missingAncestors(read, path), path];
  return [
    ...created.map((p): WireMultiOp => ({ op: "create", path: p, data: null, ephemeral: false })),
    ...created.reverse().map((p): WireMultiOp => ({ op: "delete", path: p, version: 0 })),
  ];
}

/** The re-check at commit of a znode as read: its version, or that it is still missing. */
function unchanged(read: Read, path: string): WireMultiOp[] {
  const node = read.nodes.get(path);
  return node ? [{ op: "check", path, version: node.version }] : stillMissing(read, path);
}

function plan(
  read: Read,
  leader: StatEntity,
  guard: Guard,
  ops: readonly NormalizedOp[],
  opPaths: readonly string[],
  comparePaths: readonly string[],
): Plan {
  const multi: WireMultiOp[] = [{ op: "check", path: guard.path, version: leader.version }];
  for (const path of new Set(comparePaths)) multi.push(...unchanged(read, path));
  const results = ops.map((op, i): OpResult => {
    const path = opPaths[i] as string;
    const node = read.nodes.get(path) ?? null;
    switch (op.type) {
      case "put":
        if (node) {
          multi.push({ op: "set", path, data: op.value, version: -1 });
        } else {
          for (const p of missingAncestors(read, path)) {
            multi.push({ op: "create", path: p, data: null, ephemeral: false });
            read.exists.set(p, true);
          }
          multi.push({ op: "create", path, data: op.value, ephemeral: false });
        }
        return { type: "put" };
      case "delete":
        multi.push(...(node ? [{ op: "delete", path, version: -1 } as const] : stillMissing(read, path)));
        return { type: "delete", deleted: node ? 1n : 0n };
      default:
        multi.push(...unchanged(read, path));
        return { type: "get", kv: node ? toKeyValue(op.key, node, `get ${path}`) : null };
    }
  });
  return { ops: multi, results };
}

/** Decides the guard and the compares on what was read; null when the transaction may go ahead. */
function decide(
  read: Read,
  guard: Guard,
  compares: readonly NormalizedCompare[],
  comparePaths: readonly string[],
): TxnOutcome | null {
  if (!read.leader || !guard.holds(read.leader)) return { applied: false, reason: "not-leader" };
  const ok = compares.every((c, i) => {
    const path = comparePaths[i] as string;
    const node = read.nodes.get(path) ?? null;
    return compareMatches(c, node ? toKeyValue(c.key, node, `get ${path}`) : null);
  });
  return ok ? null : { applied: false, reason: "condition-failed" };
}

function refused(op: WireMultiOp | undefined, code: string): Error {
  const what = `ZooKeeper refused ${op ? `${op.op} ${op.path}` : "the transaction"} (${code})`;
  if (code === "NOTEMPTY") return new UnsupportedError(`${what}: a znode with children cannot be deleted`);
  if (code === "BADARGUMENTS" || code === "NOCHILDRENFOREPHEMERALS") {
    return new InvalidArgumentError("ops", what);
  }
  return new HttpStatusError(502, what);
}

/**
 * The atomic way. Null when the gateway has no multi extension (the caller decides what that means).
 */
export async function atomicTxn(
  rest: RestClient,
  guard: Guard,
  ops: readonly NormalizedOp[],
  compares: readonly NormalizedCompare[],
  ctx: CallContext,
): Promise<TxnOutcome | null> {
  const { opPaths, comparePaths } = pathsOf(ops, compares);
  for (let attempt = 1; ; attempt++) {
    const read = await readAll(rest, guard, [...comparePaths, ...opPaths], ctx);
    const decided = decide(read, guard, compares, comparePaths);
    if (decided) return decided;
    const { ops: multi, results } = plan(read, read.leader as StatEntity, guard, ops, opPaths, comparePaths);
    const outcome = await rest.multi(multi, guard.session, ctx);
    if (outcome === null) return null;
    if (outcome.committed) return { applied: true, results };
    if (outcome.index <= 0) return { applied: false, reason: "not-leader" };
    if (!CONTENDED.has(outcome.code)) throw refused(multi[outcome.index], outcome.code);
    if (attempt === TRIES) {
      throw new HttpStatusError(
        409,
        `ZooKeeper transaction kept meeting concurrent changes (${TRIES} tries)`,
        {
          retryable: true,
        },
      );
    }
  }
}

/**
 * The non-atomic way: check (read), then write with separate SPEC v2 requests, in op order.
 * @throws {HttpStatusError} a write failed; the ops before it were applied.
 */
export async function nonAtomicTxn(
  rest: RestClient,
  guard: Guard,
  ops: readonly NormalizedOp[],
  compares: readonly NormalizedCompare[],
  ctx: CallContext,
): Promise<TxnOutcome> {
  const { opPaths, comparePaths } = pathsOf(ops, compares);
  const read = await readAll(rest, guard, [...comparePaths, ...opPaths], ctx);
  const decided = decide(read, guard, compares, comparePaths);
  if (decided) return decided;
  const results: OpResult[] = [];
  for (const [i, op] of ops.entries()) {
    const path = opPaths[i] as string;
    const node = read.nodes.get(path) ?? null;
    try {
      results.push(await writeOne(rest, read, op, path, node, ctx));
    } catch (error) {
      const applied = i === 0 ? "no op was applied" : `ops[0..${i - 1}] were applied`;
      throw new HttpStatusError(
        error instanceof HttpStatusError ? error.status : 502,
        `non-atomic transaction stopped at ops[${i}] (${op.type} ${path}); ${applied}`,
        { cause: error },
      );
    }
  }
  return { applied: true, results };
}

async function writeOne(
  rest: RestClient,
  read: Read,
  op: NormalizedOp,
  path: string,
  node: StatEntity | null,
  ctx: CallContext,
): Promise<OpResult> {
  switch (op.type) {
    case "get":
      return { type: "get", kv: node ? toKeyValue(op.key, node, `get ${path}`) : null };
    case "delete":
      return { type: "delete", deleted: node && (await rest.delete(path, ctx)) ? 1n : 0n };
    case "put": {
      if (node && (await rest.setData(path, op.value, ctx))) return { type: "put" };
      for (const parent of missingAncestors(read, path)) {
        await rest.create(parent, null, { ephemeral: false }, ctx);
        read.exists.set(parent, true);
      }
      const created = await rest.create(path, op.value, { ephemeral: false }, ctx);
      if (created === "exists" && (await rest.setData(path, op.value, ctx))) return { type: "put" };
      if (created !== "created") throw new HttpStatusError(409, `cannot create ${path} (${created})`);
      return { type: "put" };
    }
  }
}
