#!/usr/bin/env bash
# Starts a local S3 server (versitygw, posix backend) for the tests of cie's
# S3 blob store, and prints the environment the tests need:
#
#   eval "$(scripts/test/versitygw.sh [DIR])"
#   go test ./internal/blob/
#
# DIR (default /tmp/cie-s3) is the posix backend's root: each bucket is a
# folder in it. The server listens on 127.0.0.1:${CIE_S3_PORT:-7070} only,
# logs to DIR.log and writes its process id to DIR.pid; stop it with
#   kill "$(cat DIR.pid)"
# If something already listens on that port, the script only prints the
# environment (it is idempotent). versitygw is installed with `go install`
# into $(go env GOBIN) or $(go env GOPATH)/bin if it is not there yet (this
# takes a few minutes the first time). Only the export line goes to stdout;
# progress and errors go to stderr.
set -euo pipefail

VERSITYGW_VERSION=v1.8.0
dir=${1:-/tmp/cie-s3}
port=${CIE_S3_PORT:-7070}
host=127.0.0.1
# Fixed credentials for a throw-away test server on the loopback interface.
access_key=cie-test-access
secret_key=cie-test-secret-do-not-use-in-production
region=us-east-1

log() { printf 'versitygw.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

case $port in
'' | *[!0-9]*) die "CIE_S3_PORT=$port: want a port number" ;;
esac
((port >= 1 && port <= 65535)) || die "CIE_S3_PORT=$port: want a port number"

print_env() {
	printf 'export CIE_TEST_S3=http://%s:%s AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_REGION=%s\n' \
		"$host" "$port" "$access_key" "$secret_key" "$region"
}

listening() { (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

if listening; then
	log "something already listens on $host:$port; assuming it is our versitygw"
	print_env
	exit 0
fi

command -v go >/dev/null || die "go is not installed"
bin=$(go env GOBIN)
[[ -n $bin ]] || bin=$(go env GOPATH)/bin
gw=$bin/versitygw
if [[ ! -x $gw ]]; then
	log "installing versitygw $VERSITYGW_VERSION into $bin (takes a few minutes)"
	GOFLAGS=-buildvcs=false go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >&2 ||
		die "go install of versitygw failed"
fi

mkdir -p "$dir"
log "starting $gw on $host:$port, root $dir, log $dir.log"
# Credentials through the environment, not argv (ps shows argv). stdin and
# stdout are detached so that "$(...)" around this script does not wait for
# the server.
ROOT_ACCESS_KEY_ID=$access_key ROOT_SECRET_ACCESS_KEY=$secret_key \
	setsid "$gw" --port "$host:$port" --region "$region" --quiet \
	posix "$dir" </dev/null >"$dir.log" 2>&1 &
pid=$!
echo "$pid" >"$dir.pid"

for _ in $(seq 1 300); do # up to 30 s
	if listening; then
		log "versitygw (pid $pid) is listening on $host:$port"
		print_env
		exit 0
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		tail -n 20 "$dir.log" >&2 || true
		die "versitygw exited; see $dir.log"
	fi
	sleep 0.1
done
kill "$pid" 2>/dev/null || true
tail -n 20 "$dir.log" >&2 || true
die "versitygw did not listen on $host:$port within 30 s; see $dir.log"
