#!/usr/bin/env bats
# tunneld end to end: a real edge and a real site on 127.0.0.1 (each with its own WARREN_DIR),
# a python http.server origin reached with curl through a raw forward and through `dial`, bulk
# transfers with checksums both ways, UDP forwards, the allow list, bad keys and garbage, kill
# -9 and restarts, takeover, 100 reconnects without descriptor growth, reload and drain.
# Short timers (keepalive 500 ms, idle 2 s, backoff 50..400 ms) keep every wait bounded.

load tunneld-common

setup_file() {
  make_dirs tunneld
  mkdir -p "$TD/www"
  write_helpers
  head -c 300000 /dev/urandom | base64 -w 76 > "$TD/www/page.txt"
  echo "hello through the tunnel" > "$TD/www/index.html"
  export ORIGIN=$(free_port)
  (cd "$TD/www" && exec /usr/bin/python3 -m http.server "$ORIGIN" --bind 127.0.0.1 \
    >"$TD/origin.log" 2>&1 3>&-) &
  echo $! > "$TD/pids/origin"
  cat > "$E/tunneld.toml" <<EOF
drain_timeout = "5s"
[edge]
listen = "127.0.0.1:0"
keepalive = "500ms"
idle_timeout = "2s"
forward_bind = "127.0.0.1"
store_poll = "100ms"
udp_idle_timeout = "1s"
EOF
  start_edge_pinned
  # By name: the site resolves "localhost" again before every connection attempt.
  peerctl --dir "$E" site add homelab --edge "localhost:${EDGE_ADDR##*:}" > "$S/tunneld.toml"
  site_timers "$S/tunneld.toml"
  start_site "$S" site
  wait_online homelab
  wait_listen "$ORIGIN"
}

teardown_file() {
  kill_all
}

setup() {
  REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
  export PATH="$BIN:$PATH"
}

# --- helpers ----------------------------------------------------------------------------------



fd_count() { ls "/proc/$1/fd" | wc -l; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

write_helpers() {
  # dial.py SOCKET SITE TARGET [--send FILE] [--hold SECONDS]: prints the reply line on stderr,
  # sends FILE (or nothing), half-closes, copies what comes back to stdout.
  cat > "$TD/dial.py" <<'EOF'
import json, socket, sys, threading, time
sock, site, target = sys.argv[1:4]
args = sys.argv[4:]
send = args[args.index("--send") + 1] if "--send" in args else None
hold = float(args[args.index("--hold") + 1]) if "--hold" in args else 0
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.connect(sock)
s.sendall((json.dumps({"op": "dial", "site": site, "target": target}) + "\n").encode())
line = b""
while not line.endswith(b"\n"):
    c = s.recv(1)
    if not c:
        break
    line += c
sys.stderr.write(line.decode())
if not json.loads(line or b"{}").get("ok"):
    sys.exit(3)
time.sleep(hold)
def writer():
    try:
        if send:
            with open(send, "rb") as f:
                while True:
                    b = f.read(65536)
                    if not b:
                        break
                    s.sendall(b)
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the stream was reset: the reader sees the end
t = threading.Thread(target=writer)
t.start()
out = sys.stdout.buffer
while True:
    try:
        b = s.recv(262144)
    except OSError:
        break
    if not b:
        break
    out.write(b)
t.join()
EOF
  # udp.py PORT COUNT: sends COUNT datagrams to 127.0.0.1:PORT, prints how many came back.
  cat > "$TD/udp.py" <<'EOF'
import socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
got = 0
for i in range(count):
    msg = b"ping-%d-" % i + b"x" * (i * 37 % 1400)
    s.sendto(msg, ("127.0.0.1", port))
    try:
        data, _ = s.recvfrom(65536)
        got += data == msg.upper()
    except socket.timeout:
        pass
print(got)
EOF
  # udp_echo.py PORT: answers every datagram with its upper-case copy.
  cat > "$TD/udp_echo.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    data, peer = s.recvfrom(65536)
    s.sendto(data.upper(), peer)
EOF
}

dial() { # SITE TARGET [args]: dial through the edge's socket
  /usr/bin/python3 "$TD/dial.py" "$E/run/tunneld.sock" "$@"
}

add_forward() { # PROTO PORT TARGET [SITE]
  sqlite3 "$E/warren.db" "INSERT INTO forwards (protocol, listen_port, site, target, created_at) \
    VALUES ('$1', $2, '${4:-homelab}', '$3', 0)"
}

# --- tests ------------------------------------------------------------------------------------

@test "help, usage errors and --check-config answer 0 or 78 with file:line:col" {
  run tunneld --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"tunneld [--dir DIR] [--config FILE] [--check-config] [-q] [-v]"* ]]
  run tunneld --no-such-flag
  [ "$status" -eq 64 ]
  [[ "${lines[0]}" == "tunneld: "* ]]
  run tunneld --dir "$E" --check-config
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run tunneld --dir "$S" --check-config
  [ "$status" -eq 0 ]
  run tunneld --config "$TD/none.toml" --check-config
  [ "$status" -eq 78 ]
  [[ "$output" == "tunneld: "*"none.toml"* ]]
  printf '[edge]\nlisten = "127.0.0.1:1"\nmtu_ = 3\n' > "$TD/bad.toml"
  run tunneld --config "$TD/bad.toml" --check-config
  [ "$status" -eq 78 ]
  [ "$output" = "tunneld: $TD/bad.toml:3:1: unknown key \"edge.mtu_\"" ]
  printf '[site]\nname = "x"\nedge = "e:1"\nedge_public_key = "nope"\nprivate_key = "x"\n' > "$TD/bad2.toml"
  run tunneld --config "$TD/bad2.toml" --check-config
  [ "$status" -eq 78 ]
  [[ "$output" == *"bad2.toml:4:19: site.edge_public_key: not a key"* ]]
  # Running with a missing file is "no input".
  run tunneld --config "$TD/none.toml"
  [ "$status" -eq 66 ]
}

