#!/bin/sh
# tunneld over an emulated WAN, against the bare link, ssh -L and wireguard-go, side by side in
# one run (scripts/bench/tunnel-wan.sh).
#
# Two network namespaces, warren-wan-a (the edge, 10.99.0.1) and warren-wan-b (the site,
# 10.99.0.2), joined by scripts/bench/wanem.c (this kernel has no netem): a persistent TUN wan0
# in each, and wanem between them with a one-way delay of RTT/2, RATE, a drop-tail queue of one
# bandwidth-delay product and random LOSS. For each (RTT, loss) cell wanem, the site tunneld
# and the ssh client are restarted (so no long-lived connection carries its RTT and bandwidth
# estimates from one cell into the next; the edge, sshd and wireguard-go stay). The iperf3
# server runs at the site; the client at the edge reaches it
#   bare      directly, 10.99.0.2:5201
#   tunneld   through a raw TCP forward on the edge (127.0.0.1:5301), the site tunneld dialing
#             the edge over the link (LANES lanes, default 2; otherwise defaults)
#   ssh       through `ssh -L` to a throwaway sshd at the site (chacha20-poly1305@openssh.com)
#   wg        through wireguard-go at both ends (10.98.0.0/24, MTU 1420)
# for each stream count in STREAMS and both directions: s2e (site -> edge, iperf3 -R, a
# download from the site) and e2s. Mbit/s received and ratios to the bare link of the same cell.
# Then the latency of a 64-byte request/response loop over a second connection (an echo server
# at the site), p50/p99 for PROBE seconds: idle, and while one s2e bulk stream runs on the
# same path.
#
# The namespaces are the hosts: their TCP autotuning limits (tcp_rmem, tcp_wmem) are raised to
# TCP_MEM so that the bare link can fill a 100 ms pipe; congestion control is the host's.
# Nothing is pinned; the busy share of the box during each cell is printed next to it.
#
# Knobs: RTTS ("10 50 100", ms), LOSSES ("0 0.5", %), RATE (1000, Mbit/s), QUEUE (wanem -q;
# default one BDP), STREAMS ("1 4"), DIRS ("s2e e2s"), PATHS ("bare tunneld ssh wg"),
# LANES (2, the site's lanes), DUR (10, s per run), OMIT (0, iperf3 -O), PROBE (10, s; 0: no latency probe), SEED (1),
# TCP_MEM ("4096 131072 33554432"), BUILD (build).
# Self-healing: HEAL (0) outage cycles on the tunneld path after the matrix, at the first RTT
# of RTTS without loss: each cycle the link drops every packet for OUTAGE (30) s (wanem SIGUSR1)
# and then recovers, or, every HEAL_RESTART-th (4) cycle, the edge tunneld restarts instead; the
# time from recovery to the first successful request through the forward is measured (a fresh
# connection, a 64-byte echo, attempts every 50 ms with a 1 s timeout), p50/p99/max over the
# cycles. HEAL=100 takes about an hour; MATRIX=0 skips the throughput matrix.
# Needs root (namespaces, TUN): exits 77 otherwise. POSIX sh, as `make bench` runs it. iperf3 is
# installed with apt-get when missing; sshd and wireguard-go too, and their paths are skipped
# with a note when that fails. The full matrix takes about 25 minutes.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
BIN=$PWD/$BUILD/bin
RTTS=${RTTS:-10 50 100}
LOSSES=${LOSSES:-0 0.5}
RATE=${RATE:-1000}
QUEUE=${QUEUE:-}
STREAMS=${STREAMS:-1 4}
DIRS=${DIRS:-s2e e2s}
PATHS=${PATHS:-bare tunneld ssh wg}
DUR=${DUR:-10}
OMIT=${OMIT:-0}
PROBE=${PROBE:-10}
HEAL=${HEAL:-0}
OUTAGE=${OUTAGE:-30}
HEAL_RESTART=${HEAL_RESTART:-4}
MATRIX=${MATRIX:-1}
LANES=${LANES:-2}
SEED=${SEED:-1}
TCP_MEM=${TCP_MEM:-4096 131072 33554432}
PY=/usr/bin/python3
NA=warren-wan-a
NB=warren-wan-b
A_IP=10.99.0.1
B_IP=10.99.0.2

