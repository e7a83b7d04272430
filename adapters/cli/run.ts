/**
 * `leasehold run`: claims a lease, runs a command only while holding it, renews the term meanwhile with the
 * library's one renewal loop (`keepTerm`), stops the command's process group when the term ends, and hands the
 * term on (release, or park with `--keep`) when the command exits.
 */
import { constants } from "node:os";
import {
  type KeptTermEnd,
  keepTerm,
  type Lease,
  LeaseLostError,
  type LeaseState,
  systemClock,
} from "../../src/backend-kit.ts";
import { type Child, type ChildEnd, exitCodeOf, startChild } from "./child.ts";
import { claimLease, describeHolder } from "./claim.ts";
import { type Env, leaseOn, type Store, storeFailure, storeFrom } from "./config.ts";
import { formatMs } from "./duration.ts";
import { EXIT_HELD, EXIT_TERM_ENDED } from "./exit.ts";
import { createReporter, type Reporter } from "./output.ts";
import { parseRunArgs, type RunArgs } from "./run-args.ts";
import { RUN_USAGE } from "./usage.ts";

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** The child's environment: the caller's, plus the term (and on etcd what `etcdctl lock` would set). */
function childEnv(env: Env, a: RunArgs, state: LeaseState, store: Store): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {
    ...env,
    LEASEHOLD_NAME: a.name,
    LEASEHOLD_HOLDER: a.holder,
    LEASEHOLD_TOKEN: String(state.token),
    LEASEHOLD_LEASE_ID: String(state.leaseId),
    LEASEHOLD_LEASE_ID_HEX: String(state.leaseIdHex),
    LEASEHOLD_VALID_UNTIL_MS: String(state.validUntil),
    LEASEHOLD_TTL_MS: String(state.ttlMs),
  };
  delete out.ETCD_LOCK_KEY;
  delete out.ETCD_LOCK_REV;
  if (store.etcdPrefix !== null) {
    // etcdctl lock's key is the candidate key of the election layout; its revision, the key's create revision.
    out.ETCD_LOCK_KEY = `${store.etcdPrefix}${a.name}/${state.leaseIdHex}`;
    out.ETCD_LOCK_REV = String(state.token);
  }
  return out;
}

/** `lease` with a hook on every successful renewal: keepTerm drives it, the child's supervisor hears of it. */
function onRenewal(lease: Lease, renewed: (state: LeaseState) => void): Lease {
  return {
    name: lease.name,
    holder: lease.holder,
    ttlMs: lease.ttlMs,
    backend: lease.backend,
    claim: (o) => lease.claim(o),
    renew: async (o) => {
      const state = await lease.renew(o);
      renewed(state);
      return state;
    },
    release: (o) => lease.release(o),
    park: (o) => lease.park(o),
    leader: (o) => lease.leader(o),
    doIfLeader: (ops, compares, o) => lease.doIfLeader(ops, compares, o),
    state: () => lease.state(),
  };
}

function describeEnd(end: ChildEnd): string {
  if (end.spawnError) return `could not start: ${end.spawnError.message}`;
  const how = end.code !== null ? `exited with code ${end.code}` : `was ended by ${end.signal}`;
  return end.leftovers === "gone" ? how : `${how}; what it left running in its group was ${end.leftovers}`;
}