@test "curl reaches the origin through a raw TCP forward" {
  FWD=$(free_port)
  add_forward tcp "$FWD" "127.0.0.1:$ORIGIN"
  wait_listen "$FWD"
  run curl -sS --max-time 5 "http://127.0.0.1:$FWD/index.html"
  [ "$status" -eq 0 ]
  [ "$output" = "hello through the tunnel" ]
  curl -sS --max-time 5 "http://127.0.0.1:$FWD/page.txt" > "$TD/page.got"
  cmp "$TD/page.got" "$TD/www/page.txt"
  # Keep-alive: several requests on one connection.
  run curl -sS --max-time 5 "http://127.0.0.1:$FWD/index.html" "http://127.0.0.1:$FWD/index.html"
  [ "$output" = "hello through the tunnel
hello through the tunnel" ]
  echo "$FWD" > "$TD/http_fwd"
}

@test "dial answers ok and then carries raw HTTP; bad dials get codes" {
  printf 'GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n' > "$TD/req"
  run dial homelab "127.0.0.1:$ORIGIN" --send "$TD/req"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == '{"ok":true}' ]]
  [[ "$output" == *"HTTP/1.0 200 OK"* ]]
  [[ "$output" == *"hello through the tunnel"* ]]
  run call "$E/run/tunneld.sock" '{"op":"dial","site":"nosuch","target":"127.0.0.1:80"}'
  [ "$output" = '{"ok":false,"error":"no site nosuch","code":66}' ]
  run call "$E/run/tunneld.sock" '{"op":"dial","site":"homelab","target":"no port"}'
  [[ "$output" == *'"code":65'* ]]
  run call "$E/run/tunneld.sock" '{"op":"dial","site":"homelab"}'
  [[ "$output" == *'"code":64'* ]]
  run call "$E/run/tunneld.sock" '{"op":"nope"}'
  [[ "$output" == *'unknown op'* ]]
  # A refused target: the dial answers only once the site tried, with the site's reason.
  CLOSED=$(free_port)
  run call "$E/run/tunneld.sock" "{\"op\":\"dial\",\"site\":\"homelab\",\"target\":\"127.0.0.1:$CLOSED\"}"
  [ "$output" = "{\"ok\":false,\"error\":\"connect 127.0.0.1:$CLOSED: Connection refused\",\"code\":69}" ]
  # An unresolvable name: unreachable, with the resolver's reason.
  run call "$E/run/tunneld.sock" '{"op":"dial","site":"homelab","target":"no-such-host.invalid:80"}'
  [[ "$output" == '{"ok":false,"error":"resolve no-such-host.invalid'* ]]
  [[ "$output" == *'"code":69}' ]]
}

