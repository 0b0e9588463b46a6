#!/bin/bash
# edged vs nginx vs HAProxy as reverse proxies in front of the same origin (netbench serve),
# measured in one run, side by side: keep-alive HTTP, keep-alive HTTPS and new TLS connections
# per request, with wrk. Prints RPS, p50/p99 latency, proxy CPU per request and ratios, then
# edged's memory: idle RSS and the extra RSS of 10 000 idle keep-alive client connections.
#
# Layouts (LAYOUT=pinned, the default, as in shared/reference/perf-anchors.md): the origin and
# the proxy (1 worker/thread each) share CPU 0, wrk runs on CPU 1, so the RPS measures the
# server CPU a proxied request costs. LAYOUT=shared: nothing pinned, proxies get 2 workers.
# Knobs: BUILD (build dir), RUNS (rounds, default 3; medians are printed), DUR (seconds per
# run, default 5), CONNS (wrk connections, default 64), MODES ("plain tls newconn"),
# PROXIES ("edged nginx haproxy"), IDLE (idle connections for the memory test, 10000; 0 skips).
# nginx, HAProxy and wrk are installed with apt-get when missing (root only).
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
B=$PWD/$BUILD/bin
RUNS=${RUNS:-3}
DUR=${DUR:-5}
CONNS=${CONNS:-64}
LAYOUT=${LAYOUT:-pinned}
MODES=${MODES:-plain tls newconn}
PROXIES=${PROXIES:-edged nginx haproxy}
IDLE=${IDLE:-10000}
NPROC=$(nproc)

for p in edged netbench; do
  [ -x "$B/$p" ] || { echo "edged.sh: $B/$p missing (make BUILD=$BUILD)" >&2; exit 66; }
done
need=""
command -v wrk >/dev/null || need="$need wrk"
case " $PROXIES " in *" nginx "*) command -v nginx >/dev/null || need="$need nginx-light" ;; esac
case " $PROXIES " in *" haproxy "*) command -v haproxy >/dev/null || need="$need haproxy" ;; esac
if [ -n "$need" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "edged.sh: installing$need" >&2
    (apt-get install -y -q $need >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $need >/dev/null 2>&1; }) || true
  fi
fi
command -v wrk >/dev/null || { echo "edged.sh: wrk is not installed" >&2; exit 69; }
avail=""
for p in $PROXIES; do
  case $p in
  edged) avail="$avail edged" ;;
  *) if command -v "$p" >/dev/null; then avail="$avail $p"; else echo "edged.sh: $p not installed, skipped" >&2; fi ;;
  esac
done

. scripts/bench/common.sh
bench_tmp edged
bench_layout

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A self-signed P-256 certificate (the same for every proxy).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.test \
  -addext subjectAltName=DNS:bench.test -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1
cat "$T/cert.pem" "$T/key.pem" >"$T/combined.pem"

