#!/usr/bin/env bats
# Access control of raw TCP/UDP forwards, end to end: a real edge and a real site tunneld on
# 127.0.0.1, a recording origin that logs every connection it gets, and clients bound to
# 127.0.0.1, 127.0.0.2 and 127.0.0.3 (all loopback) as different sources. Every refusal is
# checked twice: the client gets no byte, and the origin saw no connection (a positive control
# through the same forward afterwards adds exactly one). Settings come from peerctl resource.

load tunneld-common

setup_file() {
  make_dirs fwd-access
  write_helpers
  # The installation's CA, the certificate TLS forwards present, a client certificate; and a
  # client certificate from another CA.
  WARREN_DIR=$E cactl init --no-passphrase >/dev/null
  WARREN_DIR=$E cactl issue fwd.warren.test --out-dir "$E/certs" >/dev/null
  WARREN_DIR=$E cactl issue alice --profile client --out-dir "$TD/client" >/dev/null
  WARREN_DIR=$E cactl export root > "$TD/root.pem"
  mkdir -p "$TD/other"
  WARREN_DIR=$TD/other cactl init --no-passphrase >/dev/null
  WARREN_DIR=$TD/other cactl issue mallory --profile client --out-dir "$TD/mallory" >/dev/null
  /usr/bin/python3 "$REPO/tests/cli/mmdb.py" "$E/geo.mmdb" 127.0.0.2/32=NL 127.0.0.3/32=DE
  export ORIGIN=$(free_port) UORIGIN=$(free_port)
  /usr/bin/python3 "$TD/origin.py" "$ORIGIN" "$TD/origin.log" >"$TD/origin.out" 2>&1 3>&- &
  echo $! > "$TD/pids/origin"
  /usr/bin/python3 "$TD/udp_echo.py" "$UORIGIN" >/dev/null 2>&1 3>&- &
  echo $! > "$TD/pids/uorigin"
  cat > "$E/tunneld.toml" <<EOF
[edge]
listen = "127.0.0.1:0"
keepalive = "500ms"
idle_timeout = "2s"
forward_bind = "127.0.0.1"
store_poll = "100ms"
geoip_db = "geo.mmdb"
forward_tls_cert = "certs/fwd.warren.test.fullchain.pem"
forward_tls_key = "certs/fwd.warren.test.key"
EOF
  (tunneld --dir "$E" -v >>"$TD/edge.log" 2>&1 3>&- & echo $! > "$TD/pids/edge")
  for _ in $(seq 1 100); do
    [ -S "$E/run/tunneld.sock" ] && edge_status >/dev/null 2>&1 && break
    sleep 0.05
  done
  local addr
  addr=$(edge_status | jq -r .listen)
  peerctl --dir "$E" site add homelab --edge "$addr" > "$S/tunneld.toml"
  printf 'reconnect_min = "50ms"\nreconnect_max = "400ms"\n' >> "$S/tunneld.toml"
  (tunneld --dir "$S" -v >>"$TD/site.log" 2>&1 3>&- & echo $! > "$TD/pids/site")
  for _ in $(seq 1 100); do
    [ "$(edge_status | jq -r '.sites[0].online')" = true ] && break
    sleep 0.05
  done
  [ "$(edge_status | jq -r '.sites[0].online')" = true ]
  wait_listen "$ORIGIN"
}

teardown_file() {
  touch "$TD/release"
  kill_all
}

setup() {
  export PATH="$BIN:$PATH"
}

# --- helpers ----------------------------------------------------------------------------------



wait_gone() { # PORT
  for _ in $(seq 1 100); do
    ss -Hltn "sport = :$1" | grep -q LISTEN || return 0
    sleep 0.05
  done
  return 1
}

edge_status() { printf '{"op":"status"}\n' | socat -t 3 - UNIX-CONNECT:"$E/run/tunneld.sock"; }

fwd_field() { # PORT FIELD (jq path below the forward)
  edge_status | jq -r --argjson p "$1" ".forwards[] | select(.port == \$p) | $2"
}

# wait_log PATTERN [tries]: waits (<= tries x 50 ms) for an extended regex in the edge's log.
wait_log() {
  for _ in $(seq 1 "${2:-100}"); do
    grep -Eq "$1" "$TD/edge.log" && return 0
    sleep 0.05
  done
  echo "no line matching $1 in the edge log" >&2
  tail -20 "$TD/edge.log" >&2
  return 1
}

origin_count() { [ -f "$TD/origin.log" ] && wc -l < "$TD/origin.log" || echo 0; }