@test "bulk transfers keep every byte, both directions and 8 streams at once" {
  head -c 48000000 /dev/urandom > "$TD/bulk"
  want=$(sha256sum < "$TD/bulk" | cut -d' ' -f1)
  UP=$(free_port) DOWN=$(free_port) FUP=$(free_port) FDOWN=$(free_port)
  # Upload: the origin writes what it receives; download: the origin sends the file.
  socat -u TCP-LISTEN:$UP,bind=127.0.0.1,reuseaddr OPEN:"$TD/bulk.up",creat,trunc 3>&- &
  echo $! > "$TD/pids/up"
  socat -u FILE:"$TD/bulk" TCP-LISTEN:$DOWN,bind=127.0.0.1,reuseaddr 3>&- &
  echo $! > "$TD/pids/down"
  add_forward tcp "$FUP" "127.0.0.1:$UP"
  add_forward tcp "$FDOWN" "127.0.0.1:$DOWN"
  wait_listen "$UP"; wait_listen "$DOWN"; wait_listen "$FUP"; wait_listen "$FDOWN"
  timeout 30 socat -u FILE:"$TD/bulk" TCP:127.0.0.1:$FUP
  timeout 30 socat -u TCP:127.0.0.1:$FDOWN OPEN:"$TD/bulk.down",creat,trunc
  for _ in $(seq 1 100); do kill -0 "$(cat "$TD/pids/up")" 2>/dev/null || break; sleep 0.05; done
  [ "$(sha256sum < "$TD/bulk.up" | cut -d' ' -f1)" = "$want" ]
  [ "$(sha256sum < "$TD/bulk.down" | cut -d' ' -f1)" = "$want" ]

  # Eight streams at once through dial, each echoed back by the origin.
  ECHO=$(free_port)
  socat TCP-LISTEN:$ECHO,bind=127.0.0.1,reuseaddr,fork EXEC:cat 3>&- &
  echo $! > "$TD/pids/echo"
  wait_listen "$ECHO"
  head -c 4000000 /dev/urandom > "$TD/part"
  pwant=$(sha256sum < "$TD/part" | cut -d' ' -f1)
  pids=""
  for i in 1 2 3 4 5 6 7 8; do
    timeout 60 /usr/bin/python3 "$TD/dial.py" "$E/run/tunneld.sock" homelab "127.0.0.1:$ECHO" \
      --send "$TD/part" > "$TD/echo.$i" 2>/dev/null &
    pids="$pids $!"
  done
  for p in $pids; do wait "$p"; done
  for i in 1 2 3 4 5 6 7 8; do
    [ "$(sha256sum < "$TD/echo.$i" | cut -d' ' -f1)" = "$pwant" ]
  done
  # Both lanes carried streams.
  [ "$(site_field homelab lanes)" -eq 2 ]
  [ "$(site_field homelab bytes_in)" -gt 80000000 ]
  [ "$(site_field homelab bytes_out)" -gt 80000000 ]
}

@test "UDP forward relays datagrams both ways and flows idle out" {
  UDPT=$(free_port) FU=$(free_port)
  /usr/bin/python3 "$TD/udp_echo.py" "$UDPT" 3>&- &
  echo $! > "$TD/pids/udpecho"
  add_forward udp "$FU" "127.0.0.1:$UDPT"
  wait_listen "$UDPT" udp
  wait_listen "$FU" udp
  run /usr/bin/python3 "$TD/udp.py" "$FU" 50
  [ "$status" -eq 0 ]
  [ "$output" -ge 48 ]
  [ "$(edge_status | jq --argjson p "$FU" '.forwards[] | select(.port == $p) | .flows')" -eq 1 ]
  # udp_idle_timeout is 1 s: the flow goes away, and a new one starts on demand.
  for _ in $(seq 1 60); do
    [ "$(edge_status | jq --argjson p "$FU" '.forwards[] | select(.port == $p) | .flows')" -eq 0 ] && break
    sleep 0.1
  done
  [ "$(edge_status | jq --argjson p "$FU" '.forwards[] | select(.port == $p) | .flows')" -eq 0 ]
  run /usr/bin/python3 "$TD/udp.py" "$FU" 5
  [ "$output" -ge 4 ]
}

