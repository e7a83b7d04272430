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

export function election(prefix: string, name: string): Election {
  const e = prefix + name;
  return {
    name: e,
    record: encodeBase64(toBytes(e)),
    from: encodeBase64(toBytes(`${e}/`)),
    to: encodeBase64(toBytes(`${e}0`)),
  };
}

/** The candidate key of lease `leaseId` (decimal) in `e`, base64-encoded. */
export function candidateKey(e: Election, leaseId: string): string {
  return encodeBase64(toBytes(`${e.name}/${BigInt(leaseId).toString(16)}`));
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
