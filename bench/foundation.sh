#!/usr/bin/env bash
# Measures the foundation figures: binary size, demo ready time (first run and
# a restart on the same data), and resident memory of the hub and each node at
# idle with three nodes connected. Prints a table; changes nothing outside a
# temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'kill -TERM ${pid:-0} 2>/dev/null || true; wait ${pid:-0} 2>/dev/null || true; rm -rf "$tmp"' EXIT

t0=$(date +%s.%N)
CGO_ENABLED=0 go build -trimpath -o "$tmp/cie" ./cmd/cie
t1=$(date +%s.%N)
size=$(stat -c %s "$tmp/cie")
printf 'binary: %.1f MiB (CGO_ENABLED=0, -trimpath), built in %.1f s\n' "$(echo "$size/1048576" | bc -l)" "$(echo "$t1-$t0" | bc -l)"

run_demo() { # starts the demo (pid in $pid), sets $took to the seconds until it is ready
  local start; start=$(date +%s.%N)
  "$tmp/cie" demo --dir "$tmp/demo" --random-ports >"$tmp/demo.out" 2>&1 &
  pid=$!
  until grep -q "cie demo is ready" "$tmp/demo.out"; do
    kill -0 $pid 2>/dev/null || { cat "$tmp/demo.out"; exit 1; }
    sleep 0.02
  done
  took=$(echo "$(date +%s.%N) - $start" | bc -l)
}

run_demo; first=$took
printf 'demo ready, first run (creates users, keys, stores): %.2f s\n' "$first"
sleep "${IDLE_SECONDS:-15}"
echo "resident memory at idle (${IDLE_SECONDS:-15} s after ready, 3 nodes connected):"
for child in $(pgrep -P $pid); do
  args=$(tr '\0' ' ' </proc/$child/cmdline)
  role=$(echo "$args" | awk '{print $2}')
  cfg=$(echo "$args" | awk '{print $4}')
  rss=$(awk '/VmRSS/ {print $2}' /proc/$child/status)
  printf '  %-5s %-40s %6.1f MiB\n' "$role" "$(basename "$(dirname "$cfg")")" "$(echo "$rss/1024" | bc -l)"
done
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
printf '  demo supervisor                                %6.1f MiB\n' "$(echo "$rss/1024" | bc -l)"
kill -TERM $pid; wait $pid
run_demo; second=$took
printf 'demo ready, restart on the same data: %.2f s\n' "$second"
