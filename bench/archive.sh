#!/usr/bin/env bash
# C-STORE ingest benchmark: the same folder of generated CT/MR series (bench/synthdir,
# N instances of ROWS×ROWS, 16-bit) sent with dcmtk storescu into
#   - a cie node (hub + node as in the integration tests; every instance is
#     de-identified, stored durably and indexed in SQLite before it is acknowledged),
#   - Orthanc (its own DICOM port, default SQLite index and file storage),
#   - dcmtk storescp writing plain files (the floor: no index, no fsync),
# over 1 association, then PAR associations at once, ROUNDS rounds, alternating the
# targets, each run into a fresh store. Then WADO-RS series retrieve of every series
# from cie and Orthanc (the data of the last round). Prints files/s, MB/s, the load
# average at each run, the CPU time the server used per file (less sensitive to the
# machine's load than the wall clock), and the ratios (min–max over the rounds); where
# perf works, the instructions per file each server executes, counted in one more run
# per target that is not timed (PERF_STAT=0: no such run).
# CIE_BASE=/path/to/another/cie adds that binary as one more target ("base"), e.g.
# main's build, for before/after figures in the same run.
# Needs: Go, dcmtk, Orthanc + orthanc-dicomweb, curl, python3, bc.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000} ROWS=${ROWS:-256} ROUNDS=${ROUNDS:-3} PAR=${PAR:-4}
# dcmtk (storescu, storescp, and Orthanc's DICOM side) keeps Nagle's algorithm on unless
# told: with it every C-STORE response waits for a delayed ACK (~40 ms per instance).
export TCP_NODELAY=1
tmp=$(mktemp -d)
# The input folder is kept in memory where it can be (/dev/shm): what is timed is the
# servers, not storescu reading its files back from a disk after the page cache let
# them go (seen on this VM, whose host reclaims cached pages: runs 10× slower).
in=$tmp/in
[ -d /dev/shm ] && [ -w /dev/shm ] && in=$(mktemp -d /dev/shm/cie-bench.XXXXXX)
source bench/lib.sh
trap 'stop_all; rm -rf "$tmp" "$in"' EXIT
command -v Orthanc >/dev/null || { echo "Orthanc missing: apt-get install orthanc orthanc-dicomweb" >&2; exit 2; }
command -v storescu >/dev/null || { echo "storescu missing: apt-get install dcmtk" >&2; exit 2; }

build_tools synthdir wado
"$tmp/bin/synthdir" -out "$in" -patients $((N / 40 + 10)) -rows "$ROWS" -limit "$N"
find "$in" -name '*.dcm' | sort > "$tmp/list"
files=$(wc -l < "$tmp/list")
bytes=$(xargs -a "$tmp/list" -s 1900000 cat | wc -c)
mb=$(echo "$bytes/1000000" | bc -l)
printf 'input: %d files, %.1f MB (%dx%d CT/MR series), %d CPUs\n' "$files" "$mb" "$ROWS" "$ROWS" "$(nproc)"
cie_hub

declare -A best worst
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; } # user+system clock ticks of a process
# Instructions the server executes (user and kernel), counted by perf where the machine
# allows it: unlike seconds, they do not depend on what else the machine is doing.
perf_ok=false
[ "${PERF_STAT:-1}" = 1 ] && perf stat -e instructions -x, true >/dev/null 2>&1 && perf_ok=true
# The timed runs are not watched: perf's counters cost every context switch of the
# watched process (on this VM, half again the server's CPU time for cie), so the
# instructions are counted in one extra, untimed run per target after the rounds.
use_perf=false
perf_start() { # pid
  $use_perf || return 0
  perf stat -e instructions -x, -o "$tmp/perf.out" -p "$1" >/dev/null 2>&1 & perf_pid=$!
  sleep 0.2
}
perf_stop() { # prints " , N M instr/file" or nothing
  $use_perf || return 0
  kill -INT "$perf_pid" 2>/dev/null; wait "$perf_pid" 2>/dev/null || true
  awk -F, -v n="$files" '$3 ~ /instructions/ && $1 ~ /^[0-9]+$/ {printf ", %.2f M instr/file", $1/n/1e6}' "$tmp/perf.out"
}
record() { # key seconds server-cpu-ticks [perf]
  local r; r=$(echo "$files/$2" | bc -l)
  printf '  %-14s %7.2f s  %7.0f files/s  %6.1f MB/s  server CPU %5.2f ms/file%s  (load %s)\n' "$1" "$2" "$r" \
    "$(echo "$mb/$2" | bc -l)" "$(echo "$3*1000/$(getconf CLK_TCK)/$files" | bc -l)" "${4:-}" "$(load)"
  $use_perf || echo "$1 $2" >> "$tmp/results"
}
count_cie() { curl -sf -H "Authorization: Bearer $cie_token" "$cie_url/dicomweb/instances?limit=10000&includefield=00080018" | grep -o '"00080018"' | wc -l; }
count_orthanc() { curl -sf "$orthanc_url/statistics" | python3 -c 'import json,sys; print(json.load(sys.stdin)["CountInstances"])'; }