# conn SRC PORT: connects from SRC, prints what came back (up to the origin's greeting line).
conn() { /usr/bin/python3 "$TD/client.py" "$@"; }

peerctl_e() { peerctl --dir "$E" "$@"; }

# add_fwd NAME PORT [OPTIONS]: a tcp forward to the origin, waited for.
add_fwd() {
  local name=$1 port=$2
  shift 2
  peerctl_e resource add "$name" --tcp "$port" --site homelab --to "127.0.0.1:$ORIGIN" "$@"
  wait_listen "$port"
}

write_helpers() {
  # origin.py PORT LOG: a recording TCP origin. Every connection is one line in LOG (written
  # before anything is sent), then it sends "ORIGIN-HELLO n" and echoes what it reads.
  cat > "$TD/origin.py" <<'EOF'
import socket, sys, threading
port, log = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
count = 0
def serve(c, peer):
    global count
    with lock:
        count += 1
        n = count
        with open(log, "a") as f:
            f.write("conn %d from %s:%d\n" % (n, peer[0], peer[1]))
    try:
        c.sendall(b"ORIGIN-HELLO %d\n" % n)
        while True:
            b = c.recv(65536)
            if not b:
                break
            c.sendall(b)
    except OSError:
        pass
    c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(128)
while True:
    c, peer = s.accept()
    threading.Thread(target=serve, args=(c, peer), daemon=True).start()
EOF
  # client.py SRC PORT [--hold FILE]: connects from SRC to 127.0.0.1:PORT and prints what it
  # reads until the greeting line or EOF (at most 5 s). With --hold it then keeps the
  # connection open until FILE exists.
  cat > "$TD/client.py" <<'EOF'
import os, socket, sys, time
src, port = sys.argv[1], int(sys.argv[2])
hold = sys.argv[sys.argv.index("--hold") + 1] if "--hold" in sys.argv else None
s = socket.socket()
s.bind((src, 0))
s.settimeout(5)
s.connect(("127.0.0.1", port))
got = b""
try:
    while not got.endswith(b"\n"):
        b = s.recv(4096)
        if not b:
            break
        got += b
except (socket.timeout, ConnectionResetError):
    pass
sys.stdout.write(got.decode(errors="replace"))
sys.stdout.flush()
if hold:
    while not os.path.exists(hold):
        time.sleep(0.02)
s.close()
EOF
  # burst.py SRC PORT N: N connections from SRC as fast as possible; prints "accepted refused
  # elapsed_ms" (accepted: the greeting came back).
  cat > "$TD/burst.py" <<'EOF'
import socket, sys, time
src, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
acc = ref = 0
socks = []
t0 = time.monotonic()
for _ in range(n):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    socks.append(s)
t1 = time.monotonic()
for s in socks:
    try:
        b = s.recv(100)
    except (socket.timeout, ConnectionResetError):
        b = b""
    if b.startswith(b"ORIGIN-HELLO"):
        acc += 1
    else:
        ref += 1
    s.close()
print(acc, ref, int((t1 - t0) * 1000))
EOF
  # udp.py SRC PORT: one datagram from SRC, prints the answer ("" after 1 s without one).
  cat > "$TD/udp.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
s.settimeout(1)
s.sendto(b"ping", ("127.0.0.1", int(sys.argv[2])))
try:
    print(s.recvfrom(65536)[0].decode())
except socket.timeout:
    print("")
EOF
  cat > "$TD/udp_echo.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    data, peer = s.recvfrom(65536)
    s.sendto(data.upper(), peer)
EOF
}

# --- tests ------------------------------------------------------------------------------------

