#!/bin/sh
# netbench against wrk (and, when installed, nginx and iperf3), measured in one run.
#
#   netbench http vs wrk     same `netbench serve` origin, same threads and connections,
#                            runs interleaved (wrk, netbench, wrk, netbench, ...); medians.
#   netbench serve vs nginx  `return 200` with 1 worker, both loaded by netbench http (if nginx).
#   netbench tcp vs iperf3   loopback, one stream (if iperf3).
#
# Layout as in the perf anchors: on a machine with 2+ CPUs the server is pinned to CPU 0 and the
# client to CPU 1. Knobs: BUILD (build dir, default build), RUNS (3), DUR (seconds, 5),
# CONNS (64), THREADS (1). Ends by printing "name: value unit" lines and the ratios.
# wrk is a test tool: it is installed with apt-get when missing.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
NB=$PWD/$BUILD/bin/netbench
RUNS=${RUNS:-3}
DUR=${DUR:-5}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}

[ -x "$NB" ] || { echo "netbench.sh: $NB missing (run make first)" >&2; exit 66; }
if ! command -v wrk >/dev/null 2>&1; then
  echo "netbench.sh: installing wrk" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null 2>&1 ||
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null; }
fi

T=$(mktemp -d /tmp/netbench-bench.XXXXXX)
PIDS=""
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT INT TERM

SRV="" CLI=""
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
  SRV="taskset -c 0"
  CLI="taskset -c 1"
fi

# wait_line FILE — waits (5 s at most) until FILE has a first line, prints it.
wait_line() {
  i=0
  while [ ! -s "$1" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  head -1 "$1"
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
# wrk's latency figures ("812.00us", "1.20ms", "1.5s") in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.4f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.4f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.4f", v * 1000 }
    else print v }'
}
# cpu_run OUT CMD... — runs CMD, appends its CPU seconds (user+sys, children included) to OUT.
cpu_run() {
  out=$1
  shift
  python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[2:], check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "a").write("%.3f\n" % (r.ru_utime + r.ru_stime))' "$out" "$@"
}
jnum() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

echo "netbench.sh: $RUNS runs x ${DUR}s, -t$THREADS -c$CONNS, server ${SRV:-unpinned}, client ${CLI:-unpinned}; load: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- netbench http vs wrk, same origin --------------------------------------------------------
$SRV "$NB" serve --listen 127.0.0.1:0 >"$T/serve.addr" 2>"$T/serve.err" &
SERVE_PID=$!
PIDS="$PIDS $SERVE_PID"
ADDR=$(wait_line "$T/serve.addr")
[ -n "$ADDR" ] || { echo "netbench.sh: netbench serve did not start" >&2; cat "$T/serve.err" >&2; exit 69; }
URL="http://$ADDR/"
# Warm both up once (not counted).
$CLI wrk -t"$THREADS" -c"$CONNS" -d1s "$URL" >/dev/null
for r in $(seq 1 "$RUNS"); do
  cpu_run "$T/wrk.cpu" $CLI wrk --latency -t"$THREADS" -c"$CONNS" -d"${DUR}s" "$URL" >"$T/wrk.$r"
  cpu_run "$T/nb.cpu" $CLI "$NB" http -t"$THREADS" -c"$CONNS" -d"${DUR}s" --json "$URL" >"$T/nb.$r"
  w=$(awk '/^Requests\/sec:/ {print $2}' "$T/wrk.$r")
  n=$(jnum 'd["rps"]' <"$T/nb.$r")
  wc=$(tail -1 "$T/wrk.cpu")
  nc=$(tail -1 "$T/nb.cpu")
  # Requests per second per fully used client core: rps / (cpu seconds / duration).
  awk -v r="$w" -v c="$wc" -v d="$DUR" 'BEGIN {printf "%.0f\n", (c > 0) ? r * d / c : 0}' >>"$T/wrk.core"
  awk -v r="$n" -v c="$nc" -v d="$DUR" 'BEGIN {printf "%.0f\n", (c > 0) ? r * d / c : 0}' >>"$T/nb.core"
  echo "  run $r: wrk $w req/s (client CPU ${wc}s), netbench $n req/s (client CPU ${nc}s)"
  echo "$w" >>"$T/wrk.rps"
  echo "$n" >>"$T/nb.rps"
  to_ms "$(awk '$1 == "50%" {print $2}' "$T/wrk.$r")" >>"$T/wrk.p50"; echo >>"$T/wrk.p50"
  to_ms "$(awk '$1 == "99%" {print $2}' "$T/wrk.$r")" >>"$T/wrk.p99"; echo >>"$T/wrk.p99"
  jnum 'd["latency_ms"]["p50"]' <"$T/nb.$r" >>"$T/nb.p50"
  jnum 'd["latency_ms"]["p99"]' <"$T/nb.$r" >>"$T/nb.p99"