# The origin: netbench serve, one thread.
$SRV "$B/netbench" serve --listen 127.0.0.1:0 --threads 1 --reply hello >"$T/origin.out" 2>"$T/origin.err" &
PIDS="$PIDS $!"
for i in $(seq 1 100); do [ -s "$T/origin.out" ] && break; sleep 0.05; done
ORIGIN=$(head -1 "$T/origin.out")
OPORT=${ORIGIN##*:}

declare -A PLAIN TLS PID
start_edged() {
  cat >"$T/edged.toml" <<EOF
threads = $WORKERS
routes_file = "routes.toml"
store = ""
control_socket = ""
[http]
listen = ["127.0.0.1:0"]
[https]
listen = ["127.0.0.1:0"]
cert = "cert.pem"
key = "key.pem"
tls13_only = true
[upstream]
pool_size = 256
EOF
  printf '[[route]]\nname = "bench"\nhost = "*"\ntargets = ["%s"]\n' "$ORIGIN" >"$T/routes.toml"
  $SRV "$B/edged" -c "$T/edged.toml" -q >"$T/edged.out" 2>"$T/edged.err" &
  PID[edged]=$!
  PIDS="$PIDS $!"
  for i in $(seq 1 100); do grep -q '^https ' "$T/edged.out" 2>/dev/null && break; sleep 0.05; done
  PLAIN[edged]=$(sed -n 's/^http //p' "$T/edged.out")
  TLS[edged]=$(sed -n 's/^https //p' "$T/edged.out")
}
start_nginx() {
  local p1 p2
  p1=$(free_port)
  p2=$(free_port)
  mkdir -p "$T/nginx"
  cat >"$T/nginx.conf" <<EOF
worker_processes $WORKERS;
daemon off;
error_log $T/nginx/error.log;
pid $T/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $T/nginx; proxy_temp_path $T/nginx; fastcgi_temp_path $T/nginx;
  uwsgi_temp_path $T/nginx; scgi_temp_path $T/nginx;
  upstream origin { server $ORIGIN; keepalive 128; keepalive_requests 10000000; }
  server {
    listen 127.0.0.1:$p1;
    listen 127.0.0.1:$p2 ssl;
    ssl_certificate $T/cert.pem;
    ssl_certificate_key $T/key.pem;
    ssl_protocols TLSv1.3;
    keepalive_requests 10000000;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
  $SRV nginx -c "$T/nginx.conf" >"$T/nginx.out" 2>&1 &
  PID[nginx]=$!
  PIDS="$PIDS $!"
  PLAIN[nginx]=127.0.0.1:$p1
  TLS[nginx]=127.0.0.1:$p2
}
start_haproxy() {
  local p1 p2
  p1=$(free_port)
  p2=$(free_port)
  cat >"$T/haproxy.cfg" <<EOF
global
  nbthread $WORKERS
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
frontend web
  bind 127.0.0.1:$p1
  bind 127.0.0.1:$p2 ssl crt $T/combined.pem ssl-min-ver TLSv1.3
  default_backend origin
backend origin
  server o $ORIGIN
EOF
  $SRV haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.out" 2>&1 &
  PID[haproxy]=$!
  PIDS="$PIDS $!"
  PLAIN[haproxy]=127.0.0.1:$p1
  TLS[haproxy]=127.0.0.1:$p2
}

# CPU seconds (utime+stime, children included) of a process tree.
cpu_of() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" 2>/dev/null); do
    [ -r /proc/$p/stat ] || continue
    total=$(awk -v t="$total" '{print t + $14 + $15}' /proc/$p/stat)
  done
  echo "$total"
}

for p in $avail; do "start_$p"; done
sleep 0.5
for p in $avail; do
  wait_ok=0
  for i in $(seq 1 100); do
    curl -s -o /dev/null "http://${PLAIN[$p]}/" && { wait_ok=1; break; }
    sleep 0.05
  done
  [ "$wait_ok" = 1 ] || { echo "edged.sh: $p did not come up" >&2; cat "$T/$p.out" "$T/$p.err" 2>/dev/null >&2; exit 69; }
done

# run TARGET MODE -> "rps p50_ms p99_ms cpu_us_per_req"
run_one() {
  local name=$1 mode=$2 url extra=()
  if [ "$name" = direct ]; then
    url="http://$ORIGIN/"
  else
    case $mode in
    plain) url="http://${PLAIN[$name]}/" ;;
    tls) url="https://${TLS[$name]}/" ;;
    newconn) url="https://${TLS[$name]}/"; extra=(-H 'Connection: close') ;;
    esac
  fi
  local c
  c=$CONNS
  [ "$mode" = newconn ] && c=32
  # warm-up, not counted
  $CLI wrk -t1 -c"$c" -d1s "${extra[@]}" "$url" >/dev/null 2>&1 || true
  local pid=${PID[$name]:-}
  local c0=0
  [ -n "$pid" ] && c0=$(cpu_of "$pid")
  $CLI wrk -t1 -c"$c" -d"${DUR}s" --latency "${extra[@]}" "$url" >"$T/wrk.txt" 2>&1 || true
  local c1=0
  [ -n "$pid" ] && c1=$(cpu_of "$pid")
  awk -v c0="$c0" -v c1="$c1" -v hz="$(getconf CLK_TCK)" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    / 50%/ { p50 = ms($2) } / 99%/ { p99 = ms($2) }
    /^ *[0-9]+ requests in/ { n = $1 }
    /Requests\/sec/ { rps = $2 }
    END { cpu = (n > 0 && c1 > c0) ? (c1 - c0) / hz * 1e6 / n : 0; printf "%.0f %.2f %.2f %.1f\n", rps, p50, p99, cpu }' "$T/wrk.txt"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

