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
  /** The last candidate key encoded, with its lease ID: a term's calls use the same one until it ends. */
  candidate?: [leaseId: string, key: string];
  /** The JSON text of the election's read-only txn (term.ts), the same for every read. */
  readBody?: string;
  /**
   * The JSON text of the last held term's parts of a guarded txn (guarded-txn.ts): its guards, without the
   * brackets of the compare list, and the failure branch's reads. The same for every doIfLeader of one hold.
   */
  guarded?: { hold: string; guards: string; failure: string };
}

const b64 = (text: string) => encodeBase64(toBytes(text));

/** Elections already encoded, by `<prefix><name>`: a process works on a few leases, each on every call. */
const elections = new Map<string, Election>();

export function election(prefix: string, name: string): Election {
  const e = prefix + name;
  let found = elections.get(e);
  if (!found) {
    if (elections.size >= 1024) elections.clear();
    found = { name: e, record: b64(e), from: b64(`${e}/`), to: b64(`${e}0`) };
    elections.set(e, found);
  }
  return found;
}

/** The candidate key of lease `leaseId` (decimal) in `e`, base64-encoded. */
export function candidateKey(e: Election, leaseId: string): string {
  if (e.candidate?.[0] !== leaseId) e.candidate = [leaseId, b64(`${e.name}/${BigInt(leaseId).toString(16)}`)];
  return e.candidate[1];
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
