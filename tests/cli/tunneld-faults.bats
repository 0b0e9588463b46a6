#!/usr/bin/env bats
# tunneld's daemon faults (issue 14): a configuration path that is not a regular file is
# refused without being read; start and reload failures exit and reply with the codes of
# tunneld(8); another process holding the store's write lock blocks neither a lane nor the
# control socket; a store file renamed over the live one is noticed and reopened.
# The edge runs one worker thread, so a blocked worker would stall every lane and the socket.

load tunneld-common

setup_file() {
  make_dirs faults
  chmod 755 "$TD"  # the tests run as nobody need to reach their directory
  write_helpers
  export ECHO=$(free_port) FWD=$(free_port)
  /usr/bin/python3 "$TD/echo.py" "$ECHO" >/dev/null 2>&1 3>&- &
  echo $! > "$TD/pids/echo"
  cat > "$E/tunneld.toml" <<EOF
threads = 1
[edge]
listen = "127.0.0.1:0"
public_endpoint = "127.0.0.1:7443"
keepalive = "500ms"
idle_timeout = "2s"
forward_bind = "127.0.0.1"
store_poll = "100ms"
EOF
  start_edge_pinned
  cp "$E/tunneld.toml" "$TD/edge.toml.good"
  peerctl --dir "$E" site add homelab --edge "$EDGE_ADDR" > "$S/tunneld.toml"
  site_timers "$S/tunneld.toml"
  peerctl --dir "$E" resource add echo --tcp "$FWD" --site homelab --to "127.0.0.1:$ECHO" >/dev/null
  start_site "$S" site
  wait_online homelab
  wait_listen "$FWD"
  wait_listen "$ECHO"
}

teardown_file() {
  kill_all
}

setup() {
  export PATH="$BIN:$PATH"
}

# --- helpers (start_edge, call, site_field, wait_log and more: tunneld-common.bash) -------------

# A reload may wait up to 5 s for a locked store.
edge_reload() { printf '{"op":"reload"}\n' | socat -t 10 - UNIX-CONNECT:"$E/run/tunneld.sock"; }

meta() { sqlite3 "$E/warren.db" "SELECT value FROM meta WHERE key = '$1'"; }

# lock_store SECONDS [DB]: another process holds the write lock (BEGIN EXCLUSIVE) of the edge's
# store (or DB) for that long; returns once the lock is taken.
lock_store() {
  rm -f "$TD/locked"
  /usr/bin/python3 "$TD/lock.py" "${2:-$E/warren.db}" "$1" "$TD/locked" 3>&- &
  echo $! > "$TD/pids/lock"
  for _ in $(seq 1 100); do
    [ -f "$TD/locked" ] && return 0
    sleep 0.05
  done
  return 1
}

# as_nobody CMD...: runs a command without root's right to read every file.
as_nobody() {
  setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all "$@"
}

write_helpers() {
  # echo.py PORT: a TCP server that sends back every line it gets.
  cat > "$TD/echo.py" <<'EOF'
import socketserver, sys
class H(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line)
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
  # lock.py DB SECONDS FLAG: holds BEGIN EXCLUSIVE on DB for SECONDS; touches FLAG once held.
  cat > "$TD/lock.py" <<'EOF'
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
con.execute("BEGIN EXCLUSIVE")
open(sys.argv[3], "w").close()
time.sleep(float(sys.argv[2]))
con.execute("ROLLBACK")
EOF
  # probe.py SOCKET PORT SECONDS: for SECONDS, asks the control socket for status and sends a
  # line through the forward at PORT every 100 ms; prints the slowest status answer and the
  # slowest echo in ms, and how many of either failed.
  cat > "$TD/probe.py" <<'EOF'
import socket, sys, time
path, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
fwd = socket.create_connection(("127.0.0.1", port), timeout=5)
rf = fwd.makefile("rb")
worst_status = worst_echo = 0.0
failed = 0
end = time.monotonic() + secs
i = 0
while time.monotonic() < end:
    t = time.monotonic()
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(path)
        s.sendall(b'{"op":"status"}\n')
        buf = b""
        while not buf.endswith(b"\n"):
            b = s.recv(65536)
            if not b:
                break
            buf += b
        s.close()
        if b'"ok":false' in buf or not buf:
            failed += 1
    except OSError:
        failed += 1
    worst_status = max(worst_status, (time.monotonic() - t) * 1000)
    t = time.monotonic()
    try:
        msg = b"line %d\n" % i
        fwd.sendall(msg)
        if rf.readline() != msg:
            failed += 1
    except OSError:
        failed += 1
    worst_echo = max(worst_echo, (time.monotonic() - t) * 1000)
    i += 1
    time.sleep(0.1)
print(int(worst_status), int(worst_echo), failed)
EOF
}

