/**
 * Reading leader znodes: one per lease (see paths.ts), ephemeral, owned by the term's REST session, holding
 * the term record (record.ts). The fencing token is the znode's czxid; the lease ID its ephemeralOwner (the
 * ZooKeeper session ID) as a decimal string. Both are exact 64-bit values.
 *
 * Renew and release need the REST session (a UUID) of a lease ID: the record names it. The pairs read are
 * remembered (they never change for a lease ID), so that a renew costs one heartbeat.
 */
import {
  type CallContext,
  type LeaderInfo,
  MalformedResponseError,
  type TermRef,
} from "../../src/backend-kit.ts";
import { leaderPath } from "./paths.ts";
import { decodeLeaderRecord, type LeaderRecord } from "./record.ts";
import type { RestClient } from "./rest.ts";
import { dataOf, type StatEntity } from "./wire.ts";

/** Remembered lease ID → REST session pairs. */
const SESSION_MEMORY = 4096;

export interface SessionRef {
  restSessionId: string;
  ttlMs: number;
}

/** A leader znode as read: its stat, its record and what it says about the term. */
export interface LeaderNode {
  node: StatEntity;
  record: LeaderRecord;
  info: LeaderInfo;
}

export class LeaderZnodes {
  readonly #rest: RestClient;
  readonly #root: string;
  readonly #sessions = new Map<string, SessionRef>();

  constructor(rest: RestClient, root: string) {
    this.#rest = rest;
    this.#root = root;
  }

  path(name: string): string {
    return leaderPath(this.#root, name);
  }

  /** `GET` of the leader znode of `name`: null when nobody holds the lease. */
  async read(name: string, ctx: CallContext): Promise<LeaderNode | null> {
    const node = await this.#rest.getNode(this.path(name), ctx);
    return node ? this.decode(name, node) : null;
  }

  /**
   * A leader znode's meaning. One that is not ephemeral, or holds no leader record, was not written by
   * leasehold.
   * @throws {MalformedResponseError} such a znode.
   */
  decode(name: string, node: StatEntity): LeaderNode {
    const where = `ZooKeeper znode ${this.path(name)}`;
    if (node.ephemeralOwner === 0n) throw new MalformedResponseError(`${where} is not ephemeral`);
    const record = decodeLeaderRecord(dataOf(node, where), where);
    // The lease ID is the ZooKeeper session ID that owns the znode, in decimal.
    const zkSessionId = node.ephemeralOwner.toString();
    this.remember(zkSessionId, { restSessionId: record.restSessionId, ttlMs: record.ttlMs });
    const info: LeaderInfo = {
      holder: record.holder,
      token: node.czxid,
      ttlMs: record.ttlMs,
      leaseId: zkSessionId,
      ...(record.value === undefined ? {} : { value: record.value }),
      parked: record.state === "parked",
    };
    return { node, record, info };
  }

  /** True when the znode is still `term`'s (same czxid and owner) and held busy under `term.hold`. */
  static holds(term: TermRef, read: LeaderNode): boolean {
    return (
      read.node.czxid === term.token &&
      read.info.leaseId === term.leaseId &&
      read.record.state === "busy" &&
      read.record.run === term.hold
    );
  }

  remember(leaseId: string, ref: SessionRef): void {
    this.#sessions.delete(leaseId);
    this.#sessions.set(leaseId, ref);
    if (this.#sessions.size > SESSION_MEMORY) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest !== undefined) this.#sessions.delete(oldest);
    }
  }

  forget(leaseId: string): void {
    this.#sessions.delete(leaseId);
  }

  /** The REST session of a term; null when its leader znode is gone (the term ended). */
  async restSessionOf(term: TermRef, ctx: CallContext): Promise<SessionRef | null> {
    const known = this.#sessions.get(term.leaseId);
    if (known) return known;
    const read = await this.read(term.name, ctx);
    if (!read || read.info.leaseId !== term.leaseId) return null;
    return this.#sessions.get(term.leaseId) ?? null;
  }
}
