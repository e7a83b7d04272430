#!/usr/bin/env node
/**
 * The `leasehold-zk-gateway` bin: a ZooKeeper REST gateway (SPEC v2) for leasehold's ZooKeeper backend and
 * any other SPEC v2 client. Run with `--help` for the options and the shutdown behaviour.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type Credentials, parseCredentials } from "./basic-auth.ts";
import { createZkGateway } from "./server.ts";
import { parseSessionKeys } from "./session-token.ts";

const USAGE = `Usage: leasehold-zk-gateway [options]

A ZooKeeper REST gateway (SPEC v2, as Apache ZooKeeper's contrib gateway speaks it) with an extension at
/leasehold/v1: an atomic multi and a long-poll watch.

On SIGTERM or SIGINT it stops accepting requests and closes each session when its expire runs out (its
holder may count on it until then), then exits; a second signal closes every session at once.

Options:
  --zookeeper <hosts>       ZooKeeper connection string (default 127.0.0.1:2181)
  --listen <host:port>      where to listen (default 127.0.0.1:9998, loopback only)
  --max-sessions <n>        most REST sessions this instance holds at once; more get 503 (default 1000)
  --min-expire <s>          smallest session expire in seconds; below it 400 (default 1)
  --max-expire <s>          largest session expire in seconds; above it 400 (default 3600)
  --zk-timeout <ms>         deadline of each ZooKeeper call (default 5000)
  --session-key-file <path> AES-256 keys sealing the REST session IDs, one per line (32 bytes, base64
                            or hex; the first seals, any opens), so that the gateway restarted, or
                            several instances behind one URL, serve the same sessions
                            (or set LEASEHOLD_ZK_GATEWAY_SESSION_KEYS="key,..."); without one, a
                            random key: sessions end with the process
  --basic-auth-file <path>  require HTTP basic auth; the file holds user:password lines
                            (or set LEASEHOLD_ZK_GATEWAY_BASIC_AUTH="user:password,...")
  --no-extensions           serve SPEC v2 only, like Apache's gateway (no /leasehold/v1)
  --log-requests            log one line per request to stderr (off by default)
  --help                    show this help
`;

/** Splits `host:port`, `[v6]:port` or `:port` / `port`. */
function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):?(\d+)$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`--listen must be host:port, e.g. 127.0.0.1:9998 (got ${JSON.stringify(value)})`);
  }
  return { host: match[1] ?? (match[2] || "127.0.0.1"), port };
}

function integer(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
    throw new RangeError(`${name} must be a whole number`);
  return n;
}

function credentialsFrom(file: string | undefined): Credentials | undefined {
  const text = file === undefined ? process.env.LEASEHOLD_ZK_GATEWAY_BASIC_AUTH : readFileSync(file, "utf8");
  if (text === undefined || text.trim() === "") return undefined;
  const credentials = parseCredentials(text);
  return credentials.size > 0 ? credentials : undefined;
}

function sessionKeysFrom(file: string | undefined): Buffer[] | undefined {
  const text =
    file === undefined ? process.env.LEASEHOLD_ZK_GATEWAY_SESSION_KEYS : readFileSync(file, "utf8");
  if (text === undefined || text.trim() === "") return undefined;
  const keys = parseSessionKeys(text);
  return keys.length > 0 ? keys : undefined;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      zookeeper: { type: "string", default: "127.0.0.1:2181" },
      listen: { type: "string", default: "127.0.0.1:9998" },
      "max-sessions": { type: "string" },
      "min-expire": { type: "string" },
      "max-expire": { type: "string" },
      "zk-timeout": { type: "string" },
      "basic-auth-file": { type: "string" },
      "session-key-file": { type: "string" },
      "no-extensions": { type: "boolean", default: false },
      "log-requests": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const { host, port } = parseListen(values.listen);
  const credentials = credentialsFrom(values["basic-auth-file"]);
  const sessionKeys = sessionKeysFrom(values["session-key-file"]);
  const gateway = createZkGateway({
    zookeeper: values.zookeeper,
    host,
    port,
    maxSessions: integer(values["max-sessions"], "--max-sessions"),
    minExpireS: integer(values["min-expire"], "--min-expire"),
    maxExpireS: integer(values["max-expire"], "--max-expire"),
    zkTimeoutMs: integer(values["zk-timeout"], "--zk-timeout"),
    extensions: !values["no-extensions"],
    sessionKeys,
    ...(credentials ? { credentials } : {}),
    ...(values["log-requests"] ? { log: (line: string) => process.stderr.write(`${line}\n`) } : {}),
  });
  const url = await gateway.listen();
  process.stdout.write(`leasehold-zk-gateway listening on ${url} (ZooKeeper ${values.zookeeper})\n`);
  if (!sessionKeys) {
    process.stderr.write(
      "leasehold-zk-gateway: no session key given: REST sessions will not survive a restart of this process\n",
    );
  }
  let signals = 0;
  const stop = () => {
    signals += 1;
    if (signals > 1) {
      process.stderr.write("leasehold-zk-gateway: closing every session now\n");
      void gateway.close({ sessions: "close" });
      return;
    }
    process.stderr.write(
      `leasehold-zk-gateway: stopped accepting requests; closing ${gateway.sessionCount} session(s) as their expire runs out (signal again to close them now)\n`,
    );
    gateway.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`leasehold-zk-gateway: shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`leasehold-zk-gateway: ${error instanceof Error ? error.message : String(error)}\n`);
  process.stderr.write("Run with --help for usage.\n");
  process.exit(2);
});
