#!/usr/bin/env bats
# tunneld over an emulated WAN: two network namespaces made for this test, joined by
# scripts/bench/wanem.c (40 ms RTT, 200 Mbit/s, 0.5 % random loss); the edge in one, the site
# in the other. A 24 MB download and a 24 MB upload through a raw forward arrive with the
# right SHA-256, and the dial of a refused target answers with the site's reason across the
# link. Needs root, /dev/net/tun and `ip netns` (skipped otherwise).

load tunneld-common

setup_file() {
  make_dirs wan
  export NA=wtest-$$-a NB=wtest-$$-b
  mkdir -p "$TD/www"
  if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ] || ! command -v cc >/dev/null ||
    ! ip netns add "$NA" 2>/dev/null; then
    touch "$TD/skip"
    return 0
  fi
  ip netns add "$NB"
  cc -O2 -o "$TD/wanem" "$REPO/scripts/bench/wanem.c"
  for ns in $NA $NB; do
    ip -n "$ns" link set lo up
    ip -n "$ns" tuntap add dev wan0 mode tun
  done
  ip -n $NA addr add 10.77.0.1/24 dev wan0
  ip -n $NB addr add 10.77.0.2/24 dev wan0
  ip -n $NA link set wan0 up
  ip -n $NB link set wan0 up
  ("$TD/wanem" -d 20 -r 200 -l 0.5 -s 7 $NA $NB 2>"$TD/wanem.log" 3>&- & echo $! > "$TD/pids/wanem")
  head -c 24000000 /dev/urandom > "$TD/www/blob"
  sha256sum < "$TD/www/blob" | cut -d' ' -f1 > "$TD/blob.sha"
  # At the site: a file server and a sink that prints the SHA-256 of what it got.
  (cd "$TD/www" && exec ip netns exec $NB /usr/bin/python3 -m http.server 8080 --bind 127.0.0.1 \
    >"$TD/http.log" 2>&1 3>&-) &
  echo $! > "$TD/pids/http"
  cat > "$TD/sink.py" <<'EOF'
import hashlib, socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 9000))
srv.listen(4)
while True:
    c, _ = srv.accept()
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(262144)
        if not b:
            break
        h.update(b)
        n += len(b)
    c.sendall(("%s %d\n" % (h.hexdigest(), n)).encode())
    c.close()
EOF
  (ip netns exec $NB /usr/bin/python3 "$TD/sink.py" >"$TD/sink.log" 2>&1 3>&- &
    echo $! > "$TD/pids/sink")
  printf '[edge]\nlisten = "10.77.0.1:7000"\nforward_bind = "127.0.0.1"\nstore_poll = "100ms"\n' \
    > "$E/tunneld.toml"
  (ip netns exec $NA tunneld --dir "$E" -v >>"$TD/edge.log" 2>&1 3>&- & echo $! > "$TD/pids/edge")
  for _ in $(seq 1 100); do
    [ -S "$E/run/tunneld.sock" ] && edge_status >/dev/null 2>&1 && break
    sleep 0.05
  done
  peerctl --dir "$E" site add wan --edge 10.77.0.1:7000 > "$S/tunneld.toml"
  site_timers "$S/tunneld.toml"
  sqlite3 "$E/warren.db" "INSERT INTO forwards (protocol, listen_port, site, target, created_at) VALUES
    ('tcp', 5801, 'wan', '127.0.0.1:8080', 0), ('tcp', 5802, 'wan', '127.0.0.1:9000', 0)"
  (ip netns exec $NB tunneld --dir "$S" -v >>"$TD/site.log" 2>&1 3>&- & echo $! > "$TD/pids/site")
}

teardown_file() {
  for f in "$TD"/pids/*; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  for ns in $NA $NB; do
    if [ -e "/run/netns/$ns" ]; then
      for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
  [ -n "${KEEP_TD:-}" ] || rm -rf "$TD"
}

setup() {
  [ ! -e "$TD/skip" ] || skip "needs root, /dev/net/tun, cc and network namespaces"
  export PATH="$BIN:$PATH"
  wait_online wan true 200
  for _ in $(seq 1 100); do
    ip netns exec $NA ss -Hltn "sport = :5802" | grep -q LISTEN && break
    sleep 0.05
  done
}

@test "a download and an upload over a lossy 40 ms link keep every byte" {
  run ip netns exec $NA curl -sS --max-time 60 -o "$TD/got" "http://127.0.0.1:5801/blob"
  [ "$status" -eq 0 ]
  [ "$(sha256sum < "$TD/got" | cut -d' ' -f1)" = "$(cat "$TD/blob.sha")" ]
  run ip netns exec $NA /usr/bin/python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", 5802), timeout=60)
with open(sys.argv[1], "rb") as f:
    while True:
        b = f.read(262144)
        if not b:
            break
        s.sendall(b)
s.shutdown(socket.SHUT_WR)
print(s.makefile().readline().strip())' "$TD/www/blob"
  [ "$output" = "$(cat "$TD/blob.sha") 24000000" ]
}

@test "a dial across the link answers with the site's reason for a refused target" {
  run call "$E/run/tunneld.sock" '{"op":"dial","site":"wan","target":"127.0.0.1:9"}'
  [ "$output" = '{"ok":false,"error":"connect 127.0.0.1:9: Connection refused","code":69}' ]
}