done
WRK_RPS=$(median <"$T/wrk.rps")
NB_RPS=$(median <"$T/nb.rps")
WRK_P50=$(grep . "$T/wrk.p50" | median)
NB_P50=$(median <"$T/nb.p50")
WRK_P99=$(grep . "$T/wrk.p99" | median)
NB_P99=$(median <"$T/nb.p99")
WRK_CORE=$(median <"$T/wrk.core")
NB_CORE=$(median <"$T/nb.core")

# ---- latency accuracy: one connection, nothing queues, both should see the same round trip ----
for r in $(seq 1 "$RUNS"); do
  $CLI wrk --latency -t1 -c1 -d2s "$URL" >"$T/wrk1.$r"
  to_ms "$(awk '$1 == "50%" {print $2}' "$T/wrk1.$r")" >>"$T/wrk1.p50"; echo >>"$T/wrk1.p50"
  $CLI "$NB" http -t1 -c1 -d2s --json "$URL" | jnum 'd["latency_ms"]["p50"]' >>"$T/nb1.p50"
done
WRK1_P50=$(grep . "$T/wrk1.p50" | median)
NB1_P50=$(median <"$T/nb1.p50")

# ---- netbench serve vs nginx return 200 (1 worker), loaded by netbench http -------------------
NGX_RPS="" SRV_RPS=""
if command -v nginx >/dev/null 2>&1; then
  NPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$T/nginx"
  cat >"$T/nginx/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $T/nginx;
  keepalive_requests 10000000;
  server { listen 127.0.0.1:$NPORT; location / { return 200 "hello\n"; } }
}
NGX
  $SRV nginx -c "$T/nginx/nginx.conf" -p "$T/nginx" &
  NGX_PID=$!
  PIDS="$PIDS $NGX_PID"
  sleep 0.5
  NGX_WORKER=$(pgrep -P "$NGX_PID" | head -1)
  # load_cpu PID URL RPSFILE USFILE — one run; records req/s and server CPU microseconds/request.
  load_cpu() {
    c0=$(awk '{print $14 + $15}' "/proc/$1/stat")
    $CLI "$NB" http -t"$THREADS" -c"$CONNS" -d"${DUR}s" --json "$2" >"$T/lc.json"
    c1=$(awk '{print $14 + $15}' "/proc/$1/stat")
    jnum 'd["rps"]' <"$T/lc.json" >>"$3"
    req=$(jnum 'd["requests"]' <"$T/lc.json")
    awk -v a="$c0" -v b="$c1" -v n="$req" -v hz="$(getconf CLK_TCK)" \
      'BEGIN {printf "%.2f\n", (n > 0) ? (b - a) * 1e6 / hz / n : 0}' >>"$4"
  }
  for r in $(seq 1 "$RUNS"); do
    load_cpu "$NGX_WORKER" "http://127.0.0.1:$NPORT/" "$T/ngx.rps" "$T/ngx.us"
    load_cpu "$SERVE_PID" "$URL" "$T/srv.rps" "$T/srv.us"
  done
  NGX_RPS=$(median <"$T/ngx.rps")
  SRV_RPS=$(median <"$T/srv.rps")
  NGX_US=$(median <"$T/ngx.us")
  SRV_US=$(median <"$T/srv.us")
