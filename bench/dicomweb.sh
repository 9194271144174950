#!/usr/bin/env bash
# DICOMweb benchmark: the same generated data set (bench/synthdir: PATIENTS patients,
# about 10,000 studies of 1–2 series of 1–2 64×64 instances) loaded over C-STORE
# (storescu, PAR associations at once; the load time is printed) into a cie node and
# into Orthanc with its DICOMweb plugin; then
#   - QIDO-RS study search, p50/p99 per query class over a fixed mix (PatientID exact,
#     PatientName wildcard, StudyDate range, ModalitiesInStudy, AccessionNumber,
#     limit/offset paging), alternating the servers request by request (bench/qido),
#   - WADO-RS retrieve of SERIES series (default 2,000), ROUNDS times, alternating
#     (bench/wado); the archive.sh retrieve is the one of larger (256×256) series.
# Needs: Go, dcmtk, Orthanc + orthanc-dicomweb, curl, python3, bc.
set -euo pipefail
cd "$(dirname "$0")/.."
PATIENTS=${PATIENTS:-4600} PAR=${PAR:-4} REPS=${REPS:-5} ROUNDS=${ROUNDS:-3} SERIES=${SERIES:-2000}
export TCP_NODELAY=1 # see archive.sh
tmp=$(mktemp -d)
source bench/lib.sh
trap 'stop_all; rm -rf "$tmp"' EXIT
command -v Orthanc >/dev/null || { echo "Orthanc missing: apt-get install orthanc orthanc-dicomweb" >&2; exit 2; }

build_tools synthdir qido wado
"$tmp/bin/synthdir" -out "$tmp/in" -patients "$PATIENTS" -rows 64 -min-slices 1 -max-slices 2 -max-series 2
find "$tmp/in" -name '*.dcm' | sort > "$tmp/list"
files=$(wc -l < "$tmp/list")
cie_hub
cie_node "$tmp/cie"
orthanc "$tmp/orthanc"
echo "load over C-STORE, $PAR associations:"
send CIE "$cie_dimse" "$PAR" "$tmp/list" || echo "  storescu reported errors (cie)"
printf '  cie      %7.1f s  %5.0f files/s  (load %s)\n' "$took" "$(echo "$files/$took" | bc -l)" "$(load)"
send ORTHANC "$orthanc_dimse" "$PAR" "$tmp/list" || echo "  storescu reported errors (Orthanc)"
printf '  Orthanc  %7.1f s  %5.0f files/s  (load %s)\n' "$took" "$(echo "$files/$took" | bc -l)" "$(load)"
sleep 2
echo "QIDO-RS study search, $REPS rounds (load $(load)):"
"$tmp/bin/qido" -n "$REPS" "orthanc=$orthanc_url/dicom-web" "cie=$cie_url/dicomweb@$cie_token"
echo "(load $(load))"
echo "WADO-RS series retrieve, the first $SERIES series of the QIDO-RS list, 1 client:"
for round in $(seq 1 "$ROUNDS"); do
  echo "  cie     $("$tmp/bin/wado" -max "$SERIES" -url "$cie_url/dicomweb" -token "$cie_token") (load $(load))"
  echo "  Orthanc $("$tmp/bin/wado" -max "$SERIES" -url "$orthanc_url/dicom-web") (load $(load))"
done