die() { echo "tunnel-wan.sh: $2" >&2; exit "$1"; }
[ "$(id -u)" -eq 0 ] || die 77 "needs root (network namespaces, TUN devices)"
[ -c /dev/net/tun ] || die 69 "/dev/net/tun missing"
for b in tunneld peerctl; do
  [ -x "$BIN/$b" ] || die 66 "$BIN/$b missing (run make first)"
done
for ns in $NA $NB; do
  [ ! -e "/run/netns/$ns" ] || die 75 "namespace $ns exists (another run? if not: ip netns del $ns)"
done

install() { # PACKAGE...: apt-get install, quietly; fails when it cannot
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1; }
}
has() { case " $PATHS " in *" $1 "*) return 0 ;; esac; return 1; }
skip() { # PATH WHY
  echo "tunnel-wan.sh: skipping $1: $2" >&2
  NOTES="$NOTES
note: $1 skipped: $2"
  PATHS=$(echo " $PATHS " | sed "s/ $1 / /")
}
NOTES=""
command -v iperf3 >/dev/null 2>&1 || { echo "tunnel-wan.sh: installing iperf3" >&2; install iperf3 || true; }
command -v iperf3 >/dev/null 2>&1 || die 69 "iperf3 is not installed"
command -v ping >/dev/null 2>&1 || install iputils-ping || true
command -v ping >/dev/null 2>&1 || die 69 "ping is not installed"
command -v cc >/dev/null 2>&1 || die 69 "cc is not installed"
if has ssh && { [ ! -x /usr/sbin/sshd ] || ! command -v ssh >/dev/null 2>&1; }; then
  install openssh-server openssh-client || true
  [ -x /usr/sbin/sshd ] || skip ssh "openssh-server cannot be installed"
fi
if has wg && ! { command -v wireguard-go && command -v wg; } >/dev/null 2>&1; then
  install wireguard-go wireguard-tools || true
  { command -v wireguard-go && command -v wg; } >/dev/null 2>&1 ||
    skip wg "wireguard-go or wireguard-tools cannot be installed"
fi