@test "peerctl resource: forward access options, shown back, bad input is 64 or 65" {
  P=$(free_port)
  run peerctl_e resource add acl0 --tcp "$P" --site homelab --to "127.0.0.1:$ORIGIN" \
    --allow 10.0.0.0/8 --allow 2001:db8::/32 --deny 10.66.0.0/16 --allow-country de \
    --deny-country CN --max-conns 4 --conn-rate 5/s --conn-burst 10 --tls-client-cert --disabled
  [ "$status" -eq 0 ]
  run peerctl_e resource show acl0
  [ "$status" -eq 0 ]
  [[ "$output" == *"allow:"*"10.0.0.0/8 2001:db8::/32"* ]]
  [[ "$output" == *"allow countries:"*"DE"* ]]
  [[ "$output" == *"deny:"*"10.66.0.0/16"* ]]
  [[ "$output" == *"max conns:"*"4 per source"* ]]
  [[ "$output" == *"conn rate:"*"5/s burst 10"* ]]
  [[ "$output" == *"tls:"*"client certificate"* ]]
  run peerctl_e resource show acl0 --json
  [ "$(echo "$output" | jq -c .access.allow)" = '["10.0.0.0/8","2001:db8::/32"]' ]
  [ "$(echo "$output" | jq -r .access.max_conns)" = 4 ]
  [ "$(echo "$output" | jq -r .access.tls_client_cert)" = true ]
  run peerctl_e resource list
  [[ "$output" == *"allow 3, deny 2, max-conns 4, rate 5/s, tls"* ]]
  # set: clear and replace one list, keep the others.
  peerctl_e resource set acl0 --clear-allow --allow 192.0.2.7 --no-tls-client-cert --max-conns 0
  run peerctl_e resource show acl0 --json
  [ "$(echo "$output" | jq -c .access.allow)" = '["192.0.2.7"]' ]
  [ "$(echo "$output" | jq -c .access.allow_countries)" = '[]' ]
  [ "$(echo "$output" | jq -c .access.deny)" = '["10.66.0.0/16"]' ]
  [ "$(echo "$output" | jq -r .access.max_conns)" = 0 ]
  [ "$(echo "$output" | jq -r .access.tls_client_cert)" = false ]
  # Bad data: 65, one line naming the option.
  run peerctl_e resource set acl0 --allow 10.0.0.1/8
  [ "$status" -eq 65 ]
  [ "$output" = 'peerctl: --allow: bad address "10.0.0.1/8": host bits set' ]
  run peerctl_e resource set acl0 --deny nope
  [ "$status" -eq 65 ]
  [[ "$output" == 'peerctl: --deny: bad address "nope": not an IP address' ]]
  run peerctl_e resource set acl0 --allow-country DEU
  [ "$status" -eq 65 ]
  [[ "$output" == "peerctl: --allow-country: bad country \"DEU\""* ]]
  run peerctl_e resource set acl0 --max-conns many
  [ "$status" -eq 65 ]
  [[ "$output" == "peerctl: --max-conns: 'many': not a count"* ]]
  run peerctl_e resource set acl0 --conn-rate 5/m
  [ "$status" -eq 65 ]
  # Usage: 64.
  run peerctl_e resource add u0 --udp "$(free_port)" --site homelab --to 127.0.0.1:53 --tls-client-cert
  [ "$status" -eq 64 ]
  [ "$output" = "peerctl: --tls-client-cert: TLS is for tcp forwards, not udp" ]
  run peerctl_e resource add web0 --host app.example.com --target 127.0.0.1:1 --allow 10.0.0.0/8
  [ "$status" -eq 64 ]
  [[ "$output" == "peerctl: --allow, --deny, "*"are for tcp/udp forwards"* ]]
  run peerctl_e resource set acl0 --tls-client-cert --no-tls-client-cert
  [ "$status" -eq 64 ]
  # Nothing was changed by the failures.
  run peerctl_e resource show acl0 --json
  [ "$(echo "$output" | jq -c .access.allow)" = '["192.0.2.7"]' ]
  peerctl_e resource rm acl0
}

@test "a denied source gets no byte and the origin sees no connection; others get through" {
  P=$(free_port)
  add_fwd deny1 "$P" --deny 127.0.0.2
  before=$(origin_count)
  run conn 127.0.0.2 "$P"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  wait_log "event=forward_refused forward=tcp:$P name=deny1 source=127.0.0.2:[0-9]+ reason=denied"
  # Positive control through the same forward: exactly one more connection at the origin.
  run conn 127.0.0.1 "$P"
  [[ "$output" == "ORIGIN-HELLO "* ]]
  [ "$(origin_count)" -eq $((before + 1)) ]
  wait_log "event=forward_accepted forward=tcp:$P name=deny1 source=127.0.0.1:[0-9]+ site=homelab"
  [ "$(fwd_field "$P" .refused_by.denied)" -eq 1 ]
  [ "$(fwd_field "$P" .accepted)" -eq 1 ]
  [ "$(fwd_field "$P" .last_refused.reason)" = denied ]
  # A whole network, and IPv4-mapped forms typed by the administrator, work the same way.
  peerctl_e resource set deny1 --clear-deny --deny 127.0.0.0/30
  for _ in $(seq 1 100); do
    out=$(conn 127.0.0.1 "$P")
    [ -z "$out" ] && break
    sleep 0.05
  done
  [ -z "$out" ]
  run conn 127.0.0.3 "$P"
  [ -z "$output" ]
  run conn 127.0.0.5 "$P"
  [[ "$output" == "ORIGIN-HELLO "* ]]
  peerctl_e resource rm deny1
  wait_gone "$P"
}

