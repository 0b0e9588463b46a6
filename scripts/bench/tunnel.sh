#!/bin/sh
# tunneld against ssh -L and stunnel, measured side by side in one run (scripts/bench/tunnel.sh).
#
#   bulk      iperf3 -P 1 and -P 4 for DUR seconds: direct loopback, through tunneld (an edge
#             forward to a site, 2 lanes), through `ssh -L` (chacha20-poly1305@openssh.com, a
#             throwaway sshd on a high loopback port) and through stunnel (TLS 1.3, its default
#             suite); Gbit/s and ratios.
#   crypto    openssl speed -evp chacha20-poly1305 (16 KiB), the single-core AEAD limit.
#   open      stream-open latency: OPENS x (dial on the edge's socket, {"ok":true}, one byte to an
#             echo target at the site and back), p50/p99; the same with a direct TCP connect.
#   idle      RSS of the site (and edge) with IDLE open idle streams.
#
# As in the perf anchors, nothing is pinned and each run waits (60 s at most) for the box to be
# at most 15 % busy; the busy share of the box during each run is printed next to it.
# Knobs: BUILD (default build), DUR (8), RUNS (1; medians), OPENS (10000), IDLE (1000).
# iperf3, sshd and stunnel are test tools: installed with apt-get when missing.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
BIN=$PWD/$BUILD/bin
DUR=${DUR:-8}
RUNS=${RUNS:-1}
OPENS=${OPENS:-10000}
IDLE=${IDLE:-1000}
PY=/usr/bin/python3

for b in tunneld peerctl; do
  [ -x "$BIN/$b" ] || { echo "tunnel.sh: $BIN/$b missing (run make first)" >&2; exit 66; }
done
need=""
command -v iperf3 >/dev/null 2>&1 || need="$need iperf3"
command -v ssh >/dev/null 2>&1 || need="$need openssh-client"
[ -x /usr/sbin/sshd ] || need="$need openssh-server"
command -v stunnel4 >/dev/null 2>&1 || command -v stunnel >/dev/null 2>&1 || need="$need stunnel4"
if [ -n "$need" ]; then
  echo "tunnel.sh: installing$need" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null 2>&1 ||
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null; }
fi
STUNNEL=$(command -v stunnel4 || command -v stunnel)

T=$(mktemp -d /tmp/tunnel-bench.XXXXXX)
PIDS=""
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT INT TERM
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_port() {
  $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
  i=0
  while ! ss -Hltn "sport = :$1" | grep -q LISTEN; do
    i=$((i + 1))
    [ $i -gt 200 ] && { echo "tunnel.sh: nothing listens on port $1" >&2; exit 69; }
    sleep 0.05
  done
}
bg() { # NAME CMD...: run in the background, log to $T/NAME.log; LAST = its pid
  name=$1
  shift
  "$@" >"$T/$name.log" 2>&1 &
  LAST=$!
  PIDS="$PIDS $LAST"
}
busy() { # percent of the box busy over 1 s
  $PY - <<'EOF'
import time
def snap():
    v = list(map(int, open("/proc/stat").readline().split()[1:]))
    return sum(v), v[3] + v[4]
t0, i0 = snap(); time.sleep(1); t1, i1 = snap()
print(round(100 * (1 - (i1 - i0) / max(1, t1 - t0))))
EOF
}
wait_quiet() { # sets WAITED (seconds) and BUSY (percent, last sample)
  WAITED=0
  BUSY=$(busy)
  while [ "$BUSY" -gt 15 ] && [ "$WAITED" -lt 60 ]; do
    WAITED=$((WAITED + 1))
    BUSY=$(busy)
  done
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }

# --- the origin and the three tunnels -----------------------------------------------------------
IPERF=$(free_port)
bg iperf3 iperf3 -s -p "$IPERF" -B 127.0.0.1
wait_port "$IPERF"

