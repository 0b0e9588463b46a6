#!/usr/bin/env bats
# Aborts arrive as aborts, and dials tell the truth: a real edge and site tunneld on 127.0.0.1,
# origins at the site that stream, reset or sink, clients on the edge's raw forwards. A site
# killed mid-download, a target that resets, an edge killed mid-upload: the other end sees a
# reset (ECONNRESET), never a clean end of file; each with a positive control that completes.
# A dial of a refused target through edged answers 502 with the site's reason at once, and
# nothing pretends to be connected.

load tunneld-common

setup_file() {
  make_dirs abort
  write_helpers
  export STREAM=$(free_port) RESET=$(free_port) SINK=$(free_port) HTTP=$(free_port)
  mkdir -p "$TD/www"
  echo "hello through the site" > "$TD/www/index.html"
  (cd "$TD/www" && exec /usr/bin/python3 -m http.server "$HTTP" --bind 127.0.0.1 \
    >"$TD/http.log" 2>&1 3>&-) &
  echo $! > "$TD/pids/http"
  for role in "stream $STREAM" "reset $RESET" "sink $SINK"; do
    set -- $role
    /usr/bin/python3 "$TD/origin.py" "$1" "$2" "$TD/sink.log" >>"$TD/origin.log" 2>&1 3>&- &
    echo $! > "$TD/pids/origin-$1"
  done
  cat > "$E/tunneld.toml" <<EOF
drain_timeout = "1s"
[edge]
listen = "127.0.0.1:0"
keepalive = "500ms"
idle_timeout = "2s"
forward_bind = "127.0.0.1"
store_poll = "100ms"
EOF
  start_edge_pinned
  peerctl --dir "$E" site add homelab --edge "$EDGE_ADDR" > "$S/tunneld.toml"
  site_timers "$S/tunneld.toml"
  export F_STREAM=$(free_port) F_RESET=$(free_port) F_SINK=$(free_port)
  sqlite3 "$E/warren.db" "INSERT INTO forwards (protocol, listen_port, site, target, created_at) VALUES
    ('tcp', $F_STREAM, 'homelab', '127.0.0.1:$STREAM', 0),
    ('tcp', $F_RESET, 'homelab', '127.0.0.1:$RESET', 0),
    ('tcp', $F_SINK, 'homelab', '127.0.0.1:$SINK', 0)"
  start_site "$S" site
  wait_online homelab
  wait_listen "$F_STREAM"
  wait_listen "$F_SINK"
  wait_listen "$STREAM"
  wait_listen "$RESET"
  wait_listen "$SINK"
  wait_listen "$HTTP"
}

teardown_file() {
  kill_all
}

setup() {
  export PATH="$BIN:$PATH"
}

write_helpers() {
  # origin.py ROLE PORT LOG: stream: sends N bytes (the first line of the request) of a
  # pattern, 64 KiB at a time, then closes cleanly; reset: sends N bytes and then resets (SO_LINGER
  # 0); sink: reads until EOF or an error and appends "eof BYTES" or "reset BYTES" to LOG.
  cat > "$TD/origin.py" <<'EOF'
import socket, struct, sys, threading
role, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(64)
def pattern(n):
    block = bytes(range(256)) * 256
    while n > 0:
        k = min(n, len(block))
        yield block[:k]
        n -= k
def serve(c):
    try:
        if role == "sink":
            total, how = 0, "eof"
            while True:
                try:
                    b = c.recv(65536)
                except ConnectionResetError:
                    how = "reset"
                    break
                if not b:
                    break
                total += len(b)
            with open(log, "a") as f:
                f.write("%s %d\n" % (how, total))
            return
        line = b""
        while not line.endswith(b"\n"):
            b = c.recv(1)
            if not b:
                return
            line += b
        n = int(line)
        for chunk in pattern(n):
            c.sendall(chunk)
        if role == "reset":
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    finally:
        c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
  # xfer.py fetch|push PORT BYTES [--after N CMD]: fetch asks the stream origin for BYTES
  # through PORT and reads to the end, printing "eof TOTAL" or "reset TOTAL"; push sends BYTES to
  # the sink, half-closes and waits for its close, printing "sent TOTAL" or "error TOTAL". With
  # --after, CMD runs once N bytes have gone by.
  cat > "$TD/xfer.py" <<'EOF'
import socket, subprocess, sys
mode, port, want = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
after = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--after" else None
cmd = sys.argv[6] if after is not None else None
def progress(total):
    global after
    if after is not None and total >= after:
        subprocess.run(cmd, shell=True, check=True)
        after = None
s = socket.create_connection(("127.0.0.1", port), timeout=20)
s.settimeout(20)
total = 0
if mode == "fetch":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # so most of it is still in flight
    s.sendall(b"%d\n" % want)
    how = "eof"
    while True:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            how = "reset"
            break
        except socket.timeout:
            how = "timeout"
            break
        if not b:
            break
        total += len(b)
        progress(total)
    print(how, total)
else:
    block = b"u" * 65536
    try:
        while total < want:
            s.sendall(block)
            total += len(block)
            progress(total)
        s.shutdown(socket.SHUT_WR)
        s.recv(1)
        print("sent", total)
    except OSError:
        print("error", total)
EOF
}