@test "the allow list refuses other targets and says so in the site log" {
  cp "$S/tunneld.toml" "$TD/site.toml.orig"
  echo "allow = [\"127.0.0.1:$ORIGIN\", \"localhost:1-1024\"]" >> "$S/tunneld.toml"
  n=$(grep -c "event=reloaded" "$TD/site.log" || true)
  kill -HUP "$(cat "$TD/pids/site")"
  for _ in $(seq 1 100); do
    [ "$(grep -c "event=reloaded" "$TD/site.log")" -gt "$n" ] && break
    sleep 0.05
  done
  [ "$(grep -c "event=reloaded" "$TD/site.log")" -gt "$n" ]
  printf 'GET /index.html HTTP/1.0\r\n\r\n' > "$TD/req"
  run dial homelab "127.0.0.1:$ORIGIN" --send "$TD/req"
  [[ "$output" == *"hello through the tunnel"* ]]
  OTHER=$(free_port)
  # (the server reads what it is sent: an 'echo' that exits at once made socat fail writing the
  # request to it, and under load socat gave up before relaying "secret")
  socat TCP-LISTEN:$OTHER,bind=127.0.0.1,reuseaddr,fork SYSTEM:'echo secret; cat >/dev/null' 3>&- &
  echo $! > "$TD/pids/other"
  wait_listen "$OTHER"
  run dial homelab "127.0.0.1:$OTHER" --send "$TD/req"
  [ "$status" -eq 3 ]
  [[ "$output" != *secret* ]]
  [[ "$output" == *'"error":"target not allowed by the site","code":77'* ]]
  grep -Eq "event=stream_refused.*127.0.0.1:$OTHER.*not_allowed" "$TD/site.log"
  # By name: localhost resolves to 127.0.0.1 but only ports up to 1024 are allowed by name,
  # and no network rule allows the address.
  run dial homelab "localhost:$OTHER" --send "$TD/req"
  [[ "$output" != *secret* ]]
  cp "$TD/site.toml.orig" "$S/tunneld.toml"
  run call "$S/run/tunneld.sock" '{"op":"reload"}'
  [ "$output" = '{"ok":true}' ]
  run dial homelab "127.0.0.1:$OTHER" --send "$TD/req"
  [[ "$output" == *secret* ]]
}

@test "a bad reload keeps the running configuration" {
  cp "$S/tunneld.toml" "$TD/site.toml.keep"
  echo 'lanes = "many"' >> "$S/tunneld.toml"
  run call "$S/run/tunneld.sock" '{"op":"reload"}'
  [[ "$output" == *'"ok":false'* ]]
  [[ "$output" == *'"code":78'* ]]
  [[ "$output" == *'tunneld.toml:'* ]]
  kill -HUP "$(cat "$TD/pids/site")"
  wait_log 'event=reload_failed' "$TD/site.log"
  cp "$TD/site.toml.keep" "$S/tunneld.toml"
  [ "$(site_field homelab online)" = true ]
}