rounds=$(seq 1 "$ROUNDS")
$perf_ok && rounds="$rounds perf"
for round in $rounds; do
  pars="1 $PAR"
  if [ "$round" = perf ]; then
    use_perf=true pars=1
    echo "instructions (perf stat; an extra run, not in the figures above):"
  fi
  for par in $pars; do
    [ "$round" = perf ] || echo "round $round, $par association(s):"
    cie_node "$tmp/cie-$round-$par"
    c0=$(cpu $cie_pid); perf_start $cie_pid
    send CIE "$cie_dimse" "$par" "$tmp/list" || echo "  storescu reported errors (cie)"
    record "cie-$par" "$took" $(( $(cpu $cie_pid) - c0 )) "$(perf_stop)"
    n=$(count_cie); [ "$n" = "$files" ] || echo "  cie indexed $n of $files"
    [ "$round-$par" = "$ROUNDS-$PAR" ] || { stop_pid $cie_pid; rm -rf "$tmp/cie-$round-$par"; }
    [ "$round" != perf ] || cie_pid=$last_cie_pid cie_url=$last_cie_url cie_token=$last_cie_token
    [ "$round-$par" != "$ROUNDS-$PAR" ] || last_cie_pid=$cie_pid last_cie_url=$cie_url last_cie_token=$cie_token
    if [ -n "${CIE_BASE:-}" ]; then
      keep_pid=$cie_pid keep_url=$cie_url keep_token=$cie_token
      cie_node "$tmp/base-$round-$par" "$CIE_BASE"
      c0=$(cpu $cie_pid); perf_start $cie_pid
      send CIE "$cie_dimse" "$par" "$tmp/list" || echo "  storescu reported errors (base)"
      record "base-$par" "$took" $(( $(cpu $cie_pid) - c0 )) "$(perf_stop)"
      n=$(count_cie); [ "$n" = "$files" ] || echo "  base indexed $n of $files"
      stop_pid $cie_pid; rm -rf "$tmp/base-$round-$par"
      cie_pid=$keep_pid cie_url=$keep_url cie_token=$keep_token
    fi

    orthanc "$tmp/orthanc-$round-$par"
    c0=$(cpu $orthanc_pid); perf_start $orthanc_pid
    send ORTHANC "$orthanc_dimse" "$par" "$tmp/list" || echo "  storescu reported errors (Orthanc)"
    record "orthanc-$par" "$took" $(( $(cpu $orthanc_pid) - c0 )) "$(perf_stop)"
    n=$(count_orthanc); [ "$n" = "$files" ] || echo "  Orthanc holds $n of $files"
    [ "$round-$par" = "$ROUNDS-$PAR" ] || { stop_pid $orthanc_pid; rm -rf "$tmp/orthanc-$round-$par"; }
    [ "$round" != perf ] || orthanc_pid=$last_orthanc_pid orthanc_url=$last_orthanc_url
    [ "$round-$par" != "$ROUNDS-$PAR" ] || last_orthanc_pid=$orthanc_pid last_orthanc_url=$orthanc_url

    storescp_floor "$tmp/floor-$round-$par"
    c0=$(cpu $floor_pid); perf_start $floor_pid
    send FLOOR "$floor_dimse" "$par" "$tmp/list" || echo "  storescu reported errors (storescp)"
    record "storescp-$par" "$took" $(( $(cpu $floor_pid) - c0 )) "$(perf_stop)"
    n=$(find "$tmp/floor-$round-$par" -type f ! -name '*.log' | wc -l); [ "$n" = "$files" ] || echo "  storescp wrote $n of $files"
    stop_pid $floor_pid; rm -rf "$tmp/floor-$round-$par"
  done
done

ratio() { # a b: files/s(a) / files/s(b) = secs(b)/secs(a), round by round: min–max, median
  paste <(awk -v k="$1" '$1==k {print $2}' "$tmp/results") <(awk -v k="$2" '$1==k {print $2}' "$tmp/results") |
    awk '{print $2/$1}' | sort -g |
    awk '{r[NR]=$1} END {m=(NR%2 ? r[(NR+1)/2] : (r[NR/2]+r[NR/2+1])/2); printf "%.2f–%.2fx (median %.2fx)", r[1], r[NR], m}'
}
echo "ratios (files/s, per round: min–max, median):"
for par in 1 "$PAR"; do
  printf '  %d assoc: cie / Orthanc %s (target >= 2x), cie / storescp %s (target >= 0.7x)\n' "$par" \
    "$(ratio cie-$par orthanc-$par)" "$(ratio cie-$par storescp-$par)"
  [ -z "${CIE_BASE:-}" ] || printf '  %d assoc: cie / base %s\n' "$par" "$(ratio cie-$par base-$par)"
done

# WADO-RS: every series, one request each, multipart/related application/dicom,
# from the stores of the last round; alternating, ROUNDS times.
echo "WADO-RS series retrieve (all $(find "$in" -mindepth 3 -maxdepth 3 -type d | wc -l) series, 1 client):"
for round in $(seq 1 "$ROUNDS"); do
  echo "  cie     $("$tmp/bin/wado" -url "$cie_url/dicomweb" -token "$cie_token") (load $(load))"
  echo "  Orthanc $("$tmp/bin/wado" -url "$orthanc_url/dicom-web") (load $(load))"
done
