/**
 * Guarded transactions on ZooKeeper. Both ways first read, all requests at once, the leader znode, each
 * key's znode and the parents of each key, and decide the guard and the caller's compares on what they read.
 * Then:
 *
 * - atomic (leasehold-zk-gateway's multi extension): ONE ZooKeeper multi, run on the holder's own ZooKeeper
 *   session, that re-checks at commit everything the decision used. Its first op rewrites the leader znode's
 *   data unchanged at the version read, where the guard matched (the term's czxid and owner, busy under the
 *   term's hold ID): that fails unless the znode is still there unchanged (a park, or a resume by another
 *   invocation, moves its version), and the multi fails as a whole when the holder's session is gone (and
 *   with it the ephemeral leader znode); its result also names the zxid the multi committed at. Each compared or read znode gets a `check` of the version
 *   read, and a znode read as missing a create-then-delete that fails if it exists by then. A multi refused
 *   because something changed in between is planned again (3 tries).
 * - non-atomic (SPEC v2 only, `allowNonAtomicGuard: true`): the guard (hold ID included) is checked on the
 *   read, then the ops follow as separate requests; the lease can move, and keys can change, between the
 *   read and the writes.
 *
 * Keys map to znodes as "/" + key. A put creates missing parent znodes (persistent, no data). Puts and
 * deletes ignore versions, as etcd's do. A znode with children cannot be deleted (ZooKeeper refuses).
 */
import {
  type CallContext,
  compareMatches,
  HttpStatusError,
  InvalidArgumentError,
  type KeyValue,
  MalformedResponseError,
  type NormalizedCompare,
  type NormalizedOp,
  type OpResult,
  type TxnOutcome,
  UnsupportedError,
} from "../../src/index.ts";
import { ancestors, keyPath } from "./paths.ts";
import type { RestClient, WireMultiOp } from "./rest.ts";
import { dataOf, type StatEntity, toKeyValue } from "./wire.ts";

/** The term a transaction is guarded by. */
export interface Guard {
  /** The leader znode. */
  path: string;
  /** The REST session of the term, when the leader znode as read is still the term's; else null. */
  sessionOf(node: StatEntity): string | null;
}

interface Read {
  leader: StatEntity | null;
  nodes: Map<string, StatEntity | null>;
  exists: Map<string, boolean>;
}

/** A key's state as the planned ops leave it. `null` revisions: set by this transaction (its commit zxid). */
interface Slot {
  node: { value: Uint8Array; zkVersion: number; czxid: bigint | null; mzxid: bigint | null } | null;
  touched: boolean;
}

type Result = OpResult | ((commitZxid: bigint) => OpResult);

const TRIES = 3;
const CONTENDED = new Set(["NONODE", "NODEEXISTS", "BADVERSION"]);

function pathsOf(ops: readonly NormalizedOp[], compares: readonly NormalizedCompare[]) {
  return {
    opPaths: ops.map((op, i) => keyPath(op.key, `ops[${i}].key`)),
    comparePaths: compares.map((c, i) => keyPath(c.key, `compares[${i}].key`)),
  };
}