echo "edged.sh: layout=$LAYOUT workers=$WORKERS runs=$RUNS dur=${DUR}s conns=$CONNS origin=netbench serve ($ORIGIN)" >&2
echo "edged.sh: versions: edged $("$B/edged" --version | cut -d' ' -f2)$(command -v nginx >/dev/null && echo ", $(nginx -v 2>&1 | sed 's/.*version: //')")$(command -v haproxy >/dev/null && echo ", HAProxy $(haproxy -v 2>/dev/null | head -1 | awk '{print $3}')"), wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}')" >&2
for r in $(seq 1 "$RUNS"); do
  run_one direct plain >>"$T/res.direct.plain"
  for mode in $MODES; do
    for p in $avail; do
      run_one "$p" "$mode" >>"$T/res.$p.$mode"
    done
  done
  echo "edged.sh: round $r of $RUNS done" >&2
done

col() { awk -v i="$2" '{print $i}' "$1" | median; }
printf '\n%-8s %-8s %10s %8s %8s %10s %9s %11s\n' mode proxy rps p50_ms p99_ms cpu_us/req "x_direct" "edged/this"
drps=$(col "$T/res.direct.plain" 1)
printf '%-8s %-8s %10.0f %8.2f %8.2f %10s %9s %11s\n' plain direct "$drps" "$(col "$T/res.direct.plain" 2)" "$(col "$T/res.direct.plain" 3)" - 1.00 -
for mode in $MODES; do
  erps=$(col "$T/res.edged.$mode" 1 2>/dev/null || echo 0)
  for p in $avail; do
    f="$T/res.$p.$mode"
    rps=$(col "$f" 1)
    ratio=$(awk -v a="$erps" -v b="$rps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    xd=$(awk -v a="$rps" -v b="$drps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    printf '%-8s %-8s %10.0f %8.2f %8.2f %10.1f %9s %11s\n' "$mode" "$p" "$rps" "$(col "$f" 2)" "$(col "$f" 3)" "$(col "$f" 4)" "$xd" "$ratio"
  done
done

# Memory: edged's RSS idle, and with IDLE idle keep-alive client connections (one request each).
if [ "$IDLE" -gt 0 ]; then
  kill "${PID[edged]}" 2>/dev/null || true
  wait "${PID[edged]}" 2>/dev/null || true
  ulimit -n 65536 2>/dev/null || true
  start_edged
  sleep 0.5
  rss() { awk '/^VmRSS/ {print $2}' /proc/"${PID[edged]}"/status; }
  idle=$(rss)
  python3 - "${PLAIN[edged]}" "$IDLE" "$T/held" <<'PY' &
import os, socket, sys, time
host, port = sys.argv[1].rsplit(':', 1)
n = int(sys.argv[2])
socks = []
for i in range(n):  # one request at a time, then the connection stays open and idle
    s = socket.create_connection((host, int(port)))
    s.sendall(b'GET / HTTP/1.1\r\nHost: bench.test\r\n\r\n')
    got = b''
    while b'hello' not in got:
        d = s.recv(4096)
        if not d:
            break
        got += d
    socks.append(s)
open(sys.argv[3], 'w').write('%d\n' % len(socks))
time.sleep(60)
PY
  HELD=$!
  PIDS="$PIDS $HELD"
  for i in $(seq 1 600); do [ -s "$T/held" ] && break; sleep 0.1; done
  sleep 1.5  # idle connections give their buffers back after a second
  held=$(rss)
  kill "$HELD" 2>/dev/null || true
  printf '\nedged memory: idle RSS %.1f MiB; with %d idle keep-alive connections %.1f MiB (+%.1f MiB, %.1f KiB each)\n' \
    "$(echo "$idle / 1024" | bc -l)" "$(cat "$T/held" 2>/dev/null || echo 0)" "$(echo "$held / 1024" | bc -l)" \
    "$(echo "($held - $idle) / 1024" | bc -l)" "$(echo "($held - $idle) / $IDLE" | bc -l)"
fi