T=$(mktemp -d /tmp/tunnel-wan.XXXXXX)
PIDS=""
WANEM_PID=""
cleanup() {
  for p in $WANEM_PID $PIDS; do kill "$p" 2>/dev/null || true; done
  for ns in $NA $NB; do
    if [ -e "/run/netns/$ns" ]; then
      for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    fi
  done
  wait 2>/dev/null || true
  ip netns del $NA 2>/dev/null || true
  ip netns del $NB 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

in_a() { ip netns exec $NA "$@"; }
in_b() { ip netns exec $NB "$@"; }
bg() { # NAME CMD...: run in the background, log to $T/NAME.log; LAST = its pid
  name=$1
  shift
  "$@" >"$T/$name.log" 2>&1 &
  LAST=$!
  PIDS="$PIDS $LAST"
}
wait_port() { # NS PORT: until something listens on PORT in NS
  i=0
  while ! ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q LISTEN; do
    i=$((i + 1))
    [ $i -gt 600 ] && die 69 "nothing listens on port $2 in $1"
    sleep 0.05
  done
}
stat_snap() { awk '/^cpu / {print $2+$3+$4+$5+$6+$7+$8, $5+$6}' /proc/stat; }
busy_since() { # "TOTAL IDLE" from stat_snap -> percent of the box busy since
  stat_snap | awk -v s="$1" 'BEGIN {split(s, a, " ")}
    {t = $1 - a[1]; printf "%.0f", (t > 0 ? 100 * (1 - ($2 - a[2]) / t) : 0)}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b; else print "-"}'; }

# --- the link -----------------------------------------------------------------------------------
cc -O2 -Wall -o "$T/wanem" scripts/bench/wanem.c
for ns in $NA $NB; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$ns" tuntap add dev wan0 mode tun
  ip netns exec "$ns" sysctl -q -w net.ipv4.tcp_rmem="$TCP_MEM" net.ipv4.tcp_wmem="$TCP_MEM"
done
ip -n $NA addr add $A_IP/24 dev wan0
ip -n $NB addr add $B_IP/24 dev wan0
ip -n $NA link set wan0 up
ip -n $NB link set wan0 up

link() { # RTT LOSS: (re)start wanem
  if [ -n "$WANEM_PID" ]; then
    kill "$WANEM_PID" 2>/dev/null || true
    wait "$WANEM_PID" 2>/dev/null || true
  fi
  delay=$(awk -v r="$1" 'BEGIN {print r / 2}')
  # shellcheck disable=SC2046
  "$T/wanem" -d "$delay" -r "$RATE" -l "$2" -s "$SEED" $([ -n "$QUEUE" ] && echo "-q $QUEUE") \
    $NA $NB &
  WANEM_PID=$!
  sleep 0.2
  kill -0 "$WANEM_PID" 2>/dev/null || die 69 "wanem did not start"
}
link 10 0

# --- the servers at the site and the tunnels ------------------------------------------------------
bg iperf3 ip netns exec $NB iperf3 -s -p 5201
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
    srv = await asyncio.start_server(handle, "0.0.0.0", int(sys.argv[1]))
    await srv.serve_forever()
asyncio.run(main())
EOF
bg echo ip netns exec $NB "$PY" "$T/echo.py" 5400
wait_port $NB 5201
wait_port $NB 5400
addr_of() { # PATH bulk|echo: where the edge's namespace reaches the iperf3 or echo server
  case $1.$2 in
  bare.bulk) echo $B_IP:5201 ;; bare.echo) echo $B_IP:5400 ;;
  tunneld.bulk) echo 127.0.0.1:5301 ;; tunneld.echo) echo 127.0.0.1:5302 ;;
  ssh.bulk) echo 127.0.0.1:5311 ;; ssh.echo) echo 127.0.0.1:5312 ;;
  wg.bulk) echo 10.98.0.2:5201 ;; wg.echo) echo 10.98.0.2:5400 ;;
  esac
}

edge_status() { printf '{"op":"status"}\n' | socat -t 2 - UNIX-CONNECT:"$T/edge/run/tunneld.sock"; }
if has tunneld; then
  mkdir -p "$T/edge" "$T/site"
  printf '[edge]\nlisten = "%s:7000"\nforward_bind = "127.0.0.1"\n' $A_IP > "$T/edge/tunneld.toml"
  bg edge ip netns exec $NA "$BIN/tunneld" --dir "$T/edge" -q
  wait_port $NA 7000
  "$BIN/peerctl" --dir "$T/edge" site add wan --edge $A_IP:7000 --lanes "$LANES" > "$T/site/tunneld.toml"
  sqlite3 "$T/edge/warren.db" "INSERT INTO forwards (protocol, listen_port, site, target, created_at)
    VALUES ('tcp', 5301, 'wan', '127.0.0.1:5201', 0), ('tcp', 5302, 'wan', '127.0.0.1:5400', 0)"
  wait_port $NA 5301
  wait_port $NA 5302
fi
wait_lanes() { # the site has both lanes up
  has tunneld || return 0
  i=0
  until printf '{"op":"status"}\n' | socat -t 2 - UNIX-CONNECT:"$T/site/run/tunneld.sock" 2>/dev/null |
    grep -q "\"lanes_up\":$LANES"; do
    i=$((i + 1))
    [ $i -gt 600 ] && { cat "$T/site.log" >&2; die 69 "the site's lanes did not come up"; }
    sleep 0.05
  done
}
SITE_PID=""
start_site() { # a fresh site process, so its lanes learn the new link from scratch
  if [ -n "$SITE_PID" ]; then
    kill "$SITE_PID" 2>/dev/null || true
    wait "$SITE_PID" 2>/dev/null || true
  fi
  bg site ip netns exec $NB "$BIN/tunneld" --dir "$T/site" -q
  SITE_PID=$LAST
  wait_lanes
}

