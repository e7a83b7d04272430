/**
 * One torture worker process: a stateless cron-style invoker (a new backend and lease handle per invocation:
 * claim, a guarded write naming its term, then park or release) or a long-running elector (startElector,
 * a few guarded writes per term, then stop with release). It logs everything it is told (events.ts) and runs
 * until it is killed. Usage: node scripts/torture/worker.ts '<WorkerConfig as JSON>'
 */
import { etcd } from "../../adapters/etcd/index.ts";
import { undiciTransport } from "../../adapters/node/index.ts";
import { zookeeper } from "../../adapters/zookeeper/index.ts";
import {
  type Backend,
  createLease,
  fetchTransport,
  isLeaseError,
  type Lease,
  type LeaseState,
  startElector,
} from "../../src/index.ts";
import { eventLog, type WorkerConfig, type WriteValue } from "./events.ts";

const config = JSON.parse(process.argv[2] ?? "{}") as WorkerConfig;
const log = eventLog(config.log, config.id);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A backend of this worker's store, and the hold of the last claim it won (the Lease API keeps it private). */
function makeBackend(): { backend: Backend; hold: () => string | null } {
  const transport = config.transport === "undici" ? undiciTransport() : fetchTransport();
  const inner =
    config.store === "etcd"
      ? etcd({ endpoints: config.endpoints, transport })
      : zookeeper({ url: config.endpoints[0] as string, transport, extensions: "leasehold-v1" });
  let hold: string | null = null;
  const backend: Backend = {
    kind: inner.kind,
    capabilities: inner.capabilities,
    async claim(req, ctx) {
      const outcome = await inner.claim(req, ctx);
      if (outcome.held) hold = outcome.hold;
      return outcome;
    },
    renew: (term, ctx) => inner.renew(term, ctx),
    release: (term, ctx) => inner.release(term, ctx),
    park: (term, ctx) => inner.park(term, ctx),
    releaseParked: (name, holder, ctx) => inner.releaseParked(name, holder, ctx),
    leader: (name, ctx) => inner.leader(name, ctx),
    txn: (req, ctx) => inner.txn(req, ctx),
    close: async () => {
      await inner.close?.();
      await transport.close?.();
    },
  };
  return { backend, hold: () => hold };
}

function logError(h: string, op: string, error: unknown, key?: string): void {
  const typed = isLeaseError(error);
  log({
    ev: "error",
    h,
    op,
    typed,
    code: typed ? error.code : error instanceof Error ? error.name : typeof error,
    retryable: typed ? error.retryable : false,
    message: (error instanceof Error ? error.message : String(error)).slice(0, 300),
    ...(key === undefined ? {} : { key }),
  });
}

function logState(h: string, ev: "claim" | "renew", sentAt: number, s: LeaseState, hold: string | null) {
  log({
    ev,
    h,
    sentAt,
    isLeader: s.isLeader,
    busy: s.busy,
    holder: s.holder,
    token: s.token?.toString() ?? null,
    leaseId: s.leaseId,
    validUntil: s.validUntil,
    hold: s.isLeader ? hold : null,
  });
}

let seq = 0;

/** One guarded write of a unique key naming the term and hold it is made under. */
async function write(h: string, lease: Lease, token: bigint, hold: string): Promise<void> {
  seq++;
  const key = `${config.writePrefix}/${config.id}-${process.pid}-${seq}`;
  const value: WriteValue = { w: config.id, h, token: token.toString(), hold };
  log({ ev: "write-sent", h, key, token: value.token, hold });
  try {
    const r = await lease.doIfLeader([{ type: "put", key, value: JSON.stringify(value) }]);
    log({ ev: "write", h, key, applied: r.applied, ...(r.applied ? {} : { reason: r.reason }) });
  } catch (error) {
    logError(h, "write", error, key);
  }
}

/** The lease options both roles share; `backend` decides the store. */
const leaseOptions = (backend: Backend) => ({
  backend,
  name: config.name,
  holder: config.holder,
  ttlMs: config.ttlMs,
});

async function invoke(n: number): Promise<void> {
  const h = `${config.id}#${n}`;
  const { backend, hold } = makeBackend();
  const lease = createLease(leaseOptions(backend));
  try {
    const sentAt = Date.now();
    let s: LeaseState;
    try {
      s = await lease.claim();
    } catch (error) {
      logError(h, "claim", error);
      return;
    }
    logState(h, "claim", sentAt, s, hold());
    const mine = hold();
    if (!s.isLeader || s.token === null || mine === null) return;
    await sleep(Math.random() * 300);
    await write(h, lease, s.token, mine);
    const release = Math.random() < 0.3;
    log({ ev: release ? "release-sent" : "park-sent", h });
    try {
      await (release ? lease.release() : lease.park());
      log({ ev: release ? "release" : "park", h });
    } catch (error) {
      logError(h, release ? "release" : "park", error);
    }
  } finally {
    await backend.close?.();
  }
}

/** The lease as the elector sees it, logging every answer it gets. */
function logged(lease: Lease, h: string, hold: () => string | null): Lease {
  const track =
    (ev: "claim" | "renew") =>
    async (options?: { signal?: AbortSignal }): Promise<LeaseState> => {
      const sentAt = Date.now();
      try {
        const s = await (ev === "claim" ? lease.claim(options) : lease.renew(options));
        logState(h, ev, sentAt, s, hold());
        return s;
      } catch (error) {
        logError(h, ev, error);
        throw error;
      }
    };
  const handOff =
    (ev: "park" | "release") =>
    async (options?: { signal?: AbortSignal }): Promise<void> => {
      log({ ev: ev === "park" ? "park-sent" : "release-sent", h });
      await (ev === "park" ? lease.park(options) : lease.release(options));
      log({ ev, h });
    };
  return {
    name: lease.name,
    holder: lease.holder,
    ttlMs: lease.ttlMs,
    backend: lease.backend,
    claim: track("claim"),
    renew: track("renew"),
    park: handOff("park"),
    release: handOff("release"),
    leader: (options) => lease.leader(options),
    doIfLeader: (ops, compares, options) => lease.doIfLeader(ops, compares, options),
    state: () => lease.state(),
  };
}

async function elect(n: number): Promise<void> {
  const h = `${config.id}#${n}`;
  const { backend, hold } = makeBackend();
  const lease = logged(createLease(leaseOptions(backend)), h, hold);
  const tenure = config.steady ? Number.POSITIVE_INFINITY : 3 + Math.floor(Math.random() * 6);
  let done = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const elector = startElector({
    lease,
    retryIntervalMs: 300,
    onElected: async (state, signal) => {
      const mine = hold();
      for (let i = 0; i < tenure && !signal.aborted && state.token !== null && mine !== null; i++) {
        await sleep(150 + Math.random() * 150);
        if (!signal.aborted) await write(h, lease, state.token, mine);
      }
      if (!signal.aborted) done();
    },
    onDemoted: (end) => log({ ev: "demoted", h, reason: end.reason }),
    onError: (error) => {
      if (!isLeaseError(error)) logError(h, "elector", error);
    },
  });
  await finished;
  try {
    await elector.stop({ release: true });
  } catch (error) {
    logError(h, "release", error);
  }
  await backend.close?.();
  await sleep(200 + Math.random() * 400);
}

log({
  ev: "start",
  h: `${config.id}#0`,
  role: config.role,
  holder: config.holder,
  transport: config.transport,
});
for (let n = 1; ; n++) {
  if (config.role === "invoker") {
    await sleep(config.periodMs - (Date.now() % config.periodMs));
    await invoke(n);
  } else {
    await elect(n);
  }
}
