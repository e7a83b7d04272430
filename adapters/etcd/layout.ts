/**
 * Where a lease lives in etcd: the layout of etcd's own `clientv3/concurrency` Election, so that Go services and
 * `etcdctl elect` take part in the same elections as leasehold.
 *
 * - The election of lease `name` under `prefix` is named `E = <prefix><name>`.
 * - Each participant's candidate key is `E/<lease ID in lowercase hex>`, attached to its etcd lease; its value is
 *   what the participant proclaims (leasehold: the `value` option, else the holder).
 * - The leader is the key with the lowest create revision under `E/`; the fencing token is that revision.
 * - leasehold adds a term record at `E` itself, attached to the same lease: the holder record with the term's
 *   state (busy or parked). Its mod revision marks the current invocation's hold. Go candidates have none.
 */
import { decodeBase64, encodeBase64, type HolderRecord, toBytes } from "../../src/backend-kit.ts";

/** The keys of one election, base64-encoded for the JSON gateway. */
export interface Election {
  /** `<prefix><name>`, for messages. */
  name: string;
  /** The term record key `E`. */
  record: string;
  /** `E/`, the start of the candidates' range. */
  from: string;
  /** The end of that range: `E0` ("0" is the byte after "/"). */
  to: string;
}

/**
 * Elections already encoded, by prefix and name (two lookups of strings the caller keeps, whose hashes are
 * cached, rather than one of a fresh concatenation): a process works on a few leases, each on every call.
 */
const elections = new Map<string, Map<string, Election>>();
/** The last candidate key encoded per election: a term's calls use the same lease ID until it ends. */
const candidates = new WeakMap<Election, { leaseId: string; key: string }>();

export function election(prefix: string, name: string): Election {
  let names = elections.get(prefix);
  if (!names) {
    names = new Map();
    elections.set(prefix, names);
  }
  let found = names.get(name);
  if (!found) {
    const e = prefix + name;
    found = {
      name: e,
      record: encodeBase64(toBytes(e)),
      from: encodeBase64(toBytes(`${e}/`)),
      to: encodeBase64(toBytes(`${e}0`)),
    };
    if (names.size >= 1024) names.clear();
    names.set(name, found);
  }
  return found;
}

/** The candidate key of lease `leaseId` (decimal) in `e`, base64-encoded. */
export function candidateKey(e: Election, leaseId: string): string {
  const last = candidates.get(e);
  if (last?.leaseId === leaseId) return last.key;
  const key = encodeBase64(toBytes(`${e.name}/${BigInt(leaseId).toString(16)}`));
  candidates.set(e, { leaseId, key });
  return key;
}

/** What leasehold proclaims in its candidate key: the published value, else the holder. */
export function proclamation(record: HolderRecord): string {
  return encodeBase64(toBytes(record.value ?? record.holder));
}

const text = new TextDecoder();

/** A Go candidate's proclaimed value as text (invalid UTF-8 is replaced, as it only names the holder). */
export function proclaimed(value: string | undefined, where: string): string {
  return text.decode(decodeBase64(value ?? "", where));
}