if has ssh; then
  ssh-keygen -q -t ed25519 -N '' -f "$T/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$T/id"
  cp "$T/id.pub" "$T/authorized_keys"
  cat > "$T/sshd_config" <<EOF
ListenAddress $B_IP
Port 2222
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
  mkdir -p /run/sshd
  bg sshd ip netns exec $NB /usr/sbin/sshd -D -e -f "$T/sshd_config"
  wait_port $NB 2222
fi
SSH_PID=""
start_ssh() { # a fresh ssh -L, for the same reason
  if [ -n "$SSH_PID" ]; then
    kill "$SSH_PID" 2>/dev/null || true
    wait "$SSH_PID" 2>/dev/null || true
  fi
  bg ssh ip netns exec $NA ssh -N -p 2222 -i "$T/id" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o Ciphers=chacha20-poly1305@openssh.com -o Compression=no -o BatchMode=yes \
    -o ServerAliveInterval=5 -o ServerAliveCountMax=12 \
    -L 127.0.0.1:5311:127.0.0.1:5201 -L 127.0.0.1:5312:127.0.0.1:5400 "root@$B_IP"
  SSH_PID=$LAST
  i=0
  while ! in_a ss -Hltn "sport = :5312" | grep -q LISTEN; do
    i=$((i + 1))
    if [ $i -gt 300 ] || ! kill -0 "$SSH_PID" 2>/dev/null; then
      skip ssh "ssh -L did not come up: $(tail -1 "$T/ssh.log")"
      break
    fi
    sleep 0.05
  done
}

wg_up() { # wireguard-go at both ends, peered over the link; fails if no ping gets through
  bg wga ip netns exec $NA wireguard-go -f wanwg-a
  bg wgb ip netns exec $NB wireguard-go -f wanwg-b
  i=0
  until [ -S /var/run/wireguard/wanwg-a.sock ] && [ -S /var/run/wireguard/wanwg-b.sock ]; do
    i=$((i + 1))
    [ $i -gt 100 ] && return 1
    sleep 0.05
  done
  in_a wg set wanwg-a private-key "$T/wga.key" listen-port 51820 \
    peer "$(wg pubkey < "$T/wgb.key")" allowed-ips 10.98.0.2/32 endpoint $B_IP:51820 &&
    in_b wg set wanwg-b private-key "$T/wgb.key" listen-port 51820 \
      peer "$(wg pubkey < "$T/wga.key")" allowed-ips 10.98.0.1/32 endpoint $A_IP:51820 &&
    ip -n $NA addr add 10.98.0.1/24 dev wanwg-a && ip -n $NB addr add 10.98.0.2/24 dev wanwg-b &&
    ip -n $NA link set wanwg-a mtu 1420 up && ip -n $NB link set wanwg-b mtu 1420 up &&
    in_a ping -c 1 -W 5 10.98.0.2 >/dev/null 2>&1
}
if has wg; then
  (umask 077 && wg genkey > "$T/wga.key" && wg genkey > "$T/wgb.key")
  export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
  wg_up || skip wg "wireguard-go did not come up: $(tail -1 "$T/wga.log" 2>/dev/null)"
fi

# --- measuring --------------------------------------------------------------------------------
mbps() { # PATH STREAMS DIR -> Mbit/s received, or "-"
  addr=$(addr_of "$1" bulk)
  rev=""
  [ "$3" = s2e ] && rev=-R
  # shellcheck disable=SC2086
  in_a timeout $((DUR + OMIT + 30)) iperf3 -c "${addr%:*}" -p "${addr##*:}" -t "$DUR" -O "$OMIT" \
    -P "$2" $rev -J 2>/dev/null | "$PY" -c '
import json, sys
try:
    print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))
