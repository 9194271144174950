#!/usr/bin/env bash
# scripts/test/postgres.sh — start a throw-away PostgreSQL cluster for the test suite.
#
# Usage (as root, on Debian):
#   eval "$(scripts/test/postgres.sh [DIR])"     # DIR defaults to /tmp/cie-pg
#   go test -race ./...
#
# Installs Debian's postgresql package if no server binaries are present, initialises a
# cluster in DIR owned by the postgres user (trust auth, loopback only), starts it on
# 127.0.0.1:${CIE_PG_PORT:-55432} with its unix socket inside DIR, waits until it accepts
# connections and prints
#   export CIE_TEST_POSTGRES=postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
# on stdout. Everything else goes to stderr. Idempotent: if a server already answers on the
# port, it only prints the line. Stop it with:
#   runuser -u postgres -- "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)/pg_ctl" -D DIR/data stop
set -euo pipefail

dir="${1:-/tmp/cie-pg}"
port="${CIE_PG_PORT:-55432}"
url="postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable"

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

find_bindir() {
	local d
	d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
	if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
		printf '%s\n' "$d"
	fi
}

print_url() { printf 'export CIE_TEST_POSTGRES=%s\n' "$url"; }

bindir="$(find_bindir)"
if [[ -z "$bindir" ]]; then
	[[ "$(id -u)" -eq 0 ]] || die "PostgreSQL is not installed and installing it needs root"
	log "installing postgresql from Debian packages"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update >&2
	apt-get install -y postgresql >&2
	bindir="$(find_bindir)"
	[[ -n "$bindir" ]] || die "postgresql installed but no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
fi

# Already running on that port (ours or anyone's): nothing to do.
if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port"; then
	log "a server already accepts connections on 127.0.0.1:${port}"
	print_url
	exit 0
fi

id postgres >/dev/null 2>&1 || die "no 'postgres' user (is the postgresql package installed?)"

# runas runs a command as the postgres user (initdb and postgres refuse to run as root).
runas() {
	if [[ "$(id -un)" == postgres ]]; then
		"$@"
	else
		runuser -u postgres -- "$@"
	fi
}

data="$dir/data"
mkdir -p "$dir"
chown postgres: "$dir"
chmod 700 "$dir"

if [[ ! -f "$data/PG_VERSION" ]]; then
	log "initialising cluster in $data"
	runas "$bindir/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >&2 \
		|| runas "$bindir/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --no-locale >&2
	# Trust, but only over the local socket and loopback.
	cat >"$data/pg_hba.conf" <<HBA
# written by scripts/test/postgres.sh: throw-away test cluster
local   all   all                  trust
host    all   all   127.0.0.1/32   trust
host    all   all   ::1/128        trust
HBA
	chown postgres: "$data/pg_hba.conf"
fi

log "starting PostgreSQL on 127.0.0.1:${port}"
# fsync off: a test cluster need not survive a crash, and tests run faster.
runas "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
	-o "-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
	start >&2 || { tail -n 30 "$dir/server.log" >&2 || true; die "pg_ctl start failed (log: $dir/server.log)"; }

for _ in $(seq 1 60); do
	if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port"; then
		print_url
		exit 0
	fi
	sleep 0.5
done
tail -n 30 "$dir/server.log" >&2 || true
die "server did not become ready on 127.0.0.1:${port} (log: $dir/server.log)"
