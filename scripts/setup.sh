#!/bin/sh
# Prepares this checkout for the demo, the tests or the benchmarks: installs npm dependencies when they are
# missing or stale, and the servers named as arguments (etcd, zookeeper) from Debian's packages when they
# are missing. Run by `npm run demo`, `npm test` and `npm run bench`; safe to run again.
set -eu
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] \
  || [ package.json -nt node_modules/.package-lock.json ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
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
    zookeeper)
      if [ ! -x /usr/share/zookeeper/bin/zkServer.sh ]; then
        apt_install zookeeper zookeeper
      fi
      ;;
    *)
      echo "setup: unknown server '$server'" >&2
      exit 2
      ;;
  esac
done