async function readAll(
  rest: RestClient,
  leaderPath: string,
  keyPaths: readonly string[],
  ctx: CallContext,
): Promise<Read> {
  const keys = [...new Set(keyPaths)];
  const parents = [...new Set(keys.flatMap(ancestors))].filter((p) => !keys.includes(p));
  const [leader, nodes, parentExists] = await Promise.all([
    rest.getNode(leaderPath, ctx),
    Promise.all(keys.map((p) => rest.getNode(p, ctx, true))),
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

/** Decides the guard and the compares on what was read: the term's session, or why not to go ahead. */
function decide(
  read: Read,
  guard: Guard,
  compares: readonly NormalizedCompare[],
  comparePaths: readonly string[],
): { session: string; leader: StatEntity } | TxnOutcome {
  const session = read.leader ? guard.sessionOf(read.leader) : null;
  if (!read.leader || session === null) return { applied: false, reason: "not-leader" };
  const ok = compares.every((c, i) => {
    const path = comparePaths[i] as string;
    const node = read.nodes.get(path) ?? null;
    return compareMatches(c, node ? toKeyValue(c.key, node, `get ${path}`) : null);
  });
  return ok ? { session, leader: read.leader } : { applied: false, reason: "condition-failed" };
}

/** Builds the multi for the atomic way, and the results it will have once committed. */
class Planner {
  readonly ops: WireMultiOp[] = [];
  readonly #read: Read;
  readonly #slots = new Map<string, Slot>();

  constructor(read: Read, leader: StatEntity, guardPath: string) {
    this.#read = read;
    const data = dataOf(leader, `get ${guardPath}`);
    this.ops.push({ op: "set", path: guardPath, data, version: leader.version });
  }

  #slot(path: string): Slot {
    let slot = this.#slots.get(path);
    if (!slot) {
      const node = this.#read.nodes.get(path) ?? null;
      slot = {
        touched: false,
        node: node
          ? {
              value: dataOf(node, `get ${path}`),
              zkVersion: node.version,
              czxid: node.czxid,
              mzxid: node.mzxid,
            }
          : null,
      };
      this.#slots.set(path, slot);
    }
    return slot;
  }

  #missingParents(path: string): string[] {
    return ancestors(path).filter((p) => this.#read.exists.get(p) !== true);
  }

  /** Re-checks at commit that an untouched key is as read: same version, or still missing. */
  unchanged(path: string): void {
    const slot = this.#slot(path);
    if (slot.touched) return;
    if (slot.node) {
      this.ops.push({ op: "check", path, version: slot.node.zkVersion });
      return;
    }
    const created = [...this.#missingParents(path), path];
    for (const p of created) this.ops.push({ op: "create", path: p, data: null, ephemeral: false });
    for (const p of created.reverse()) this.ops.push({ op: "delete", path: p, version: 0 });
  }

  put(path: string, value: Uint8Array): void {
    const slot = this.#slot(path);
    if (slot.node) {
      this.ops.push({ op: "set", path, data: value, version: -1 });
      slot.node = { value, zkVersion: slot.node.zkVersion + 1, czxid: slot.node.czxid, mzxid: null };
    } else {
      for (const p of this.#missingParents(path)) {
        this.ops.push({ op: "create", path: p, data: null, ephemeral: false });
        this.#read.exists.set(p, true);
      }
      this.ops.push({ op: "create", path, data: value, ephemeral: false });
      slot.node = { value, zkVersion: 0, czxid: null, mzxid: null };
    }
    slot.touched = true;
  }

  delete(path: string): bigint {
    const slot = this.#slot(path);
    if (!slot.node) {
      this.unchanged(path);
      return 0n;
    }
    this.ops.push({ op: "delete", path, version: -1 });
    slot.node = null;
    slot.touched = true;
    return 1n;
  }

  get(path: string, key: Uint8Array): Result {
    this.unchanged(path);
    const node = this.#slot(path).node;
    if (!node) return { type: "get", kv: null };
    return (commit) => {
      const kv: KeyValue = {
        key,
        value: node.value,
        createRevision: node.czxid ?? commit,
        modRevision: node.mzxid ?? commit,
        version: BigInt(node.zkVersion) + 1n,
      };
      return { type: "get", kv };
    };
  }
}

function refused(op: WireMultiOp | undefined, code: string): Error {
  const what = `ZooKeeper refused ${op ? `${op.op} ${op.path}` : "the transaction"} (${code})`;
  if (code === "NOTEMPTY") return new UnsupportedError(`${what}: a znode with children cannot be deleted`);
  if (code === "BADARGUMENTS" || code === "NOCHILDRENFOREPHEMERALS") {
    return new InvalidArgumentError("ops", what);
  }
  return new HttpStatusError(502, what);
}

/** The atomic way. Null when the gateway has no multi extension (the caller decides what that means). */
export async function atomicTxn(
  rest: RestClient,
  guard: Guard,
  ops: readonly NormalizedOp[],
  compares: readonly NormalizedCompare[],
  ctx: CallContext,
): Promise<TxnOutcome | null> {
  const { opPaths, comparePaths } = pathsOf(ops, compares);
  for (let attempt = 1; ; attempt++) {
    const read = await readAll(rest, guard.path, [...comparePaths, ...opPaths], ctx);
    const decided = decide(read, guard, compares, comparePaths);
    if ("applied" in decided) return decided;
    const planner = new Planner(read, decided.leader, guard.path);
    for (const path of new Set(comparePaths)) planner.unchanged(path);
    const results = ops.map((op, i): Result => {
      const path = opPaths[i] as string;
      if (op.type === "put") {
        planner.put(path, op.value);
        return { type: "put" };
      }
      if (op.type === "delete") return { type: "delete", deleted: planner.delete(path) };
      return planner.get(path, op.key);
    });
    const outcome = await rest.multi(planner.ops, decided.session, ctx);
    if (outcome === null) return null;
    if (outcome.committed) {
      const commit = outcome.commitZxid;
      const { guard: set } = outcome;
      const read = decided.leader;
      // The guard's set rewrote the very znode read (same czxid and owner), one version on, at a later zxid.
      if (
        set.czxid !== read.czxid ||
        set.ephemeralOwner !== read.ephemeralOwner ||
        set.version !== read.version + 1 ||
        commit <= read.mzxid
      ) {
        throw new MalformedResponseError(
          "ZooKeeper gateway multi: the guard's stat is not the leader znode's",
        );
      }
      return { applied: true, results: results.map((r) => (typeof r === "function" ? r(commit) : r)) };
    }
    if (outcome.index <= 0) return { applied: false, reason: "not-leader" };
    if (!CONTENDED.has(outcome.code)) throw refused(planner.ops[outcome.index], outcome.code);
    if (attempt === TRIES) {
      throw new HttpStatusError(
        409,
        `ZooKeeper transaction kept meeting concurrent changes (${TRIES} tries)`,
        { retryable: true },
      );
    }
  }
}

/**
 * The non-atomic way: check (read), then one request per op, in order.
 * @throws {HttpStatusError} an op failed; the ops before it were applied.
 */
export async function nonAtomicTxn(
  rest: RestClient,
  guard: Guard,
  ops: readonly NormalizedOp[],
  compares: readonly NormalizedCompare[],
  ctx: CallContext,
): Promise<TxnOutcome> {
  const { opPaths, comparePaths } = pathsOf(ops, compares);
  const read = await readAll(rest, guard.path, [...comparePaths, ...opPaths], ctx);
  const decided = decide(read, guard, compares, comparePaths);
  if ("applied" in decided) return decided;
  const touched = new Set<string>();
  const results: OpResult[] = [];
  for (const [i, op] of ops.entries()) {
    const path = opPaths[i] as string;
    try {
      results.push(await applyOne(rest, read, op, path, touched.has(path), ctx));
    } catch (error) {
      const applied = i === 0 ? "no op was applied" : `ops[0..${i - 1}] were applied`;
      throw new HttpStatusError(
        error instanceof HttpStatusError ? error.status : 502,
        `non-atomic transaction stopped at ops[${i}] (${op.type} ${path}); ${applied}`,
        { cause: error },
      );
    }
    if (op.type !== "get") touched.add(path);
  }
  return { applied: true, results };
}

async function applyOne(
  rest: RestClient,
  read: Read,
  op: NormalizedOp,
  path: string,
  touched: boolean,
  ctx: CallContext,
): Promise<OpResult> {
  switch (op.type) {
    case "get": {
      const node = touched ? await rest.getNode(path, ctx, true) : (read.nodes.get(path) ?? null);
      return { type: "get", kv: node ? toKeyValue(op.key, node, `get ${path}`) : null };
    }
    case "delete":
      return { type: "delete", deleted: (await rest.delete(path, ctx)) ? 1n : 0n };
    default: {
      if (await rest.setData(path, op.value, ctx)) return { type: "put" };
      for (const parent of ancestors(path).filter((p) => read.exists.get(p) !== true)) {
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