# --- tests ------------------------------------------------------------------------------------

@test "a configuration that is not a regular file is refused at once with 66, never read" {
  mkfifo "$TD/fifo.toml"
  mkdir -p "$TD/dir.toml"
  for f in "$TD/fifo.toml" "$TD/dir.toml" /dev/null; do
    run timeout 5 tunneld --config "$f"
    [ "$status" -eq 66 ]
    [ "$output" = "tunneld: $f: not a regular file" ]
    run timeout 5 tunneld --config "$f" --check-config
    [ "$status" -eq 78 ]
    [ "$output" = "tunneld: $f: not a regular file" ]
  done
  # A site's private_key_file and the edge's key file: the same, at the key's line.
  mkdir -p "$TD/k"
  mkfifo "$TD/k/site.key"
  sed '/^private_key/d' "$S/tunneld.toml" > "$TD/k/tunneld.toml"
  sed -i '/^\[site\]/a private_key_file = "site.key"' "$TD/k/tunneld.toml"
  run timeout 5 tunneld --dir "$TD/k"
  [ "$status" -eq 66 ]
  [[ "$output" == "tunneld: $TD/k/tunneld.toml:"*": site.private_key_file: $TD/k/site.key: not a regular file" ]]
  mkdir -p "$TD/ek"
  mkfifo "$TD/ek/edge.key"
  printf '[edge]\nlisten = "127.0.0.1:0"\nprivate_key_file = "edge.key"\n' > "$TD/ek/tunneld.toml"
  run timeout 5 tunneld --dir "$TD/ek"
  [ "$status" -eq 66 ]
  [ "$output" = "tunneld: $TD/ek/edge.key: not a regular file" ]
}

@test "a reload of a FIFO or a directory answers 66 at once and keeps the configuration" {
  n=$(grep -c 'event=reload_failed' "$TD/edge.log" || true)
  mv "$E/tunneld.toml" "$TD/edge.toml.aside"
  mkfifo "$E/tunneld.toml"
  run timeout 5 bash -c "printf '{\"op\":\"reload\"}\n' | socat -t 3 - UNIX-CONNECT:$E/run/tunneld.sock"
  [ "$status" -eq 0 ]
  [ "$output" = "{\"ok\":false,\"error\":\"$E/tunneld.toml: not a regular file\",\"code\":66}" ]
  # SIGHUP reads it the same way: logged, and the control socket keeps answering.
  kill -HUP "$(cat "$TD/pids/edge")"
  for _ in $(seq 1 100); do
    [ "$(grep -c 'event=reload_failed.*not a regular file.*code=66' "$TD/edge.log")" -ge $((n + 2)) ] && break
    sleep 0.05
  done
  [ "$(grep -c 'event=reload_failed.*not a regular file.*code=66' "$TD/edge.log")" -ge $((n + 2)) ]
  rm "$E/tunneld.toml"
  mkdir "$E/tunneld.toml"
  run edge_reload
  [[ "$output" == *'not a regular file","code":66}' ]]
  rmdir "$E/tunneld.toml"
  mv "$TD/edge.toml.aside" "$E/tunneld.toml"
  [ "$(edge_status | jq -r .listen)" = "$EDGE_ADDR" ]
  [ "$(site_field homelab online)" = true ]
  run edge_reload
  [ "$output" = '{"ok":true}' ]
}