sink_wait() { # LINES: until the sink has logged that many lines; prints the last
  for _ in $(seq 1 100); do
    [ "$(wc -l < "$TD/sink.log" 2>/dev/null || echo 0)" -ge "$1" ] && break
    sleep 0.05
  done
  tail -1 "$TD/sink.log"
}

@test "a whole download ends with EOF and every byte (the positive control)" {
  run /usr/bin/python3 "$TD/xfer.py" fetch "$F_STREAM" 20000000
  [ "$output" = "eof 20000000" ]
}

@test "a target that resets mid-download: the client sees a reset, not EOF" {
  # The control: the same origin closing cleanly.
  run /usr/bin/python3 "$TD/xfer.py" fetch "$F_STREAM" 3000000
  [ "$output" = "eof 3000000" ]
  run /usr/bin/python3 "$TD/xfer.py" fetch "$F_RESET" 3000000
  [[ "$output" == "reset "* ]]
}

@test "a whole upload ends with EOF at the sink (the positive control)" {
  n=$(wc -l < "$TD/sink.log" 2>/dev/null || echo 0)
  run /usr/bin/python3 "$TD/xfer.py" push "$F_SINK" 8388608
  [ "$output" = "sent 8388608" ]
  [ "$(sink_wait $((n + 1)))" = "eof 8388608" ]
}

@test "the site killed mid-download: the client sees a reset, not EOF; back after a restart" {
  run /usr/bin/python3 "$TD/xfer.py" fetch "$F_STREAM" 2000000000 --after 1000000 \
    "kill -9 $(cat "$TD/pids/site")"
  [[ "$output" == "reset "* ]]
  total=${output#reset }
  [ "$total" -lt 2000000000 ]
  wait_online homelab false
  start_site "$S" site
  wait_online homelab
  run /usr/bin/python3 "$TD/xfer.py" fetch "$F_STREAM" 1000000
  [ "$output" = "eof 1000000" ]
}

@test "the edge killed mid-upload: the target sees a reset, not EOF; back after a restart" {
  n=$(wc -l < "$TD/sink.log" 2>/dev/null || echo 0)
  run /usr/bin/python3 "$TD/xfer.py" push "$F_SINK" 2000000000 --after 1048576 \
    "kill -9 $(cat "$TD/pids/edge")"
  [[ "$output" == "error "* ]]
  [[ "$(sink_wait $((n + 1)))" == "reset "* ]]
  start_edge
  wait_online homelab
  wait_listen "$F_SINK"
  n=$(wc -l < "$TD/sink.log")
  run /usr/bin/python3 "$TD/xfer.py" push "$F_SINK" 1048576
  [ "$output" = "sent 1048576" ]
  [ "$(sink_wait $((n + 1)))" = "eof 1048576" ]
}

@test "edged: a refused target through the site is a 502 with the site's reason, at once" {
  CLOSED=$(free_port)
  cat > "$TD/bp.toml" <<EOF
version = 1
[resources.dead]
host = "dead.test"
targets = ["site://homelab/127.0.0.1:$CLOSED"]
[resources.live]
host = "live.test"
targets = ["site://homelab/127.0.0.1:$HTTP"]
EOF
  WARREN_DIR=$E peerctl apply --no-prune "$TD/bp.toml" >/dev/null
  printf 'threads = 1\n[http]\nlisten = ["127.0.0.1:0"]\n[reload]\nstore_poll = "100ms"\n' > "$E/edged.toml"
  (edged --dir "$E" -c "$E/edged.toml" >"$TD/edged.out" 2>"$TD/edged.err" 3>&- &
    echo $! > "$TD/pids/edged")
  for _ in $(seq 1 100); do grep -q '^http ' "$TD/edged.out" && break; sleep 0.05; done
  port=$(sed -n 's/^http 127.0.0.1://p' "$TD/edged.out")
  [ -n "$port" ]
  start=$(date +%s%N)
  run curl -sS --max-time 5 -H "Host: dead.test" -o "$TD/body" -w '%{http_code}' "http://127.0.0.1:$port/"
  end=$(date +%s%N)
  [ "$output" = 502 ]
  grep -q "Connection refused" "$TD/body"
  [ $(( (end - start) / 1000000 )) -lt 2000 ]
  # edged logs the failure as it answers: the line may land just after the client has the 502.
  wait_log "connect 127.0.0.1:$CLOSED: Connection refused" "$TD/edged.err" 40
  # The control: a live target behind the same site answers.
  run curl -sS --max-time 5 -H "Host: live.test" "http://127.0.0.1:$port/index.html"
  [ "$output" = "hello through the site" ]
}
