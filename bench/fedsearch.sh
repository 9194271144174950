#!/usr/bin/env bash
# Federated search latency: a hub and 10, 50, 100 nodes in one process (real hub and
# node code, real bus connections over TCP), each node with its own SQLite store of
# about 10,000 generated studies; one researcher's three-clause searches through the
# hub's API, one at a time. Prints p50/p90/p99/max per node count. See
# bench/fedsearch/main.go. Needs only Go. NODES, QUERIES and DIR override the defaults
# (DIR=/dev/shm/x puts the nodes' stores in memory).
set -euo pipefail
cd "$(dirname "$0")/.."
args=(-nodes "${NODES:-10,50,100}" -queries "${QUERIES:-300}")
[ -n "${DIR:-}" ] && mkdir -p "$DIR" && args+=(-dir "$DIR")
go build -o "${TMPDIR:-/tmp}/cie-fedsearch" ./bench/fedsearch
# The audit log's library (tessera) logs its start-up to stderr through klog: drop it.
"${TMPDIR:-/tmp}/cie-fedsearch" "${args[@]}" 2> >(grep -v '^I[0-9]\{4\} ' >&2)