@test "start and reload failures: missing 66, bad TOML 78, role change 78, as tunneld(8) says" {
  # Start.
  run tunneld --config "$TD/none.toml"
  [ "$status" -eq 66 ]
  [ "$output" = "tunneld: $TD/none.toml: No such file or directory" ]
  printf '[edge]\nlisten = 7\n' > "$TD/bad.toml"
  run tunneld --config "$TD/bad.toml"
  [ "$status" -eq 78 ]
  [[ "$output" == "tunneld: $TD/bad.toml:2:"* ]]
  printf '[edge\n' > "$TD/syntax.toml"
  run tunneld --config "$TD/syntax.toml"
  [ "$status" -eq 78 ]
  [[ "$output" == "tunneld: $TD/syntax.toml:1:"* ]]
  # Reload: the same codes in the reply, and the running configuration stays.
  mv "$E/tunneld.toml" "$TD/edge.toml.aside"
  run edge_reload
  [ "$output" = "{\"ok\":false,\"error\":\"$E/tunneld.toml: No such file or directory\",\"code\":66}" ]
  printf '[edge]\nlisten = 7\n' > "$E/tunneld.toml"
  run edge_reload
  [[ "$output" == "{\"ok\":false,\"error\":\"$E/tunneld.toml:2:"*'"code":78}' ]]
  printf '[edge\n' > "$E/tunneld.toml"
  run edge_reload
  [[ "$output" == *'"code":78}' ]]
  cp "$S/tunneld.toml" "$E/tunneld.toml"
  run edge_reload
  [[ "$output" == *'the role ([edge] or [site]) cannot change on reload'*'"code":78}' ]]
  mv "$TD/edge.toml.aside" "$E/tunneld.toml"
  run edge_reload
  [ "$output" = '{"ok":true}' ]
  [ "$(site_field homelab online)" = true ]
}

@test "unreadable files: start and reload answer 77" {
  command -v setpriv >/dev/null || skip "needs setpriv"
  [ "$(id -u)" -eq 0 ] || skip "needs root to switch to nobody"
  local D=$TD/nobody
  mkdir -p "$D"
  # homelab's configuration, dialling nowhere (port 1) so that it never meets the edge.
  sed -e '/^private_key/d' -e 's/^edge = .*/edge = "127.0.0.1:1"/' "$S/tunneld.toml" > "$D/tunneld.toml"
  sed -i '/^\[site\]/a private_key_file = "site.key"' "$D/tunneld.toml"
  sed -n 's/^private_key = "\(.*\)"$/\1/p' "$S/tunneld.toml" > "$D/site.key"
  chown -R nobody "$D"
  chmod 600 "$D/site.key"
  chmod 000 "$D/site.key"
  run as_nobody tunneld --dir "$D"
  [ "$status" -eq 77 ]
  [[ "$output" == "tunneld: $D/tunneld.toml:"*": site.private_key_file: $D/site.key: Permission denied" ]]
  chmod 000 "$D/tunneld.toml"
  run as_nobody tunneld --dir "$D"
  [ "$status" -eq 77 ]
  [ "$output" = "tunneld: $D/tunneld.toml: Permission denied" ]
  # A running site (as nobody) whose files turn unreadable: reload answers 77 and goes on.
  chmod 600 "$D/site.key" "$D/tunneld.toml"
  (exec setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
    tunneld --dir "$D" >>"$TD/nobody.log" 2>&1 3>&- & echo $! > "$TD/pids/nobody")
  for _ in $(seq 1 100); do
    call "$D/run/tunneld.sock" '{"op":"status"}' 2>/dev/null | grep -q '"ok":true' && break
    sleep 0.05
  done
  chmod 000 "$D/site.key"
  run call "$D/run/tunneld.sock" '{"op":"reload"}'
  [[ "$output" == *"site.private_key_file: $D/site.key: Permission denied\",\"code\":77}" ]]
  chmod 600 "$D/site.key"
  chmod 000 "$D/tunneld.toml"
  run call "$D/run/tunneld.sock" '{"op":"reload"}'
  [ "$output" = "{\"ok\":false,\"error\":\"$D/tunneld.toml: Permission denied\",\"code\":77}" ]
  chmod 600 "$D/tunneld.toml"
  run call "$D/run/tunneld.sock" '{"op":"reload"}'
  [ "$output" = '{"ok":true}' ]
  kill "$(cat "$TD/pids/nobody")"
  wait_gone "$(cat "$TD/pids/nobody")"
}

