/**
 * The etcd backend with a watch: `Backend.observe` over `POST /v3/watch`, streamed over HTTP. A module of its
 * own, so that code which never observes does not carry it in its bundle.
 *
 * One watch follows an election: the range from the term record key `E` to `E0`, which holds `E` and every
 * candidate key `E/...` (keys of other names that fall between are skipped). It starts with one read-only txn of
 * the whole election (every candidate and the record) at revision R, then watches from R + 1, and keeps the
 * election's keys as the events change them; after each revision it decodes the term from the lowest candidate
 * and the record exactly as `leader()` does. A stream that ends or breaks is opened again from the last revision
 * seen + 1, so no revision is missed or seen twice.
 * The stream is read with `fetch` (see watch-stream.ts).
 */
import {
  type Backend,
  type BackendObserveOptions,
  decodeBase64,
  LeaseTimeoutError,
  MalformedResponseError,
  type ObservedTerm,
  TransportError,
  toBytes,
  UnsupportedError,
} from "../../src/backend-kit.ts";
import { etcdCampaign } from "./campaign.ts";
import { etcd } from "./index.ts";
import { type Election, election } from "./layout.ts";
import { validatePrefix } from "./options.ts";
import { termFrom } from "./term.ts";
import { type EtcdWatchOptions, type WatchEvent, type WatchResult, WatchStreams } from "./watch-stream.ts";
import { int, type WireKeyValue, type WireResponseOp } from "./wire.ts";

export type { EtcdWatchOptions } from "./watch-stream.ts";

/** A stream that breaks this many times in a row before an event is given up (then `observe` polls). */
const MAX_RECONNECTS = 3;

/**
 * Creates an etcd Backend (as `etcd()` does, with the same options and errors) whose `observe` watches.
 * `observe(backend, name)` then follows the lease with `POST /v3/watch` and falls back to polling when the
 * watch cannot be kept. It also queues (`capabilities.campaign`, `Backend.campaign`: campaign.ts), so that
 * `startElector` campaigns as etcd's own Election does.
 * @throws {InvalidArgumentError} as `etcd()`.
 */
export function etcdWithWatch(options: EtcdWatchOptions): Backend {
  const backend = etcd(options);
  const prefix = validatePrefix(options.prefix);
  const streams = new WatchStreams(options);
  const observe = (name: string, o: BackendObserveOptions) => {
    const e = election(prefix, name);
    return watchElection(streams, e, (r) => termFrom(e, r)?.info ?? null, o);
  };
  const campaign = etcdCampaign(streams, prefix, options);
  return Object.assign(backend, {
    observe,
    campaign,
    capabilities: { ...backend.capabilities, campaign: true, transfer: true },
  });
}

const startsWith = (bytes: Uint8Array, prefix: Uint8Array) =>
  bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);

/** The keys of one election as the watch has seen them: candidates by key (base64), and the term record. */
class ElectionKeys {
  readonly #candidates = new Map<string, WireKeyValue>();
  readonly #e: Election;
  readonly #candidatePrefix: Uint8Array;
  #record: WireKeyValue | undefined;

  constructor(e: Election, candidates: readonly WireKeyValue[], record: WireKeyValue | undefined) {
    this.#e = e;
    this.#candidatePrefix = toBytes(`${e.name}/`);
    for (const kv of candidates) this.#candidates.set(kv.key ?? "", kv);
    this.#record = record;
  }

