#!/usr/bin/env bash
# Benchmark of cie deid against gdcmanon (Debian libgdcm-tools), Orthanc's
# study-level /anonymize (Debian orthanc; the upload is timed apart and not
# counted) and cp -r, on one input folder, warm cache. ROUNDS rounds (default
# 3) of cie deid (1 worker), gdcmanon, cie deid (all workers) and cp -r, one
# run each, alternating; Orthanc once after them. Prints files/s, MB/s and the
# ratios of every round. Needs: Go, gdcmanon, openssl, curl, Orthanc, the
# pydicom and nibabel corpora (scripts/test/corpus.sh). N copies of each
# source file (default 200).
#
# Every run writes into a new folder and no output is deleted before the end:
# on ext4 without a journal, creating a file scans the inodes deleted in the
# last seconds, so deleting one tool's output just before the next run would
# charge that run for it. Input and outputs are under TMPDIR (mktemp -d), whose
# file system is printed: file creation costs differ widely between them
# (TMPDIR=/dev/shm measures the tools without the disk's file system).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200}
ROUNDS=${ROUNDS:-3}
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
timeit() { # name round command...
  local name=$1 round=$2; shift 2
  local out=$tmp/out-$name-$round
  local t0 t1
  t0=$(date +%s.%N)
  "${@//@OUT@/$out}" >/dev/null 2>&1
  t1=$(date +%s.%N)
  secs[$name.$round]=$(echo "$t1 - $t0" | bc -l)
}
for r in $(seq 1 "$ROUNDS"); do
  timeit cie1 "$r" "$tmp/cie" deid "$tmp/in" @OUT@ --key-file "$tmp/key" -j 1 -q
  timeit gdcmanon "$r" gdcmanon -e -c "$tmp/c.pem" -r -i "$tmp/in" -o @OUT@ --continue
  timeit cieall "$r" "$tmp/cie" deid "$tmp/in" @OUT@ --key-file "$tmp/key" -q
  timeit cp "$r" cp -r "$tmp/in" @OUT@
done

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
orthanc=$(echo "$(date +%s.%N) - $t0" | bc -l)
printf 'Orthanc upload (not counted): %.2f s\n' "$upload"

printf 'input: %d files, %.1f MB (%d copies of %d files), %d CPUs, %s file system (%s)\n' "$files" "$(echo "$bytes/1000000" | bc -l)" "$N" "${#srcs[@]}" "$(nproc)" "$(stat -f -c %T "$tmp")" "$tmp"
rate() { printf '  %-22s %7.2f s  %8.0f files/s  %7.1f MB/s\n' "$1" "$2" "$(echo "$files/$2" | bc -l)" "$(echo "$bytes/1000000/$2" | bc -l)"; }
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r:"
  for k in cie1 cieall gdcmanon cp; do
    rate "$k" "${secs[$k.$r]}"
  done
  printf '  cie deid, 1 worker / gdcmanon (files/s): %.2fx (target >= 3x)\n' "$(echo "${secs[gdcmanon.$r]}/${secs[cie1.$r]}" | bc -l)"
  printf '  cie deid, all workers / cp -r (time):     %.2fx (target <= 3x)\n' "$(echo "${secs[cieall.$r]}/${secs[cp.$r]}" | bc -l)"
done
rate orthanc "$orthanc"
printf 'cie deid, 1 worker (round %d) / Orthanc (files/s): %.2fx\n' "$ROUNDS" "$(echo "$orthanc/${secs[cie1.$ROUNDS]}" | bc -l)"
