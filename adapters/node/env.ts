/**
 * TLS files for etcd named by environment variables (Node only: it reads the files).
 *
 * - `LEASEHOLD_ETCD_CACERT` (else `ETCDCTL_CACERT`): path of a PEM file of CA certificates.
 * - `LEASEHOLD_ETCD_CERT` (else `ETCDCTL_CERT`): path of the client certificate (PEM), with
 * - `LEASEHOLD_ETCD_KEY` (else `ETCDCTL_KEY`): path of its private key (PEM).
 */
import { readFileSync } from "node:fs";
import { InvalidArgumentError } from "../../src/backend-kit.ts";
import { type UndiciTlsOptions, type UndiciTransportOptions, undiciTransport } from "./transport.ts";

/** An environment: string values by variable name, e.g. `process.env`. Other values are ignored. */
export type EnvSource = Readonly<Record<string, unknown>>;

function pick(
  env: EnvSource,
  name: string,
  fallback: string,
): { variable: string; path: string } | undefined {
  for (const variable of [name, fallback]) {
    const value = env[variable];
    if (typeof value === "string" && value.trim() !== "") return { variable, path: value.trim() };
  }
  return undefined;
}

function readPem(found: { variable: string; path: string }): Buffer {
  try {
    return readFileSync(found.path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new InvalidArgumentError(
      found.variable,
      `names a file that cannot be read (${reason}): ${found.path}`,
    );
  }
}

/**
 * Reads the TLS files named in `env`; undefined when none is named.
 * @throws {InvalidArgumentError} whose `field` is the variable: a file cannot be read, or a certificate is
 *   named without its key (or the reverse).
 */
export function etcdTlsFromEnv(env: EnvSource = process.env): UndiciTlsOptions | undefined {
  const ca = pick(env, "LEASEHOLD_ETCD_CACERT", "ETCDCTL_CACERT");
  const cert = pick(env, "LEASEHOLD_ETCD_CERT", "ETCDCTL_CERT");
  const key = pick(env, "LEASEHOLD_ETCD_KEY", "ETCDCTL_KEY");
  if (cert && !key) throw new InvalidArgumentError("LEASEHOLD_ETCD_KEY", `must be set with ${cert.variable}`);
  if (key && !cert) throw new InvalidArgumentError("LEASEHOLD_ETCD_CERT", `must be set with ${key.variable}`);
  if (!ca && !cert) return undefined;
  return {
    ...(ca ? { ca: readPem(ca) } : {}),
    ...(cert && key ? { cert: readPem(cert), key: readPem(key) } : {}),
  };
}

/**
 * `undiciTransport(options)` with TLS material from {@link etcdTlsFromEnv}; `options.tls` wins when given.
 * @throws {InvalidArgumentError} naming the variable (see {@link etcdTlsFromEnv}) or the option.
 */
export function undiciTransportFromEnv(env: EnvSource = process.env, options: UndiciTransportOptions = {}) {
  const tls = options.tls ?? etcdTlsFromEnv(env);
  return undiciTransport({ ...options, ...(tls ? { tls } : {}) });
}