  /** Applies one event; false when its key is not the election's (another name's key within the range). */
  apply(type: string | undefined, kv: WireKeyValue): boolean {
    const key = kv.key ?? "";
    const isRecord = key === this.#e.record;
    if (!isRecord && !startsWith(decodeBase64(key, "etcd watch event key"), this.#candidatePrefix))
      return false;
    const put = type === undefined || type === "PUT";
    if (!put && type !== "DELETE") throw new MalformedResponseError(`etcd watch: an event of type ${type}`);
    if (isRecord) this.#record = put ? kv : undefined;
    else if (put) this.#candidates.set(key, kv);
    else this.#candidates.delete(key);
    return true;
  }

  /** The two ranges `leader()` reads: the candidate with the lowest create revision, and the record. */
  responses(): WireResponseOp[] {
    let first: WireKeyValue | undefined;
    for (const kv of this.#candidates.values()) {
      if (!first || int(kv.create_revision) < int(first.create_revision)) first = kv;
    }
    // As etcd answers a range: `count` is the number of keys in it, `kvs` the first (limit 1).
    const range = (kv: WireKeyValue | undefined, count: number) => {
      const found = { kvs: kv ? [kv] : [], count: String(count) };
      return { response_range: found };
    };
    return [range(first, this.#candidates.size), range(this.#record, this.#record ? 1 : 0)];
  }
}

/**
 * Follows election `e`: the term at the start, then after every revision that changed its keys. Throws (and
 * `observe` then polls) when the watch cannot go on without a gap: a compacted revision, a canceled watch, a
 * stream that breaks {@link MAX_RECONNECTS} times in a row, or one that cannot be opened again, and a stream
 * silent for `checkIntervalMs` whose term differs from a read of the store twice, `requestTimeoutMs` apart.
 */
export async function* watchElection(
  streams: Pick<WatchStreams, "read" | "open">,
  e: Election,
  decode: (responses: WireResponseOp[]) => ObservedTerm["leader"],
  { signal, requestTimeoutMs, checkIntervalMs }: BackendObserveOptions,
): AsyncGenerator<ObservedTerm> {
  const start = await streams.read(e, signal, requestTimeoutMs);
  const keys = new ElectionKeys(e, start.candidates, start.record);
  let revision = start.revision;
  let started = false;
  let broken = 0;
  while (!signal.aborted) {
    const request = {
      create_request: { key: e.record, range_end: e.to, start_revision: String(revision + 1n) },
    };
    const stream = await streams.open(request, signal, requestTimeoutMs);
    const openedAt = Date.now();
    try {
      // The start is reported once a stream follows it, so that `watch` mode means one does.
      if (!started) {
        started = true;
        yield { leader: decode(keys.responses()), revision };
      }
      let pending: Promise<WatchResult | TransportError | null> | undefined;
      let checkAt = Date.now() + checkIntervalMs;
      let behind = false;
      for (;;) {
        // Only a broken connection is worth a new stream; a bad message ends the watch.
        pending ??= stream.next().catch((error: unknown) => {
          if (signal.aborted || !(error instanceof TransportError)) throw error;
          return error;
        });
        const result = await orCheck(pending, checkAt - Date.now());
        if (result === CHECK) {
          // A silent stream may be a dead connection or one a proxy holds back: compare it with the store.
          const now = await streams.read(e, signal, requestTimeoutMs);
          const current = new ElectionKeys(e, now.candidates, now.record);
          if (sameTerm(decode(current.responses()), decode(keys.responses()))) behind = false;
          else if (behind) {
            throw new LeaseTimeoutError(
              `etcd watch: the stream stayed behind the store (revision ${now.revision}) for ${requestTimeoutMs} ms`,
            );
          } else behind = true;
          checkAt = Date.now() + (behind ? requestTimeoutMs : checkIntervalMs);
          continue;
        }
        pending = undefined;
        if (result === null || result instanceof Error) {
          // A stream that lived a while broke once; one that keeps breaking at once is given up.
          if (Date.now() - openedAt > requestTimeoutMs) broken = 0;
          if (++broken > MAX_RECONNECTS) {
            throw result ?? new TransportError("etcd watch: the stream keeps ending");
          }
          break;
        }
        if (result.compact_revision !== undefined) {
          throw new UnsupportedError(
            `etcd watch: revision ${revision + 1n} is compacted (to ${result.compact_revision}); the changes since cannot be replayed`,
          );
        }
        if (result.canceled)
          throw new TransportError(`etcd watch canceled: ${result.cancel_reason ?? "no reason"}`);
        for (const group of byRevision(result.events ?? [], revision)) {
          broken = 0;
          revision = group.revision;
          let touched = false;
          for (const event of group.events) touched = keys.apply(event.type, event.kv) || touched;
          if (touched) yield { leader: decode(keys.responses()), revision };
        }
      }
    } finally {
      stream.close();
    }
  }
}

const CHECK = Symbol("check");

/** `pending`'s value, or {@link CHECK} when `ms` pass first. */
async function orCheck<T>(pending: Promise<T>, ms: number): Promise<T | typeof CHECK> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const due = new Promise<typeof CHECK>((resolve) => {
    timer = setTimeout(() => resolve(CHECK), Math.max(0, ms));
  });
  try {
    return await Promise.race([pending, due]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

const sameTerm = (a: ObservedTerm["leader"], b: ObservedTerm["leader"]) =>
  JSON.stringify(a, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) ===
  JSON.stringify(b, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v));

/** Events grouped by their revision (one store transaction each), in order, all after `after`. */
function byRevision(events: readonly WatchEvent[], after: bigint) {
  const groups: { revision: bigint; events: WatchEvent[] }[] = [];
  let last = after;
  for (const event of events) {
    const at = int(event.kv.mod_revision);
    const group = groups[groups.length - 1];
    if (group && at === group.revision) group.events.push(event);
    else if (at > last) groups.push({ revision: at, events: [event] });
    else throw new MalformedResponseError(`etcd watch: an event at revision ${at} after revision ${last}`);
    last = at;
  }
  return groups;
}