except Exception:
    print("-")' || echo -
}
cat > "$T/probe.py" <<'EOF'
import socket, sys, time
host, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection((host, port), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
msg, lat = b"x" * 64, []
end = time.monotonic() + secs
while time.monotonic() < end:
    t0 = time.perf_counter_ns()
    s.sendall(msg)
    got = 0
    while got < len(msg):
        b = s.recv(len(msg) - got)
        if not b:
            raise SystemExit("closed")
        got += len(b)
    lat.append(time.perf_counter_ns() - t0)
lat.sort()
print("%.1f/%.1f/%d" % (lat[len(lat) // 2] / 1e6, lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1e6, len(lat)))
EOF
probe() { # PATH -> "p50/p99/n" (ms, ms, requests), or "-"
  addr=$(addr_of "$1" echo)
  in_a timeout $((PROBE + 20)) "$PY" "$T/probe.py" "${addr%:*}" "${addr##*:}" "$PROBE" 2>/dev/null || echo -
}

RUN_RTTS=$RTTS
[ "$MATRIX" = 1 ] || RUN_RTTS=""
for rtt in $RUN_RTTS; do
  for loss in $LOSSES; do
    link "$rtt" "$loss"
    if has tunneld; then start_site; fi
    if has ssh; then start_ssh; fi
    PING=$(in_a ping -q -c 5 -i 0.2 $B_IP 2>/dev/null | awk -F/ '/^rtt/ {print $5}')
    echo "== RTT $rtt ms, loss $loss %, $RATE Mbit/s: ping $PING ms" >&2
    echo "${PING:--}" > "$T/ping.$rtt.$loss"
    s0=$(stat_snap)
    for p in $STREAMS; do
      for dir in $DIRS; do
        for path in $PATHS; do
          [ "$path" = tunneld ] && wait_lanes
          v=$(mbps "$path" "$p" "$dir")
          echo "$v" > "$T/r.$rtt.$loss.$p.$dir.$path"
          echo "  -P $p $dir $path: $v Mbit/s" >&2
        done
      done
    done
    busy_since "$s0" > "$T/busy.$rtt.$loss"
    if [ "$PROBE" != 0 ]; then
      for path in $PATHS; do
        [ "$path" = tunneld ] && wait_lanes
        idle=$(probe "$path")
        addr=$(addr_of "$path" bulk)
        in_a timeout $((PROBE + 30)) iperf3 -c "${addr%:*}" -p "${addr##*:}" -t $((PROBE + 3)) -R \
          >/dev/null 2>&1 &
        bulk=$!
        sleep 1.5
        loaded=$(probe "$path")
        wait "$bulk" 2>/dev/null || true
        echo "$idle $loaded" > "$T/lat.$rtt.$loss.$path"
        echo "  probe $path: idle $idle ms, under s2e bulk $loaded ms" >&2
      done
    fi
  done
done

# --- self-healing -------------------------------------------------------------------------------
cat > "$T/heal.py" <<'EOF'
import socket, sys, time
host, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
t0 = time.monotonic()
while time.monotonic() - t0 < limit:
    try:
        s = socket.create_connection((host, port), timeout=1)
        s.settimeout(1)
        s.sendall(b"x" * 64)
        got = b""
        while len(got) < 64:
            b = s.recv(64 - len(got))
            if not b:
                break
            got += b
        s.close()
        if len(got) == 64:
            print("%.3f" % (time.monotonic() - t0))
            raise SystemExit(0)
    except OSError:
        pass
    time.sleep(0.05)
print("-")
EOF
if [ "$HEAL" -gt 0 ] && has tunneld; then
  rtt=${RTTS%% *}
  link "$rtt" 0
  start_site
  : > "$T/heal"
  c=1
  while [ $c -le "$HEAL" ]; do
    wait_lanes
    if [ "$HEAL_RESTART" -gt 0 ] && [ $((c % HEAL_RESTART)) -eq 0 ]; then
      kind=restart
      for p in $(ip netns pids $NA); do
        [ "$(cat /proc/"$p"/comm 2>/dev/null)" = tunneld ] && kill "$p"
      done
      sleep 0.5
      bg edge ip netns exec $NA "$BIN/tunneld" --dir "$T/edge" -q
      wait_port $NA 5302
    else
      kind=outage
      kill -USR1 "$WANEM_PID"
      sleep "$OUTAGE"
      kill -USR2 "$WANEM_PID"
    fi
    t=$(in_a "$PY" "$T/heal.py" 127.0.0.1 5302 300)
    echo "$kind $t" >> "$T/heal"
    echo "  heal cycle $c ($kind): first request after $t s" >&2
    c=$((c + 1))
  done
fi

# --- report -------------------------------------------------------------------------------------
get() { cat "$T/$1" 2>/dev/null || echo -; }
if [ -s "$T/heal" ]; then
  echo
  echo "Self-healing: seconds from recovery to the first successful request through the tunnel (RTT ${RTTS%% *} ms)"
  for kind in outage restart; do
    awk -v k=$kind '$1 == k && $2 != "-" {print $2}' "$T/heal" | sort -n |
      awk -v k=$kind -v o="$OUTAGE" -v f="$(awk -v k=$kind '$1 == k && $2 == "-"' "$T/heal" | wc -l)" '
        {v[NR] = $1}
        END {
          if (NR == 0) {printf "%-8s no successful cycle (%d failed)\n", k, f; exit}
          p99 = int(NR * 0.99 + 0.999); if (p99 > NR) p99 = NR
          printf "%-8s n=%d failed=%d p50=%.2f p99=%.2f max=%.2f%s\n", k, NR, f, v[int((NR + 1) / 2)], v[p99], v[NR],
            (k == "outage" ? " (after a " o " s black hole)" : " (edge tunneld restarted)")}'
  done
fi
[ "$MATRIX" = 1 ] || exit 0

echo
echo "Mbit/s received (iperf3 -t $DUR -O $OMIT), link $RATE Mbit/s; ratios to the bare link of the same cell"
printf '%-6s %-5s %-3s %-4s %6s' rtt_ms loss% P dir ping
for path in $PATHS; do printf ' %8s' "$path"; done
for path in $PATHS; do [ "$path" = bare ] || printf ' %8s' "$path/b"; done
printf ' %5s\n' busy%
for rtt in $RTTS; do
  for loss in $LOSSES; do
    for p in $STREAMS; do
      for dir in $DIRS; do
        printf '%-6s %-5s %-3s %-4s %6s' "$rtt" "$loss" "$p" "$dir" "$(get "ping.$rtt.$loss")"
        for path in $PATHS; do printf ' %8s' "$(get "r.$rtt.$loss.$p.$dir.$path")"; done
        b=$(get "r.$rtt.$loss.$p.$dir.bare")
        for path in $PATHS; do
          [ "$path" = bare ] || printf ' %8s' "$(ratio "$(get "r.$rtt.$loss.$p.$dir.$path")" "$b")"
        done
        printf ' %5s\n' "$(get "busy.$rtt.$loss")"
      done
    done
  done
done
if [ "$PROBE" != 0 ]; then
  echo
  echo "64-byte request/response over a second connection for $PROBE s, p50/p99 ms/requests: idle, and under one s2e bulk stream"
  printf '%-6s %-5s %-8s %18s %18s\n' rtt_ms loss% path idle loaded
  for rtt in $RTTS; do
    for loss in $LOSSES; do
      for path in $PATHS; do
        read -r idle loaded < "$T/lat.$rtt.$loss.$path" || true
        printf '%-6s %-5s %-8s %18s %18s\n' "$rtt" "$loss" "$path" "${idle:--}" "${loaded:--}"
      done
    done
  done
fi
echo "host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), congestion control $(in_a sysctl -n net.ipv4.tcp_congestion_control)$NOTES"