# tunneld: an edge with a forward to the iperf3 server, a site with 2 lanes.
mkdir -p "$T/edge" "$T/site"
cat > "$T/edge/tunneld.toml" <<EOF
[edge]
listen = "127.0.0.1:0"
forward_bind = "127.0.0.1"
EOF
bg edge "$BIN/tunneld" --dir "$T/edge" -q
EDGE_PID=$LAST
i=0
while [ ! -S "$T/edge/run/tunneld.sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
EDGE=$(printf '{"op":"status"}\n' | socat -t 2 - UNIX-CONNECT:"$T/edge/run/tunneld.sock" |
  $PY -c 'import json,sys; print(json.load(sys.stdin)["listen"])')
"$BIN/peerctl" --dir "$T/edge" site add bench --edge "$EDGE" > "$T/site/tunneld.toml"
TUN=$(free_port)
sqlite3 "$T/edge/warren.db" "INSERT INTO forwards (protocol, listen_port, site, target, created_at)
  VALUES ('tcp', $TUN, 'bench', '127.0.0.1:$IPERF', 0)"
bg site "$BIN/tunneld" --dir "$T/site" -q
SITE_PID=$LAST
wait_port "$TUN"
i=0
until printf '{"op":"status"}\n' | socat -t 2 - UNIX-CONNECT:"$T/edge/run/tunneld.sock" |
  grep -q '"lanes":2'; do
  i=$((i + 1))
  [ $i -gt 200 ] && { echo "tunnel.sh: the site did not come up" >&2; cat "$T/site.log" >&2; exit 69; }
  sleep 0.05
done

# ssh -L: a throwaway sshd on loopback with its own host key and one authorized key.
SSHD_PORT=$(free_port)
SSH_L=$(free_port)
ssh-keygen -q -t ed25519 -N '' -f "$T/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$T/id"
cp "$T/id.pub" "$T/authorized_keys"
cat > "$T/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $T/host_key
AuthorizedKeysFile $T/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
AllowTcpForwarding yes
Ciphers chacha20-poly1305@openssh.com
EOF
[ -d /run/sshd ] || mkdir -p /run/sshd
bg sshd /usr/sbin/sshd -D -e -f "$T/sshd_config"
wait_port "$SSHD_PORT"
bg ssh ssh -N -p "$SSHD_PORT" -i "$T/id" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
  -o Ciphers=chacha20-poly1305@openssh.com -o Compression=no -o BatchMode=yes \
  -L "127.0.0.1:$SSH_L:127.0.0.1:$IPERF" "$(id -un)@127.0.0.1"
wait_port "$SSH_L"

# stunnel: client :ST_C -> server :ST_S (TLS 1.3, self-signed P-256) -> iperf3.
ST_S=$(free_port)
ST_C=$(free_port)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench \
  -keyout "$T/st.key" -out "$T/st.crt" 2>/dev/null
cat > "$T/st-server.conf" <<EOF
foreground = yes
pid =
[bench]
accept = 127.0.0.1:$ST_S
connect = 127.0.0.1:$IPERF
cert = $T/st.crt
key = $T/st.key
sslVersionMin = TLSv1.3
EOF
cat > "$T/st-client.conf" <<EOF
foreground = yes
pid =
[bench]
client = yes
accept = 127.0.0.1:$ST_C
connect = 127.0.0.1:$ST_S
sslVersionMin = TLSv1.3
EOF
bg stunnel-s "$STUNNEL" "$T/st-server.conf"
bg stunnel-c "$STUNNEL" "$T/st-client.conf"
wait_port "$ST_S"
wait_port "$ST_C"

# --- bulk ---------------------------------------------------------------------------------------
gbps() { # PORT STREAMS -> Gbit/s received (iperf3 JSON)
  iperf3 -c 127.0.0.1 -p "$1" -t "$DUR" -P "$2" -J 2>/dev/null |
    $PY -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}
echo "== bulk: iperf3 -t $DUR, $RUNS run(s), medians" >&2
for p in 1 4; do
  for path in direct tunneld ssh stunnel; do : > "$T/r.$path.$p"; done
  for r in $(seq 1 "$RUNS"); do
    for path in direct tunneld ssh stunnel; do
      case $path in
      direct) port=$IPERF ;; tunneld) port=$TUN ;; ssh) port=$SSH_L ;; stunnel) port=$ST_C ;;
      esac
      wait_quiet
      v=$(gbps "$port" "$p")
      echo "$v" >> "$T/r.$path.$p"
      echo "  -P $p $path run $r: $v Gbit/s (box busy before: $BUSY %, waited ${WAITED} s)" >&2
    done
  done
done

# --- crypto -------------------------------------------------------------------------------------
wait_quiet
AEAD=$(openssl speed -seconds 3 -bytes 16384 -evp chacha20-poly1305 2>/dev/null |
  awk 'tolower($1) ~ /chacha20/ {v=$NF} END {sub(/k$/, "", v); printf "%.0f", v / 1000}')

# --- stream opens and idle streams --------------------------------------------------------------
cat > "$T/echo.py" <<'EOF'
import asyncio, sys
async def handle(r, w):
    try:
        while True:
            b = await r.read(65536)
            if not b:
                break
            w.write(b)
            await w.drain()
    except ConnectionError:
        pass
    w.close()
async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    await srv.serve_forever()
asyncio.run(main())
EOF
cat > "$T/opens.py" <<'EOF'
import json, socket, sys, time
mode, n = sys.argv[1], int(sys.argv[2])
sock, target = sys.argv[3], sys.argv[4]
host, port = target.rsplit(":", 1)
req = (json.dumps({"op": "dial", "site": "bench", "target": target}) + "\n").encode()
def one():
    if mode == "dial":
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        s.sendall(req)
        line = b""
        while not line.endswith(b"\n"):
            line += s.recv(1)
        if b'"ok":true' not in line:
            raise SystemExit("dial failed: " + line.decode())
    else:
        s = socket.create_connection((host, int(port)))
    s.sendall(b"x")
    if s.recv(1) != b"x":
        raise SystemExit("no echo")
    return s
lat = []
for i in range(n):
    t0 = time.perf_counter_ns()
    s = one()
    lat.append(time.perf_counter_ns() - t0)
    s.close()
