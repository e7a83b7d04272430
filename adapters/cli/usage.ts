/** `--help` texts of the `leasehold` bin and its subcommands. */

const CONNECTION = `Store (etcd unless --zookeeper is given):
  --endpoints <urls>   etcd URLs, comma-separated (else LEASEHOLD_ETCD_ENDPOINTS, else ETCDCTL_ENDPOINTS)
  --prefix <prefix>    key prefix (etcd default "leasehold/", else LEASEHOLD_ETCD_PREFIX; ZooKeeper "/leasehold")
  --zookeeper <url>    a ZooKeeper REST gateway, e.g. http://127.0.0.1:9998 (else LEASEHOLD_ZOOKEEPER_URL)
  etcd credentials: LEASEHOLD_ETCD_USERNAME / LEASEHOLD_ETCD_PASSWORD (else ETCDCTL_USER, ETCDCTL_PASSWORD);
  TLS files: LEASEHOLD_ETCD_CACERT, LEASEHOLD_ETCD_CERT, LEASEHOLD_ETCD_KEY (else ETCDCTL_CACERT, _CERT, _KEY).`;

export const MAIN_USAGE = `Usage: leasehold <command> [options]

Commands:
  run       run a command only while holding a lease
  leader    who holds a lease now
  observe   print a line whenever the holder of a lease changes
  release   end a holder's parked term

Run "leasehold <command> --help" for its options and examples.
`;

export const RUN_USAGE = `Usage: leasehold run --name NAME [options] -- CMD [ARGS...]

Claims the lease NAME, runs CMD while holding it and renews it meanwhile. If the term is lost, or its
validUntil comes without a renewal, the child's process group gets SIGTERM, then SIGKILL after --grace,
and run exits 70. When CMD exits, the term is released (or parked with --keep) and run exits with CMD's
exit code (128 + N when signal N ended it). SIGINT, SIGTERM and SIGHUP are forwarded to the child.

Options:
  --name <name>        lease name, e.g. jobs/nightly (required)
  --holder <id>        this participant's label (default: <hostname>-<pid>)
  --ttl <duration>     lease TTL (default 15s; at least 2s)
  --wait[=<duration>]  if the lease is held, wait for it (without a duration: no limit); else try once.
                       It follows the lease (a watch; polling without one) and claims once it is free
  --grace <duration>   time between SIGTERM and SIGKILL (default 10s)
  --release            release the term when CMD exits (the default)
  --keep               park the term instead, for the next run with the same --holder to resume
  --json               print line-delimited JSON events on stderr instead of text
  -v, --verbose        also report every renewal

${CONNECTION}

The child's environment adds LEASEHOLD_NAME, LEASEHOLD_HOLDER, LEASEHOLD_TOKEN (fencing token),
LEASEHOLD_LEASE_ID (decimal), LEASEHOLD_LEASE_ID_HEX, LEASEHOLD_VALID_UNTIL_MS, LEASEHOLD_TTL_MS, and
on etcd ETCD_LOCK_KEY and ETCD_LOCK_REV as "etcdctl lock" sets them.

Exit codes: CMD's own; 75 the lease is held (or --wait ran out); 70 the term ended while CMD ran;
64 bad flags; 78 bad environment; 69 the store failed; 77 credentials refused; 127 CMD not found.

Examples:
  leasehold run --name jobs/backup -- ./backup.sh
  leasehold run --name jobs/report --wait=2m --ttl 30s -- node report.js
  leasehold run --name jobs/sync --holder sync-eu --keep -- sh -c 'sync --fencing-token "$LEASEHOLD_TOKEN"'
`;

export const LEADER_USAGE = `Usage: leasehold leader NAME [options]

Prints who holds the lease NAME now: the holder, the fencing token, the term's TTL and lease ID, and
whether the term is busy (an invocation holds it) or parked. Exits 0, also when nobody holds it.

Options:
  --json               one JSON object: {"name", "leader": null | {"holder", "token", "ttlMs", ...}}

${CONNECTION}

Examples:
  leasehold leader jobs/backup
  leasehold leader jobs/backup --json | jq -r .leader.holder
`;

export const OBSERVE_USAGE = `Usage: leasehold observe NAME [options]

Prints one line for the state of the lease NAME now, then one per change of its holder, term or state (busy,
parked), until SIGINT or SIGTERM (exit 0). It follows etcd's watch, or on ZooKeeper leasehold-zk-gateway's; through
a gateway without one, or while the watch cannot be kept, it polls (one read-only request per interval) and a line says so
("polling: ..."), as another does when the watch is back ("watching: ..."). A failed read prints an "unknown"
line; the next good reading prints the term again.

Options:
  --interval <duration>  how often to read while polling (default 1s; 10ms to 1h)
  --json                 line-delimited JSON events on stdout: "mode" and "leader"

${CONNECTION}

Examples:
  leasehold observe jobs/backup
  leasehold observe jobs/backup --json >> leases.log
`;

export const RELEASE_USAGE = `Usage: leasehold release NAME --holder ID [options]

Ends the parked term of holder ID (one that a "run --keep" left), so that anyone may claim NAME at once.
A busy term (a run holds it now) is left alone: stop that run instead, and release exits 75.
Another holder's term is never touched.

Options:
  --holder <id>        whose parked term to end (required)
  --json               one JSON event on stdout

${CONNECTION}

Examples:
  leasehold release jobs/sync --holder sync-eu
`;