@test "an allow list refuses everyone else, and follows peerctl resource set live" {
  P=$(free_port)
  add_fwd allow1 "$P" --allow 127.0.0.1
  before=$(origin_count)
  run conn 127.0.0.2 "$P"
  [ -z "$output" ]
  run conn 127.0.0.1 "$P"
  [[ "$output" == "ORIGIN-HELLO "* ]]
  [ "$(origin_count)" -eq $((before + 1)) ]
  wait_log "forward=tcp:$P name=allow1 source=127.0.0.2:[0-9]+ reason=not_allowed"
  peerctl_e resource set allow1 --clear-allow --allow 127.0.0.2/32
  for _ in $(seq 1 100); do
    out=$(conn 127.0.0.2 "$P")
    [[ "$out" == "ORIGIN-HELLO "* ]] && break
    sleep 0.05
  done
  [[ "$out" == "ORIGIN-HELLO "* ]]
  run conn 127.0.0.1 "$P"
  [ -z "$output" ]
  peerctl_e resource rm allow1
  wait_gone "$P"
}

@test "country rules use the GeoIP database" {
  P=$(free_port)
  add_fwd geo1 "$P" --deny-country NL
  run conn 127.0.0.2 "$P"
  [ -z "$output" ]
  wait_log "forward=tcp:$P name=geo1 source=127.0.0.2:[0-9]+ reason=denied country=NL"
  run conn 127.0.0.3 "$P"
  [[ "$output" == "ORIGIN-HELLO "* ]]
  wait_log "forward=tcp:$P name=geo1 source=127.0.0.3:[0-9]+ .* country=DE"
  # An allow-country list refuses sources of other and of unknown countries (127.0.0.1).
  peerctl_e resource set geo1 --clear-deny --allow-country de
  for _ in $(seq 1 100); do
    out=$(conn 127.0.0.2 "$P")
    out1=$(conn 127.0.0.1 "$P")
    [ -z "$out" ] && [ -z "$out1" ] && break
    sleep 0.05
  done
  [ -z "$out" ] && [ -z "$out1" ]
  run conn 127.0.0.3 "$P"
  [[ "$output" == "ORIGIN-HELLO "* ]]
  peerctl_e resource rm geo1
  wait_gone "$P"
}

@test "max-conns limits the connections one source has open" {
  P=$(free_port)
  add_fwd lim1 "$P" --max-conns 2
  rm -f "$TD/release"
  conn 127.0.0.1 "$P" --hold "$TD/release" > "$TD/h1" 3>&- &
  conn 127.0.0.1 "$P" --hold "$TD/release" > "$TD/h2" 3>&- &
  for _ in $(seq 1 100); do
    [ -s "$TD/h1" ] && [ -s "$TD/h2" ] && break
    sleep 0.05
  done
  grep -q ORIGIN-HELLO "$TD/h1"
  grep -q ORIGIN-HELLO "$TD/h2"
  [ "$(fwd_field "$P" .sources_open)" -eq 2 ]
  before=$(origin_count)
  run conn 127.0.0.1 "$P"
  [ -z "$output" ]
  wait_log "forward=tcp:$P name=lim1 source=127.0.0.1:[0-9]+ reason=max_conns"
  # Another source has its own count.
  run conn 127.0.0.2 "$P"
  [[ "$output" == "ORIGIN-HELLO "* ]]
  [ "$(origin_count)" -eq $((before + 1)) ]
  # When the held connections end, the source may connect again.
  touch "$TD/release"
  wait
  for _ in $(seq 1 100); do
    [ "$(fwd_field "$P" .sources_open)" -eq 0 ] && break
    sleep 0.05
  done
  [ "$(fwd_field "$P" .sources_open)" -eq 0 ]
  run conn 127.0.0.1 "$P"
  [[ "$output" == "ORIGIN-HELLO "* ]]
  peerctl_e resource rm lim1
  wait_gone "$P"
}

@test "conn-rate limits new connections per source" {
  P=$(free_port)
  add_fwd rate1 "$P" --conn-rate 1/s --conn-burst 3
  before=$(origin_count)
  read -r acc ref ms < <(/usr/bin/python3 "$TD/burst.py" 127.0.0.1 "$P" 8)
  # Three at once, plus at most one more for every second the burst took.
  [ "$acc" -ge 3 ]
  [ "$acc" -le $((3 + ms / 1000 + 1)) ]
  [ "$ref" -eq $((8 - acc)) ]
  [ "$(origin_count)" -eq $((before + acc)) ]
  wait_log "forward=tcp:$P name=rate1 source=127.0.0.1:[0-9]+ reason=rate"
  # Another source has its own bucket.
  run conn 127.0.0.2 "$P"
  [[ "$output" == "ORIGIN-HELLO "* ]]
  peerctl_e resource rm rate1
  wait_gone "$P"
}

