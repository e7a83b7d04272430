/**
 * Where the lease lives, from flags and the environment: `--zookeeper URL` (or `LEASEHOLD_ZOOKEEPER_URL`) picks
 * ZooKeeper through a REST gateway; otherwise etcd, configured as `etcdFromEnv` reads it (`LEASEHOLD_ETCD_*`,
 * falling back to `ETCDCTL_*`), with `--endpoints` and `--prefix` winning. Errors name the flag or variable.
 * The etcd backend has the `/v3/watch` stream (`etcdWithWatch`), for `observe` and `run --wait`.
 */
import {
  type Backend,
  createLease,
  fetchTransport,
  InvalidArgumentError,
  isLeaseError,
  type Lease,
  type Transport,
} from "../../src/backend-kit.ts";
import { DEFAULT_PREFIX as ETCD_DEFAULT_PREFIX, etcdOptionsFromEnv } from "../etcd/index.ts";
import { etcdWithWatch } from "../etcd/watch.ts";
import { zookeeper } from "../zookeeper/index.ts";
import { CliError, EXIT_CONFIG, EXIT_NOPERM, EXIT_UNAVAILABLE, EXIT_USAGE, usageError } from "./exit.ts";

export type Env = Readonly<Record<string, string | undefined>>;

/** The flags every subcommand takes, for `parseArgs`. */
export const CONNECTION_OPTIONS = {
  endpoints: { type: "string" },
  prefix: { type: "string" },
  zookeeper: { type: "string" },
  json: { type: "boolean", default: false },
  verbose: { type: "boolean", short: "v", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

export interface ConnectionFlags {
  endpoints?: string | undefined;
  prefix?: string | undefined;
  zookeeper?: string | undefined;
}

export interface Store {
  backend: Backend;
  /** etcd's key prefix, for `ETCD_LOCK_KEY`; null on ZooKeeper. */
  etcdPrefix: string | null;
}

const TLS_VARIABLES = [
  "LEASEHOLD_ETCD_CACERT",
  "ETCDCTL_CACERT",
  "LEASEHOLD_ETCD_CERT",
  "ETCDCTL_CERT",
  "LEASEHOLD_ETCD_KEY",
  "ETCDCTL_KEY",
];

/**
 * Runs `build`, turning an `InvalidArgumentError` into a {@link CliError} that names the flag the field came from
 * (`rename`), or the variable it names itself (exit code 78).
 */
function named<T>(build: () => T, rename: Readonly<Record<string, string>>): T {
  try {
    return build();
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    const root = error.field.replace(/\[\d+\]$/, "");
    const flag = rename[root];
    if (flag) throw usageError(flag, error.rule);
    throw new CliError(error.message, /^[A-Z_]+$/.test(root) ? EXIT_CONFIG : EXIT_USAGE);
  }
}

/** How etcd is reached: the transport of the requests, and the `fetch` that reads watch streams. */
interface EtcdConnection {
  transport: Transport;
  fetch?: typeof fetch;
}

/**
 * undici with the TLS files named in the environment (`leasehold/node`), loaded only when installed: undici
 * is an optional peer dependency; the watch streams then use undici's fetch with the same TLS files. Without
 * undici, `fetch`, unless TLS files are named.
 */
async function etcdConnection(env: Env): Promise<EtcdConnection> {
  try {
    const { etcdTlsFromEnv, undiciTransportFromEnv } = await import("../node/index.ts");
    const tls = named(() => etcdTlsFromEnv(env), {});
    const transport = named(() => undiciTransportFromEnv(env, tls ? { tls } : {}), {});
    if (!tls) return { transport };
    const undici = await import("undici");
    const dispatcher = new undici.Agent({
      connect: { ...tls, ca: tls.ca as string | Buffer | (string | Buffer)[] },
    });
    // undici's fetch takes its own dispatcher; its Request and Response are what the global fetch's are on Node.
    const tlsFetch = (input: string | URL | Request, init?: RequestInit) =>
      undici.fetch(input as string, { ...(init as object), dispatcher }) as unknown as Promise<Response>;
    return { transport, fetch: tlsFetch };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== "ERR_MODULE_NOT_FOUND" || !String((error as Error).message).includes("undici")) throw error;
    const tls = TLS_VARIABLES.find((name) => env[name]?.trim());
    if (tls) {
      throw new CliError(
        `${tls}: TLS files need the undici package next to leasehold (npm install undici)`,
        EXIT_CONFIG,
      );
    }
    return { transport: fetchTransport() };
  }
}

/**
 * The backend named by `flags` and `env`.
 * @throws {CliError} a flag (exit 64) or a variable (exit 78) is missing or wrong, named in the message.
 */
export async function storeFrom(flags: ConnectionFlags, env: Env): Promise<Store> {
  const zkUrl = flags.zookeeper ?? env.LEASEHOLD_ZOOKEEPER_URL?.trim();
  if (zkUrl) {
    if (flags.endpoints !== undefined) throw usageError("--zookeeper", "cannot be used with --endpoints");
    const urlName = flags.zookeeper === undefined ? "LEASEHOLD_ZOOKEEPER_URL" : "--zookeeper";
    const backend = named(
      () => zookeeper({ url: zkUrl, ...(flags.prefix === undefined ? {} : { prefix: flags.prefix }) }),
      { url: urlName, prefix: "--prefix" },
    );
    return { backend, etcdPrefix: null };
  }
  const endpoints = flags.endpoints
    ?.split(",")
    .map((s) => s.trim())
    .map((s) => (/^[a-z]+:\/\//i.test(s) ? s : `http://${s}`));
  const connection = await etcdConnection(env);
  const options = named(
    () =>
      etcdOptionsFromEnv(env, {
        transport: connection.transport,
        ...(endpoints ? { endpoints } : {}),
        ...(flags.prefix === undefined ? {} : { prefix: flags.prefix }),
      }),
    {},
  );
  const backend = named(
    () => etcdWithWatch({ ...options, ...(connection.fetch ? { fetch: connection.fetch } : {}) }),
    { endpoints: "--endpoints", prefix: "--prefix" },
  );
  return { backend, etcdPrefix: options.prefix ?? ETCD_DEFAULT_PREFIX };
}

/**
 * The exit code and one-line message for an error of a store call: credentials refused 77, anything else the
 * store did 69. Messages of leasehold errors never carry secrets.
 */
export function storeFailure(what: string, error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (isLeaseError(error)) {
    return new CliError(
      `${what}: ${error.message} (${error.code})`,
      error.code === "AUTH" ? EXIT_NOPERM : EXIT_UNAVAILABLE,
    );
  }
  return new CliError(`${what}: ${error instanceof Error ? error.message : String(error)}`, EXIT_UNAVAILABLE);
}

/**
 * A lease handle on `store`; a bad name, holder or TTL is reported under `flags` (e.g. `{ name: "--name" }`).
 * @throws {CliError} exit 64.
 */
export function leaseOn(
  store: Store,
  options: { name: string; holder: string; ttlMs: number },
  flags: Readonly<Record<string, string>>,
): Lease {
  return named(() => createLease({ backend: store.backend, ...options }), flags);
}
