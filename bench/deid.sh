#!/usr/bin/env bash
# Benchmark of cie deid against gdcmanon (Debian libgdcm-tools), Orthanc's
# study-level /anonymize (Debian orthanc; the upload is timed apart and not
# counted) and cp -r, on one input folder, warm cache, one run each,
# alternating. Prints files/s, MB/s and the ratios. Needs: Go, gdcmanon,
# openssl, curl, Orthanc, the pydicom and nibabel corpora
# (scripts/test/corpus.sh). N copies of each source file (default 200).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200}
tmp=$(mktemp -d)
orthanc_pid=
trap '[ -n "$orthanc_pid" ] && kill $orthanc_pid 2>/dev/null; rm -rf "$tmp"' EXIT
command -v Orthanc >/dev/null || { echo "Orthanc missing: apt-get install orthanc" >&2; exit 2; }
command -v gdcmanon >/dev/null || { echo "gdcmanon missing: apt-get install libgdcm-tools" >&2; exit 2; }
srcs=(
  /usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm
  /usr/lib/python3/dist-packages/pydicom/data/test_files/MR_small.dcm
  /usr/lib/python3/dist-packages/nibabel/nicom/tests/data/0.dcm
)
CGO_ENABLED=0 go build -o "$tmp/cie" ./cmd/cie
go run ./bench/deidgen -out "$tmp/in" -n "$N" "${srcs[@]}"
files=$(find "$tmp/in" -type f | wc -l)
bytes=$(du -sb "$tmp/in" | cut -f1)
head -c 48 /dev/urandom | base64 > "$tmp/key"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/k.pem" -out "$tmp/c.pem" -days 1 -subj /CN=bench >/dev/null 2>&1
cat "$tmp/in"/*/* > /dev/null # warm the cache

declare -A secs
timeit() { # name command...
  local name=$1; shift
  rm -rf "$tmp/out" "$tmp/out-quarantine"
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  secs[$name]=$(echo "$t1 - $t0" | bc -l)
}
timeit cie1 "$tmp/cie" deid "$tmp/in" "$tmp/out" --key-file "$tmp/key" -j 1 -q
timeit gdcmanon gdcmanon -e -c "$tmp/c.pem" -r -i "$tmp/in" -o "$tmp/out" --continue
timeit cieall "$tmp/cie" deid "$tmp/in" "$tmp/out" --key-file "$tmp/key" -q
timeit cp cp -r "$tmp/in" "$tmp/out"

# Orthanc: its own storage on loopback ports; upload first (not timed as
# anonymization), then anonymize every study, synchronously, one after the other.
port=$((20000 + RANDOM % 20000))
cat > "$tmp/orthanc.json" <<JSON
{ "Name": "bench", "StorageDirectory": "$tmp/orthanc", "IndexDirectory": "$tmp/orthanc",
  "HttpPort": $port, "DicomPort": $((port + 1)), "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false, "Plugins": [] }
JSON
Orthanc "$tmp/orthanc.json" >"$tmp/orthanc.log" 2>&1 &
orthanc_pid=$!
api=http://127.0.0.1:$port
for _ in $(seq 1 100); do curl -sf "$api/system" >/dev/null && break; sleep 0.1; done
t0=$(date +%s.%N)
find "$tmp/in" -type f -print0 | xargs -0 -P 2 -I{} curl -sf -o /dev/null -X POST --data-binary @{} "$api/instances"
upload=$(echo "$(date +%s.%N) - $t0" | bc -l)
t0=$(date +%s.%N)
for s in $(curl -sf "$api/studies" | tr -d '[]", ' | grep -v '^$'); do
  curl -sf -o /dev/null -X POST -d '{}' "$api/studies/$s/anonymize"
done
secs[orthanc]=$(echo "$(date +%s.%N) - $t0" | bc -l)
printf 'Orthanc upload (not counted): %.2f s\n' "$upload"

printf 'input: %d files, %.1f MB (%d copies of %d files), %d CPUs\n' "$files" "$(echo "$bytes/1000000" | bc -l)" "$N" "${#srcs[@]}" "$(nproc)"
for k in cie1 cieall gdcmanon orthanc cp; do
  s=${secs[$k]}
  printf '  %-22s %7.2f s  %8.0f files/s  %7.1f MB/s\n' "$k" "$s" "$(echo "$files/$s" | bc -l)" "$(echo "$bytes/1000000/$s" | bc -l)"
done
printf 'cie deid, 1 worker / gdcmanon (files/s): %.2fx (target >= 3x)\n' "$(echo "${secs[gdcmanon]}/${secs[cie1]}" | bc -l)"
printf 'cie deid, 1 worker / Orthanc (files/s):   %.2fx\n' "$(echo "${secs[orthanc]}/${secs[cie1]}" | bc -l)"
printf 'cie deid, all workers / cp -r (time):     %.2fx (target <= 3x)\n' "$(echo "${secs[cieall]}/${secs[cp]}" | bc -l)"