@test "UDP forwards drop datagrams of refused sources" {
  P=$(free_port)
  peerctl_e resource add udp1 --udp "$P" --site homelab --to "127.0.0.1:$UORIGIN" --deny 127.0.0.2
  wait_listen "$P" udp
  run /usr/bin/python3 "$TD/udp.py" 127.0.0.2 "$P"
  [ "$output" = "" ]
  run /usr/bin/python3 "$TD/udp.py" 127.0.0.1 "$P"
  [ "$output" = "PING" ]
  wait_log "forward=udp:$P name=udp1 source=127.0.0.2:[0-9]+ reason=denied"
  [ "$(fwd_field "$P" .refused_by.denied)" -ge 1 ]
  peerctl_e resource rm udp1
}

@test "a TLS forward needs a client certificate from the installation's CA" {
  P=$(free_port)
  add_fwd tls1 "$P" --tls-client-cert
  before=$(origin_count)
  # With alice's certificate (from this CA): the origin's greeting, in TLS.
  run sh -c "echo | timeout 10 openssl s_client -quiet -verify_quiet -connect 127.0.0.1:$P \
    -servername fwd.warren.test -CAfile '$TD/root.pem' -verify_return_error \
    -cert '$TD/client/alice.crt' -key '$TD/client/alice.key' 2>/dev/null | head -1"
  [[ "$output" == "ORIGIN-HELLO "* ]]
  [ "$(origin_count)" -eq $((before + 1)) ]
  wait_log "event=forward_accepted forward=tcp:$P name=tls1 .*client=\".*CN ?= ?alice"
  # Without a certificate, with one from another CA, and in plain TCP: nothing.
  run sh -c "echo | timeout 10 openssl s_client -quiet -connect 127.0.0.1:$P -CAfile '$TD/root.pem' \
    2>/dev/null | head -1"
  [ -z "$output" ]
  run sh -c "echo | timeout 10 openssl s_client -quiet -connect 127.0.0.1:$P -CAfile '$TD/root.pem' \
    -cert '$TD/mallory/mallory.crt' -key '$TD/mallory/mallory.key' 2>/dev/null | head -1"
  [ -z "$output" ]
  run conn 127.0.0.1 "$P"
  [[ "$output" != *ORIGIN-HELLO* ]]
  for _ in $(seq 1 100); do
    [ "$(fwd_field "$P" .refused_by.client_cert)" -ge 3 ] && break
    sleep 0.05
  done
  [ "$(fwd_field "$P" .refused_by.client_cert)" -ge 3 ]
  wait_log "forward=tcp:$P name=tls1 source=127.0.0.1:[0-9]+ reason=client_cert"
  # Positive control again: exactly one more connection reached the origin in all this.
  run sh -c "echo | timeout 10 openssl s_client -quiet -connect 127.0.0.1:$P -CAfile '$TD/root.pem' \
    -cert '$TD/client/alice.crt' -key '$TD/client/alice.key' 2>/dev/null | head -1"
  [[ "$output" == "ORIGIN-HELLO "* ]]
  [ "$(origin_count)" -eq $((before + 2)) ]
  peerctl_e resource rm tls1
  wait_gone "$P"
}

@test "peerctl status shows refusals per forward" {
  P=$(free_port)
  add_fwd stat1 "$P" --deny 127.0.0.2
  run conn 127.0.0.2 "$P"
  [ -z "$output" ]
  run conn 127.0.0.1 "$P"
  [[ "$output" == "ORIGIN-HELLO "* ]]
  run peerctl_e status
  [ "$status" -eq 0 ]
  [[ "$output" == *"forwards:"* ]]
  line=$(echo "$output" | grep -E "^  stat1 ")
  [[ "$line" == *"tcp:$P"* ]]
  [[ "$line" == *"accepted 1"* ]]
  [[ "$line" == *"refused 1 (denied 1)"* ]]
  [[ "$output" == *"last refused: 127.0.0.2:"*" denied"* ]]
  run peerctl_e status --json
  [ "$(echo "$output" | jq -r '.forwards[] | select(.name == "stat1") | .refused')" -eq 1 ]
  [ "$(echo "$output" | jq -r '.forwards[] | select(.name == "stat1") | .refused_by.denied')" -eq 1 ]
  [ "$(echo "$output" | jq -r '.forwards[] | select(.name == "stat1") | .last_refused.reason')" = denied ]
  peerctl_e resource rm stat1
}