lat.sort()
print("%.3f %.3f" % (lat[len(lat) // 2] / 1e6, lat[int(len(lat) * 0.99)] / 1e6))
EOF
cat > "$T/hold.py" <<'EOF'
import json, socket, sys, time
n, sock, target, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
req = (json.dumps({"op": "dial", "site": "bench", "target": target}) + "\n").encode()
held = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(req)
    line = b""
    while not line.endswith(b"\n"):
        line += s.recv(1)
    s.sendall(b"x")
    s.recv(1)
    held.append(s)
open(ready, "w").write("%d\n" % len(held))
time.sleep(3600)
EOF
ECHO=$(free_port)
bg echo "$PY" "$T/echo.py" "$ECHO"
wait_port "$ECHO"
wait_quiet
OPEN_T=$("$PY" "$T/opens.py" dial "$OPENS" "$T/edge/run/tunneld.sock" "127.0.0.1:$ECHO")
OPEN_D=$("$PY" "$T/opens.py" direct "$OPENS" "$T/edge/run/tunneld.sock" "127.0.0.1:$ECHO")

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# A fresh site process (the bulk runs left buffers in the old one), back on both lanes.
kill "$SITE_PID"
wait "$SITE_PID" 2>/dev/null || true
bg site2 "$BIN/tunneld" --dir "$T/site" -q
SITE_PID=$LAST
i=0
until printf '{"op":"status"}\n' | socat -t 2 - UNIX-CONNECT:"$T/site/run/tunneld.sock" 2>/dev/null |
  grep -q '"lanes_up":2'; do
  i=$((i + 1))
  [ $i -gt 200 ] && { echo "tunnel.sh: the site did not come back" >&2; exit 69; }
  sleep 0.05
done
sleep 1
RSS0=$(rss "$SITE_PID")
ERSS0=$(rss "$EDGE_PID")
bg hold "$PY" "$T/hold.py" "$IDLE" "$T/edge/run/tunneld.sock" "127.0.0.1:$ECHO" "$T/held"
i=0
while [ ! -s "$T/held" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
sleep 2
STREAMS=$(printf '{"op":"status"}\n' | socat -t 2 - UNIX-CONNECT:"$T/site/run/tunneld.sock" |
  $PY -c 'import json,sys; print(sum(l["streams"] for l in json.load(sys.stdin)["lanes"]))')
RSS1=$(rss "$SITE_PID")
ERSS1=$(rss "$EDGE_PID")

# --- report -------------------------------------------------------------------------------------
for p in 1 4; do
  for path in direct tunneld ssh stunnel; do
    eval "G_${path}_$p=$(median < "$T/r.$path.$p")"
  done
done
echo
echo "bulk -P 1 direct: $G_direct_1 Gbit/s"
echo "bulk -P 1 tunneld: $G_tunneld_1 Gbit/s"
echo "bulk -P 1 ssh -L (chacha20-poly1305): $G_ssh_1 Gbit/s"
echo "bulk -P 1 stunnel (TLS 1.3): $G_stunnel_1 Gbit/s"
echo "bulk -P 4 direct: $G_direct_4 Gbit/s"
echo "bulk -P 4 tunneld: $G_tunneld_4 Gbit/s"
echo "bulk -P 4 ssh -L (chacha20-poly1305): $G_ssh_4 Gbit/s"
echo "bulk -P 4 stunnel (TLS 1.3): $G_stunnel_4 Gbit/s"
echo "ratio -P 1 tunneld/ssh: $(ratio "$G_tunneld_1" "$G_ssh_1") (goal >= 2)"
echo "ratio -P 1 tunneld/stunnel: $(ratio "$G_tunneld_1" "$G_stunnel_1") (goal >= 1)"
echo "ratio -P 1 tunneld/direct: $(ratio "$G_tunneld_1" "$G_direct_1")"
echo "ratio -P 4 tunneld/ssh: $(ratio "$G_tunneld_4" "$G_ssh_4")"
echo "ratio -P 4 tunneld/stunnel: $(ratio "$G_tunneld_4" "$G_stunnel_4")"
echo "ratio -P 4 tunneld/direct: $(ratio "$G_tunneld_4" "$G_direct_4")"
echo "openssl speed -evp chacha20-poly1305 16 KiB, one core: $AEAD MB/s ($(awk -v m="$AEAD" 'BEGIN {printf "%.1f", m * 8 / 1000}') Gbit/s)"
echo "stream open via dial, p50/p99 of $OPENS: $(echo "$OPEN_T" | awk '{print $1 " / " $2}') ms"
echo "direct TCP connect, p50/p99 of $OPENS: $(echo "$OPEN_D" | awk '{print $1 " / " $2}') ms"
PER=$(awk -v a="$RSS0" -v b="$RSS1" -v n="$STREAMS" 'BEGIN {if (n > 0) printf "%.0f", (b - a) * 1024 / n; else print "-"}')
echo "site RSS idle: $RSS0 kB; with $STREAMS open idle streams: $RSS1 kB ($PER bytes per stream)"
echo "edge RSS idle: $ERSS0 kB; with $STREAMS open idle streams: $ERSS1 kB"