/** Releases or parks the term; a failure is reported, not thrown: the term then ends by its TTL. */
async function handOff(lease: Lease, keep: boolean, report: Reporter): Promise<void> {
  const what = keep ? "park" : "release";
  try {
    if (keep) await lease.park();
    else await lease.release();
    report.event(
      keep ? "parked" : "released",
      { name: lease.name },
      `${keep ? "parked" : "released"} ${lease.name}`,
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    report.event(
      "hand-off-failed",
      { name: lease.name, action: what, message },
      `could not ${what} ${lease.name} (${message}); the term ends by its TTL`,
    );
  }
}

/** After the term ended under the child: say how, and end what is left of it in the store. */
async function termEnded(
  lease: Lease,
  a: RunArgs,
  why: KeptTermEnd | "valid-until",
  end: ChildEnd,
  report: Reporter,
) {
  const reason =
    why === "valid-until"
      ? "expired: its validUntil passed without a renewal while leasehold could not run"
      : why.reason === "stopped"
        ? "ended"
        : `${why.reason}: ${why.error instanceof Error ? why.error.message : String(why.error)}`;
  report.event(
    "term-ended",
    { name: a.name, reason: why === "valid-until" ? "expired" : why.reason, child: describeEnd(end) },
    `term of ${a.name} ${reason}; the child ${describeEnd(end)}`,
  );
  const gone = why !== "valid-until" && why.reason === "lost" && why.error instanceof LeaseLostError;
  if (!gone) await handOff(lease, false, report);
}

/** Runs the child while the term lasts; resolves with the exit code. */
async function supervise(lease: Lease, a: RunArgs, child: Child, report: Reporter): Promise<number> {
  const stopRenewing = new AbortController();
  const watched = onRenewal(lease, (state) => {
    child.validUntil(state.validUntil as number);
    report.detail("renewed", { name: a.name, validUntilMs: state.validUntil }, `renewed ${a.name}`);
  });
  const term = keepTerm(watched, Math.floor(lease.ttlMs / 3), systemClock, stopRenewing.signal);
  const first = await Promise.race([child.ended, term.then((end) => ({ term: end }))]);
  if ("term" in first) {
    report.event(
      "stopping",
      { name: a.name, graceMs: a.graceMs },
      `term of ${a.name} ${first.term.reason}; stopping the child (SIGTERM, SIGKILL after ${formatMs(a.graceMs)})`,
    );
    child.terminate();
    await termEnded(lease, a, first.term, await child.ended, report);
    return EXIT_TERM_ENDED;
  }
  stopRenewing.abort();
  const end = await term;
  if (first.ending === "valid-until" || end.reason !== "stopped") {
    await termEnded(lease, a, end.reason === "stopped" ? "valid-until" : end, first, report);
    return EXIT_TERM_ENDED;
  }
  const code = exitCodeOf(first);
  report.event("child-exited", { name: a.name, exitCode: code }, `the child ${describeEnd(first)}`);
  await handOff(lease, a.keep, report);
  return code;
}

/** Entry point of `leasehold run`; resolves with the exit code. @throws {CliError} */
export async function run(argv: readonly string[], env: Env): Promise<number> {
  const a = parseRunArgs(argv);
  if (a === "help") {
    process.stdout.write(RUN_USAGE);
    return 0;
  }
  const report = createReporter(process.stderr, { json: a.json, verbose: a.verbose, label: "leasehold: " });
  const store = await storeFrom(a.connection, env);
  const lease = leaseOn(store, a, { name: "--name", holder: "--holder", ttlMs: "--ttl" });
  const waiting = new AbortController();
  let child: Child | undefined;
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (child) {
      report.event("signal", { signal }, `forwarding ${signal} to the child`);
      child.signal(signal);
    } else {
      interrupted = signal;
      waiting.abort();
    }
  };
  for (const signal of FORWARDED) process.on(signal, onSignal);
  try {
    let state: LeaseState;
    try {
      state = await claimLease(lease, a.waitMs, waiting.signal, report);
    } catch (error) {
      if (interrupted) return 128 + constants.signals[interrupted];
      throw storeFailure(`claim of ${a.name}`, error);
    }
    if (interrupted) {
      if (state.isLeader) await handOff(lease, false, report);
      return 128 + constants.signals[interrupted];
    }
    if (!state.isLeader) {
      const gaveUp = a.waitMs === undefined ? "" : "gave up waiting: ";
      report.event(
        "held",
        { name: a.name, holder: state.holder, token: state.token, busy: state.busy },
        `${gaveUp}${a.name} is held by ${describeHolder(state)}`,
      );
      return EXIT_HELD;
    }
    report.event(
      "claimed",
      {
        name: a.name,
        holder: a.holder,
        token: state.token,
        leaseId: state.leaseId,
        leaseIdHex: state.leaseIdHex,
        ttlMs: state.ttlMs,
        validUntilMs: state.validUntil,
      },
      `claimed ${a.name} as ${a.holder}: token ${state.token}, lease ${state.leaseIdHex}, TTL ${formatMs(lease.ttlMs)}`,
    );
    child = startChild({
      command: a.command,
      args: a.args,
      env: childEnv(env, a, state, store),
      graceMs: a.graceMs,
      validUntilMs: state.validUntil as number,
    });
    return await supervise(lease, a, child, report);
  } finally {
    for (const signal of FORWARDED) process.off(signal, onSignal);
    await store.backend.close?.();
  }
}
