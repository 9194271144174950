# Helpers shared by bench/archive.sh and bench/dicomweb.sh (sourced, not run).
# They start a cie hub and node (as the integration tests do), Orthanc with its
# DICOMweb plugin, and dcmtk storescp, each on loopback ports under $tmp, and
# keep their pids in $pids for the caller's EXIT trap (stop_all).

pids=()
stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
stop_pid() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_http() { # url pid
  for _ in $(seq 1 300); do
    curl -sf -o /dev/null "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

load() { cut -d' ' -f1 /proc/loadavg; }

# build_tools: cie and the bench programs into $tmp/bin.
build_tools() {
  mkdir -p "$tmp/bin"
  CGO_ENABLED=0 go build -trimpath -o "$tmp/bin/cie" ./cmd/cie
  for p in "$@"; do go build -o "$tmp/bin/$p" "./bench/$p"; done
}

# cie_hub: a hub under $tmp/hub, node "bench" registered (credentials $tmp/bench.creds).
cie_hub() {
  local hp bp
  hp=$(free_port); bp=$(free_port)
  mkdir -p "$tmp/hub"
  printf 'name: bench-hub\ndata_dir: %s\nhttp:\n  listen: 127.0.0.1:%s\nbus:\n  listen: 127.0.0.1:%s\nlog:\n  level: warn\n' \
    "$tmp/hub" "$hp" "$bp" > "$tmp/hub.yaml"
  "$tmp/bin/cie" admin node add bench --hub-config "$tmp/hub.yaml" --out "$tmp/bench.creds" >/dev/null
  "$tmp/bin/cie" hub --config "$tmp/hub.yaml" >"$tmp/hub.log" 2>&1 &
  hub_pid=$!; pids+=($hub_pid)
  wait_http "http://127.0.0.1:$hp/readyz" $hub_pid || { cat "$tmp/hub.log"; return 1; }
}

# cie_node DIR [BINARY]: a fresh node (run by BINARY, default the one built) with its data in DIR, DICOM port $cie_dimse, HTTP
# $cie_url, a data holder's token in $cie_token; pid in $cie_pid. De-identification
# options as in `cie demo` (the EUCAIM research choice).
CIE_DEID_OPTS=${CIE_DEID_OPTS:-modified-dates,clean-descriptors,retain-patient-characteristics}
cie_node() { # DIR [BINARY]
  local dir=$1 bin=${2:-$tmp/bin/cie} hp
  hp=$(free_port); cie_dimse=$(free_port); cie_url=http://127.0.0.1:$hp
  mkdir -p "$dir"
  printf 'name: bench\ndata_dir: %s\ncredentials: %s\nhttp:\n  listen: 127.0.0.1:%s\ndimse:\n  listen: 127.0.0.1:%s\n  ae_title: CIE\nlog:\n  level: warn\ndeid:\n  options: [%s]\n' \
    "$dir" "$tmp/bench.creds" "$hp" "$cie_dimse" "$CIE_DEID_OPTS" > "$dir.yaml"
  "$tmp/bin/cie" admin user add holder --role data_holder --password "correct horse battery" --node-config "$dir.yaml" >/dev/null
  cie_token=$("$tmp/bin/cie" admin token add holder --node-config "$dir.yaml" 2>/dev/null | tr -d '[:space:]')
  "$bin" node --config "$dir.yaml" >"$dir.log" 2>&1 &
  cie_pid=$!; pids+=($cie_pid)
  wait_http "$cie_url/readyz" $cie_pid || { cat "$dir.log"; return 1; }
}

# orthanc DIR: a fresh Orthanc (default SQLite index and storage in DIR, DICOMweb
# plugin at /dicom-web/), DICOM port $orthanc_dimse, HTTP $orthanc_url; pid in $orthanc_pid.
orthanc() {
  local dir=$1 hp
  hp=$(free_port); orthanc_dimse=$(free_port); orthanc_url=http://127.0.0.1:$hp
  mkdir -p "$dir"
  cat > "$dir.json" <<JSON
{ "Name": "bench", "StorageDirectory": "$dir", "IndexDirectory": "$dir",
  "HttpPort": $hp, "DicomPort": $orthanc_dimse, "DicomAet": "ORTHANC", "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false, "Plugins": [ "/usr/share/orthanc/plugins/libOrthancDicomWeb.so" ],
  "DicomWeb": { "Enable": true, "Root": "/dicom-web/" } }
JSON
  Orthanc "$dir.json" >"$dir.log" 2>&1 &
  orthanc_pid=$!; pids+=($orthanc_pid)
  wait_http "$orthanc_url/system" $orthanc_pid || { cat "$dir.log"; return 1; }
}

# storescp_floor DIR: dcmtk storescp writing plain files into DIR (no index, no fsync);
# port $floor_dimse, pid $floor_pid.
storescp_floor() {
  local dir=$1
  floor_dimse=$(free_port)
  mkdir -p "$dir"
  storescp -aet FLOOR -od "$dir" +xa "$floor_dimse" >"$dir.log" 2>&1 &
  floor_pid=$!; pids+=($floor_pid)
  for _ in $(seq 1 100); do echoscu -aec FLOOR 127.0.0.1 "$floor_dimse" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

# send AE PORT PAR LIST: storescu the files named in LIST over PAR associations
# at once (the list split in PAR parts, one storescu each); sets $took (seconds).
send() {
  local ae=$1 port=$2 par=$3 list=$4 t0 i rc=0
  rm -f "$list".part*
  split -n "r/$par" -d "$list" "$list.part"
  t0=$(date +%s.%N)
  local sp=()
  for part in "$list".part*; do
    xargs -s 1900000 -a "$part" storescu -q -aet BENCH -aec "$ae" 127.0.0.1 "$port" &
    sp+=($!)
  done
  for p in "${sp[@]}"; do wait "$p" || rc=$?; done
  took=$(echo "$(date +%s.%N) - $t0" | bc -l)
  return $rc
}