else
  echo "  (nginx not installed: skipping netbench serve vs nginx)"
fi

# ---- netbench tcp vs iperf3 --------------------------------------------------------------------
IPERF="" NBTCP=""
if command -v iperf3 >/dev/null 2>&1; then
  IPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  iperf3 -s -B 127.0.0.1 -p "$IPORT" >/dev/null 2>&1 &
  PIDS="$PIDS $!"
  "$NB" tcp --server --listen 127.0.0.1:0 >"$T/tcp.addr" 2>/dev/null &
  PIDS="$PIDS $!"
  TADDR=$(wait_line "$T/tcp.addr")
  sleep 0.3
  for r in $(seq 1 "$RUNS"); do
    iperf3 -c 127.0.0.1 -p "$IPORT" -t "$DUR" -J | jnum 'd["end"]["sum_received"]["bits_per_second"] / 1e9' >>"$T/iperf.g"
    "$NB" tcp -d "${DUR}s" --json "$TADDR" | jnum 'd["gbit_per_s"]' >>"$T/nbtcp.g"
  done
  IPERF=$(median <"$T/iperf.g")
  NBTCP=$(median <"$T/nbtcp.g")
else
  echo "  (iperf3 not installed: skipping netbench tcp vs iperf3)"
fi

echo
printf '%-28s %12s %10s %10s %16s\n' "client against netbench serve" "req/s" "p50 ms" "p99 ms" "req/s per core"
printf '%-28s %12s %10s %10s %16s\n' "wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}')" "$WRK_RPS" "$WRK_P50" "$WRK_P99" "$WRK_CORE"
printf '%-28s %12s %10s %10s %16s\n' "netbench http" "$NB_RPS" "$NB_P50" "$NB_P99" "$NB_CORE"
printf '%-28s %12s %10s %10s %16s\n' "ratio netbench / wrk" "$(ratio "$NB_RPS" "$WRK_RPS")" "$(ratio "$NB_P50" "$WRK_P50")" "$(ratio "$NB_P99" "$WRK_P99")" "$(ratio "$NB_CORE" "$WRK_CORE")"
echo
echo "wrk_rps: $WRK_RPS req/s"
echo "netbench_rps: $NB_RPS req/s"
echo "netbench_over_wrk_rps: $(ratio "$NB_RPS" "$WRK_RPS")"
echo "wrk_p50: $WRK_P50 ms"
echo "netbench_p50: $NB_P50 ms"
echo "netbench_over_wrk_p50: $(ratio "$NB_P50" "$WRK_P50")"
echo "wrk_p50_c1: $WRK1_P50 ms"
echo "netbench_p50_c1: $NB1_P50 ms"
echo "netbench_over_wrk_p50_c1: $(ratio "$NB1_P50" "$WRK1_P50")"
echo "wrk_rps_per_client_core: $WRK_CORE req/s"
echo "netbench_rps_per_client_core: $NB_CORE req/s"
echo "netbench_over_wrk_per_core: $(ratio "$NB_CORE" "$WRK_CORE")"
if [ -n "$NGX_RPS" ]; then
  echo "nginx_return200_rps: $NGX_RPS req/s"
  echo "netbench_serve_rps: $SRV_RPS req/s"
  echo "serve_over_nginx_rps: $(ratio "$SRV_RPS" "$NGX_RPS")"
  echo "nginx_cpu_per_request: $NGX_US us"
  echo "netbench_serve_cpu_per_request: $SRV_US us"
  echo "nginx_over_serve_cpu_per_request: $(ratio "$NGX_US" "$SRV_US")"
fi
if [ -n "$IPERF" ]; then
  echo "iperf3_gbit: $IPERF Gbit/s"
  echo "netbench_tcp_gbit: $NBTCP Gbit/s"
  echo "netbench_tcp_over_iperf3: $(ratio "$NBTCP" "$IPERF")"
fi