@test "unknown keys, garbage and floods close only their connection" {
  # A site whose key the edge does not know.
  # (The homelab config with a fresh private key from a throwaway store.)
  mkdir -p "$TD/stranger" "$TD/keys"
  priv=$(peerctl --dir "$TD/keys" site add stranger --edge "$EDGE_ADDR" | grep '^private_key')
  grep -v '^private_key' "$S/tunneld.toml" | grep -v health_file > "$TD/stranger/tunneld.toml"
  echo "$priv" >> "$TD/stranger/tunneld.toml"
  start_site "$TD/stranger" stranger
  # Garbage and a truncated handshake on the lane port.
  port=${EDGE_ADDR##*:}
  head -c 5000 /dev/urandom | timeout 2 socat -u - TCP:127.0.0.1:$port || true
  printf '\001\377\377\377' | timeout 2 socat -u - TCP:127.0.0.1:$port || true
  for _ in $(seq 1 60); do
    grep -q "handshake_failed.*unknown key" "$TD/edge.log" && break
    sleep 0.05
  done
  grep -q "handshake_failed.*unknown key" "$TD/edge.log"
  grep -Eq "handshake_failed.*(malformed|oversized|refused|bad_mac)" "$TD/edge.log"
  grep -q 'event=handshake_failed.*hint=' "$TD/stranger.log"
  kill -9 "$(cat "$TD/pids/stranger")"
  # Everyone else is fine.
  [ "$(site_field homelab online)" = true ]
  [ "$(site_field homelab lanes)" -eq 2 ]
  printf 'GET /index.html HTTP/1.0\r\n\r\n' > "$TD/req"
  run dial homelab "127.0.0.1:$ORIGIN" --send "$TD/req"
  [[ "$output" == *"hello through the tunnel"* ]]
  kill -0 "$(cat "$TD/pids/edge")"
}

@test "kill -9 of the site: offline at once, dial fails fast, back after a restart" {
  kill -9 "$(cat "$TD/pids/site")"
  wait_online homelab false 40
  start=$(date +%s%N)
  run call "$E/run/tunneld.sock" '{"op":"dial","site":"homelab","target":"127.0.0.1:80"}'
  end=$(date +%s%N)
  [ "$output" = '{"ok":false,"error":"site homelab is offline","code":69}' ]
  [ $(( (end - start) / 1000000 )) -lt 500 ]
  FWD=$(cat "$TD/http_fwd")
  run curl -sS --max-time 3 "http://127.0.0.1:$FWD/index.html"
  [ "$status" -ne 0 ]
  start_site "$S" site
  wait_online homelab true 60
  run curl -sS --max-time 5 "http://127.0.0.1:$FWD/index.html"
  [ "$output" = "hello through the tunnel" ]
}

@test "edge restart: the site is back within its backoff" {
  kill -9 "$(cat "$TD/pids/edge")"
  wait_gone "$(cat "$TD/pids/edge")"
  start_edge
  [ "$(edge_status | jq -r .listen)" = "$EDGE_ADDR" ]
  wait_online homelab true 80
  [ "$(site_field homelab lanes)" -ge 1 ]
  [ "$(grep -c "event=lane_up" "$TD/site.log")" -ge 4 ]
}

@test "health file says ok while lanes are up" {
  cfg="$S/tunneld.toml"
  grep -q '^health_file' "$cfg" || echo 'health_file = "health"' >> "$cfg"
  kill -HUP "$(cat "$TD/pids/site")"
  for _ in $(seq 1 40); do [ -f "$S/health" ] && break; sleep 0.05; done
  [[ "$(cat "$S/health")" == "ok lanes="* ]]
  run call "$S/run/tunneld.sock" '{"op":"status"}'
  [ "$(echo "$output" | jq -r .role)" = site ]
  [ "$(echo "$output" | jq '.lanes_up')" -ge 1 ]
}

@test "a second process with the same key is refused and backs off; 100 refusals leak nothing" {
  wait_online homelab true 80
  for _ in $(seq 1 40); do [ "$(site_field homelab lanes)" -eq 2 ] && break; sleep 0.05; done
  ep=$(cat "$TD/pids/edge") sp=$(cat "$TD/pids/site")
  sleep 0.3
  efd0=$(fd_count "$ep") sfd0=$(fd_count "$sp") erss0=$(rss_kb "$ep")
  h0=$(site_field homelab handshakes) d0=$(site_field homelab duels)
  r0=$(grep -c "replaced" "$TD/site.log" || true)
  mkdir -p "$TD/twin"
  sed 's/^reconnect_min = .*/reconnect_min = "20ms"/; s/^reconnect_max = .*/reconnect_max = "40ms"/' \
    "$S/tunneld.toml" | grep -v health_file > "$TD/twin/tunneld.toml"
  start_site "$TD/twin" twin
  # The edge asks the established lanes, they answer: the twin is sent away, again and again.
  for _ in $(seq 1 300); do
    [ $(( $(site_field homelab duels) - d0 )) -ge 100 ] && break
    sleep 0.05
  done
  kill -9 "$(cat "$TD/pids/twin")"
  [ $(( $(site_field homelab duels) - d0 )) -ge 100 ]
  # The established process never lost its session.
  [ "$(site_field homelab handshakes)" -eq "$h0" ]
  [ "$(grep -c "replaced" "$TD/site.log" || true)" -eq "$r0" ]
  grep -q "event=site_duel site=homelab" "$TD/edge.log"
  grep -q "another process with this site's key is connected" "$TD/twin.log"
  [ "$(site_field homelab lanes)" -eq 2 ]
  sleep 0.5  # the twin's last lanes close on the edge
  efd1=$(fd_count "$ep") sfd1=$(fd_count "$sp") erss1=$(rss_kb "$ep")
  echo "edge fds $efd0 -> $efd1, site fds $sfd0 -> $sfd1, edge rss $erss0 -> $erss1 kB" >&3
  [ "$efd1" -le $((efd0 + 2)) ]
  [ "$sfd1" -le $((sfd0 + 2)) ]
  # (AddressSanitizer's quarantine keeps freed memory: no RSS bound for sanitizer builds.)
  [ -n "${ASAN_OPTIONS:-}" ] || [ "$erss1" -le $((erss0 + 8192)) ]
  printf 'GET /index.html HTTP/1.0\r\n\r\n' > "$TD/req"
  run dial homelab "127.0.0.1:$ORIGIN" --send "$TD/req"
  [[ "$output" == *"hello through the tunnel"* ]]
}

@test "a frozen site is taken over by its restart once its lanes do not answer" {
  wait_online homelab true 80
  for _ in $(seq 1 40); do [ "$(site_field homelab lanes)" -eq 2 ] && break; sleep 0.05; done
  sp=$(cat "$TD/pids/site")
  h0=$(site_field homelab handshakes)
  # Frozen: its sockets stay open, as after a power cut or a network change.
  kill -STOP "$sp"
  mkdir -p "$TD/restart"
  grep -v health_file "$S/tunneld.toml" > "$TD/restart/tunneld.toml"
  start_site "$TD/restart" restart
  for _ in $(seq 1 100); do
    [ $(( $(site_field homelab handshakes) - h0 )) -ge 2 ] && break
    sleep 0.05
  done
  [ $(( $(site_field homelab handshakes) - h0 )) -ge 2 ]
  grep -q "takeover=true" "$TD/edge.log"
  printf 'GET /index.html HTTP/1.0\r\n\r\n' > "$TD/req"
  run dial homelab "127.0.0.1:$ORIGIN" --send "$TD/req"
  [[ "$output" == *"hello through the tunnel"* ]]
  # The old process wakes up: now it is the newcomer, and it is sent away.
  d0=$(site_field homelab duels)
  kill -CONT "$sp"
  for _ in $(seq 1 100); do
    [ "$(site_field homelab duels)" -gt "$d0" ] && break
    sleep 0.05
  done
  [ "$(site_field homelab duels)" -gt "$d0" ]
  # Back to one site process for the tests that follow.
  kill -9 "$(cat "$TD/pids/restart")"
  wait_gone "$(cat "$TD/pids/restart")"
  wait_online homelab true 100
  for _ in $(seq 1 100); do [ "$(site_field homelab lanes)" -eq 2 ] && break; sleep 0.05; done
  [ "$(site_field homelab lanes)" -eq 2 ]
}

@test "a handshake flood from many addresses does not lock a known site out" {
  wait_online homelab true 80
  # 100 addresses in 127.0.0.0/8 keep up to 12 silent connections each (8 get a slot per
  # address), re-opening what the edge drops, until told to stop.
  cat > "$TD/flood.py" <<'EOF'
import os, socket, sys, time
port, stop = int(sys.argv[1]), sys.argv[2]
conns = {}
deadline = time.monotonic() + 60
while not os.path.exists(stop) and time.monotonic() < deadline:
    for a in range(100):
        src = "127.0.%d.%d" % (10 + a // 200, 2 + a % 200)
        live = [c for c in conns.get(src, []) if c.fileno() >= 0]
        while len(live) < 12:
            c = socket.socket()
            c.setblocking(False)
            try:
                c.bind((src, 0))
                c.connect_ex(("127.0.0.1", port))
            except OSError:
                c.close()
                break
            live.append(c)
        conns[src] = live
    time.sleep(0.2)
    for src, live in conns.items():  # drop what the edge closed
        keep = []
        for c in live:
            try:
                if c.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) == b"":
                    c.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                c.close()
                continue
            keep.append(c)
        conns[src] = keep
EOF
  /usr/bin/python3 "$TD/flood.py" "${EDGE_ADDR##*:}" "$TD/flood.stop" 3>&- &
  flood=$!
  # The flood is real: the open slots fill and unknown addresses are turned away.
  wait_log "event=lane_refused reason=(reserved_for_known_sources|too_many_from_source)" "$TD/edge.log" 200
  for _ in $(seq 1 100); do [ "$(edge_status | jq .handshaking)" -ge 150 ] && break; sleep 0.05; done
  [ "$(edge_status | jq .handshaking)" -ge 150 ]
  # A known site restarts in the middle of it and is back within its backoff.
  kill -9 "$(cat "$TD/pids/site")"
  wait_online homelab false 40
  start_site "$S" site
  wait_online homelab true 100
  touch "$TD/flood.stop"
  wait "$flood"
  for _ in $(seq 1 100); do [ "$(site_field homelab lanes)" -eq 2 ] && break; sleep 0.05; done
  printf 'GET /index.html HTTP/1.0\r\n\r\n' > "$TD/req"
  run dial homelab "127.0.0.1:$ORIGIN" --send "$TD/req"
  [[ "$output" == *"hello through the tunnel"* ]]
}

@test "store changes apply live: remove refuses, rotate-key locks the old key out" {
  wait_online homelab true 80
  peerctl --dir "$E" site add spare --edge "$EDGE_ADDR" > "$TD/spare.toml"
  peerctl --dir "$E" site remove spare
  for _ in $(seq 1 40); do
    [[ "$(call "$E/run/tunneld.sock" '{"op":"dial","site":"spare","target":"127.0.0.1:1"}')" == *'"code":66'* ]] && break
    sleep 0.05
  done
  [[ "$(call "$E/run/tunneld.sock" '{"op":"dial","site":"spare","target":"127.0.0.1:1"}')" == *'no site spare'* ]]
  # New key: the running site (old key) is dropped and cannot come back.
  peerctl --dir "$E" site rotate-key homelab --edge "$EDGE_ADDR" > "$TD/rotated.toml"
  wait_online homelab false 60
  sleep 0.5
  [ "$(site_field homelab online)" = false ]
  grep -q "event=site_rekeyed site=homelab" "$TD/edge.log"
  # The site with its new configuration is back.
  kill -9 "$(cat "$TD/pids/site")"
  cp "$TD/rotated.toml" "$S/tunneld.toml"
  site_timers "$S/tunneld.toml"
  start_site "$S" site
  wait_online homelab true 80
}

@test "SIGTERM drains: open streams finish, new dials get 75, exit 0" {
  wait_online homelab true 80
  printf 'GET /page.txt HTTP/1.0\r\n\r\n' > "$TD/req"
  # A stream that starts now and sends its request after a second.
  dial homelab "127.0.0.1:$ORIGIN" --send "$TD/req" --hold 1 > "$TD/drained" 2>/dev/null &
  dpid=$!
  # The stream is open on the edge before the signal.
  for _ in $(seq 1 100); do
    [ "$(edge_status | jq '[.sites[].streams] | add')" -ge 1 ] && break
    sleep 0.05
  done
  [ "$(edge_status | jq '[.sites[].streams] | add')" -ge 1 ]
  ep=$(cat "$TD/pids/edge")
  kill -TERM "$ep"
  wait_log "event=draining" "$TD/edge.log"
  run call "$E/run/tunneld.sock" '{"op":"dial","site":"homelab","target":"127.0.0.1:80"}'
  [[ "$output" == *'"code":75'* ]]
  wait "$dpid"
  grep -q "HTTP/1.0 200 OK" "$TD/drained"
  tail -c 100 "$TD/www/page.txt" > "$TD/tail.want"
  tail -c 100 "$TD/drained" > "$TD/tail.got"
  cmp "$TD/tail.want" "$TD/tail.got"
  for _ in $(seq 1 100); do kill -0 "$ep" 2>/dev/null || break; sleep 0.05; done
  ! kill -0 "$ep" 2>/dev/null
  grep -q "event=drained" "$TD/edge.log"
  grep -q "event=stopped" "$TD/edge.log"
  # The site saw the CLOSE (going away) and keeps trying.
  grep -q "closed by peer: going away" "$TD/site.log"
  start_edge
  wait_online homelab true 100
}