@test "a locked store blocks no lane and not the control socket; the reload ends with the lock" {
  local before lanes
  before=$(site_field homelab reconnects)
  lanes=$(site_field homelab lanes)
  n=$(grep -c 'event=lane_down' "$TD/edge.log" || true)
  lock_store 3
  # A reload that must write (a new public_endpoint) waits for the lock, off the workers;
  # a SIGHUP meanwhile too. Status and a stream through the forward go on every 100 ms.
  sed -i 's/^public_endpoint = .*/public_endpoint = "127.0.0.1:7444"/' "$E/tunneld.toml"
  /usr/bin/python3 "$TD/probe.py" "$E/run/tunneld.sock" "$FWD" 3.5 > "$TD/probe.out" &
  local probe=$!
  edge_reload > "$TD/reload.out" &
  local reload=$!
  kill -HUP "$(cat "$TD/pids/edge")"
  wait "$probe"
  wait "$reload"
  cat "$TD/probe.out" "$TD/reload.out"
  [ "$(cat "$TD/reload.out")" = '{"ok":true}' ]
  read -r worst_status worst_echo failed < "$TD/probe.out"
  [ "$failed" -eq 0 ]
  [ "$worst_status" -lt 500 ]
  [ "$worst_echo" -lt 500 ]
  [ "$(meta tunnel.edge_endpoint)" = "127.0.0.1:7444" ]
  [ "$(site_field homelab reconnects)" = "$before" ]
  [ "$(site_field homelab lanes)" = "$lanes" ]
  [ "$(grep -c 'event=lane_down' "$TD/edge.log" || true)" = "$n" ]
  cp "$TD/edge.toml.good" "$E/tunneld.toml"
  run edge_reload
  [ "$output" = '{"ok":true}' ]
}

@test "a store locked longer than a reload waits: 75, then read once the lock is gone" {
  lock_store 6.5
  sed -i 's/^public_endpoint = .*/public_endpoint = "127.0.0.1:7445"/' "$E/tunneld.toml"
  run edge_reload
  [[ "$output" == '{"ok":false,"error":"'*'database is locked'*'"code":75}' ]]
  # The status answers at once meanwhile, and the new endpoint is published after the lock.
  run edge_status
  [[ "$output" == *'"ok":true'* ]]
  for _ in $(seq 1 100); do
    [ "$(meta tunnel.edge_endpoint)" = "127.0.0.1:7445" ] && break
    sleep 0.05
  done
  [ "$(meta tunnel.edge_endpoint)" = "127.0.0.1:7445" ]
  [ "$(site_field homelab online)" = true ]
  cp "$TD/edge.toml.good" "$E/tunneld.toml"
  run edge_reload
  [ "$output" = '{"ok":true}' ]
}

@test "start answers 75 while another process holds the store's write lock" {
  local D=$TD/locked-start
  mkdir -p "$D"
  sqlite3 "$E/warren.db" ".backup $D/warren.db"
  printf '[edge]\nlisten = "127.0.0.1:0"\npublic_endpoint = "127.0.0.1:9"\n' > "$D/tunneld.toml"
  lock_store 8 "$D/warren.db"
  run timeout 20 tunneld --dir "$D"
  kill "$(cat "$TD/pids/lock")" 2>/dev/null || true
  [ "$status" -eq 75 ]
  [[ "$output" == "tunneld: $D/warren.db: database is locked"* ]]
}

@test "a store file renamed over the live one is noticed, reopened and served" {
  mkdir -p "$TD/copy" "$TD/branch"
  sqlite3 "$E/warren.db" ".backup $TD/copy/warren.db"
  peerctl --dir "$TD/copy" site add branch --edge "$EDGE_ADDR" > "$TD/branch/tunneld.toml"
  site_timers "$TD/branch/tunneld.toml"
  [ -z "$(site_field branch name)" ]
  mv "$TD/copy/warren.db" "$E/warren.db"
  wait_log "event=store_replaced path=$E/warren.db" "$TD/edge.log"
  wait_log 'event=site_added site=branch' "$TD/edge.log"
  start_site "$TD/branch" branch
  wait_online branch
  [ "$(site_field homelab online)" = true ]
  # The edge goes on with the new file: a change made there now is applied too.
  peerctl --dir "$E" site rm branch >/dev/null
  wait_log 'event=site_removed site=branch' "$TD/edge.log"
  kill "$(cat "$TD/pids/branch")"
  # The -wal and -shm removed under the live file: the next change lands in a log of peerctl's
  # own, and the edge reopens to read through it.
  rm -f "$E/warren.db-wal" "$E/warren.db-shm"
  peerctl --dir "$E" site add tidy --edge "$EDGE_ADDR" >/dev/null
  wait_log "event=site_added site=tidy" "$TD/edge.log"
}
