#!/bin/sh
# peerctl's two speed targets, measured (scripts/bench/peerctl.sh):
#
#   apply     `peerctl apply` of a blueprint with RESOURCES resources (2 targets each, every
#             tenth protected with auth and a rule) into a fresh store: wall time, median of
#             RUNS; then the same blueprint again (the "no changes" plan). Target: < 2 s.
#   status    `peerctl status` (text and --json) with SITES sites and 1000 resources in the
#             store, the edge's tunneld and edged running (status asks both sockets; the sites
#             are not connected, tunneld still reports every one): median of 10. Target: 200 ms.
#
# The box's load average and the time to start /bin/true are printed for scale: on a busy box
# process start-up alone is tens of milliseconds.
# Knobs: BUILD (default build), RESOURCES (5000), SITES (1000), RUNS (3).
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
BIN=$PWD/$BUILD/bin
RESOURCES=${RESOURCES:-5000}
SITES=${SITES:-1000}
RUNS=${RUNS:-3}
PY=/usr/bin/python3

for b in peerctl tunneld edged; do
  [ -x "$BIN/$b" ] || { echo "peerctl.sh: $BIN/$b missing (run make first)" >&2; exit 66; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/warren-bench-peerctl.XXXXXX")
PIDS=""
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT INT TERM

# blueprint FILE NRES NSITES: sites with generated keys, resources on them and direct.
blueprint() {
  $PY - "$1" "$2" "$3" <<'PY'
import base64, os, sys
path, nres, nsites = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = ["version = 1", ""]
for i in range(nsites):
    key = base64.b64encode(os.urandom(32)).decode()
    out += [f"[sites.site-{i}]", f'public_key = "{key}"', ""]
out += ['[roles.ops]', 'description = "Operators"', ""]
for i in range(nres):
    site = f"site-{i % nsites}" if nsites else None
    t2 = f"site://{site}/192.168.{i % 250}.{i % 200 + 1}:8080" if site else "http://10.1.0.2:80"
    out += [f"[resources.app-{i}]", f'host = "app-{i}.example.com"',
            f'targets = ["http://10.0.{i // 250 % 250}.{i % 250 + 1}:8080", "{t2}"]']
    if i % 10 == 0:
        out += [f"[resources.app-{i}.auth]", 'methods = ["users", "email"]',
                'email_allow = ["@example.com"]', 'roles = ["ops"]',
                f"[[resources.app-{i}.rules]]", 'action = "ACCEPT"', 'ips = ["10.0.0.0/8"]']
    out.append("")
open(path, "w").write("\n".join(out))
PY
}

ms_now() { date +%s%N; }

# median_ms CMD...: runs CMD RUNS times (stdout discarded), prints the median wall time in ms.
median_ms() {
  n=$1
  shift
  i=0
  : >"$T/times"
  while [ "$i" -lt "$n" ]; do
    t0=$(ms_now)
    "$@" >/dev/null
    t1=$(ms_now)
    echo $(((t1 - t0) / 1000)) >>"$T/times"
    i=$((i + 1))
  done
  sort -n "$T/times" | awk '{a[NR]=$1} END {m=a[int((NR+1)/2)]; printf "%.1f", m/1000}'
}

fresh_apply() {
  rm -rf "$T/a"
  mkdir -p "$T/a"
  "$BIN/peerctl" --dir "$T/a" apply "$T/apply.toml"
}

blueprint "$T/apply.toml" "$RESOURCES" 100
apply_ms=$(median_ms "$RUNS" fresh_apply)
again_ms=$(median_ms "$RUNS" "$BIN/peerctl" --dir "$T/a" apply "$T/apply.toml")
changes=$("$BIN/peerctl" --dir "$T/a" apply "$T/apply.toml")
[ "$changes" = "no changes" ] || { echo "peerctl.sh: second apply was not empty" >&2; exit 1; }
nres=$(sqlite3 "$T/a/warren.db" 'SELECT count(*) FROM resources' 2>/dev/null || echo "$RESOURCES")

# status: SITES sites, 1000 resources, both daemons running.
S=$T/s
mkdir -p "$S"
blueprint "$T/status.toml" 1000 "$SITES"
"$BIN/peerctl" --dir "$S" apply "$T/status.toml" >/dev/null
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '[edge]\nlisten = "127.0.0.1:%s"\n' "$port" >"$S/tunneld.toml"
printf 'threads = 1\n[http]\nlisten = ["127.0.0.1:0"]\n' >"$S/edged.toml"
"$BIN/tunneld" --dir "$S" >"$T/tunneld.log" 2>&1 &
PIDS="$PIDS $!"
"$BIN/edged" --dir "$S" -c "$S/edged.toml" >"$T/edged.log" 2>&1 &
PIDS="$PIDS $!"
i=0
while [ "$i" -lt 200 ]; do
  if "$BIN/peerctl" --dir "$S" status --json 2>/dev/null |
    $PY -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["tunneld"]["running"] and d["edged"]["running"] and len(d["sites"]) == int(sys.argv[1]) else 1)' "$SITES"; then
    break
  fi
  sleep 0.05
  i=$((i + 1))
done
live=$("$BIN/peerctl" --dir "$S" status --json | $PY -c 'import json,sys; d=json.load(sys.stdin); print("live" if d["tunneld"]["running"] and d["edged"]["running"] else "store only")')
status_ms=$(median_ms 10 "$BIN/peerctl" --dir "$S" status)
status_json_ms=$(median_ms 10 "$BIN/peerctl" --dir "$S" status --json)

true_ms=$(median_ms 10 /bin/true)
printf '%-44s %10s %10s\n' "peerctl ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))" "measured" "target"
printf '%-44s %8s ms %7s ms\n' "apply $nres resources (fresh store)" "$apply_ms" 2000
printf '%-44s %8s ms %7s ms\n' "apply again (no changes)" "$again_ms" 2000
printf '%-44s %8s ms %7s ms\n' "status, $SITES sites ($live)" "$status_ms" 200
printf '%-44s %8s ms %7s ms\n' "status --json, $SITES sites ($live)" "$status_json_ms" 200
printf '%-44s %8s ms\n' "(starting /bin/true, for scale)" "$true_ms"
