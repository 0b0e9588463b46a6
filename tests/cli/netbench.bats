#!/usr/bin/env bats
# netbench end to end: `netbench serve` checked with curl, `netbench http` against it (JSON
# fields, -n, thresholds and exit codes, CSV, Unix sockets, --connect-to, TLS against
# openssl s_server), the open loop exposing a stalling server that the closed loop hides,
# broken servers counted as errors, `netbench tcp`, and `netbench compare` with two servers.
# Everything on 127.0.0.1 with port 0; every run bounded (<= 2 s).

setup() {
  REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
  case ${BUILD:-build} in
  /*) BIN=${BUILD}/bin ;;
  *) BIN=$REPO/${BUILD:-build}/bin ;;
  esac
  export PATH="$BIN:$PATH"
  T=$(mktemp -d "${TMPDIR:-/tmp}/warren-netbench-test.XXXXXX")
  PIDS=""
}

teardown() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}

# start NAME CMD... — runs CMD in the background (it prints its address first), sets ADDR.
start() {
  local name=$1
  shift
  "$@" >"$T/$name.out" 2>"$T/$name.err" &
  PIDS="$PIDS $!"
  local i
  for i in $(seq 1 100); do
    [ -s "$T/$name.out" ] && break
    sleep 0.05
  done
  ADDR=$(head -1 "$T/$name.out")
  [ -n "$ADDR" ]
}

# jget FILE EXPR — evaluates a Python expression over the JSON document d.
jget() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# free_port — a port nothing listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

@test "help prints the usage lines; bad options are usage errors" {
  run netbench http --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"netbench http [OPTIONS] URL..."* ]]
  run netbench tcp --help
  [[ "$output" == *"netbench tcp --server [OPTIONS]"* ]]
  run netbench http --no-such-option http://127.0.0.1:1/
  [ "$status" -eq 64 ]
  run netbench http -d 1s example.com
  [ "$status" -eq 64 ]
  [[ "$output" == "netbench: bad URL \"example.com\": expected http:// or https://"* ]]
  run netbench http -d 1s --threshold 'p99<5' http://127.0.0.1:1/
  [ "$status" -eq 64 ]
  [[ "$output" == *"bad threshold \"p99<5\": latency needs a unit"* ]]
  run netbench http -c 1 -t 2 http://127.0.0.1:1/
  [ "$status" -eq 64 ]
  run netbench http --body "$T/missing" http://127.0.0.1:1/
  [ "$status" -eq 66 ]
  [[ "$output" == "netbench: --body: "* ]]
}

@test "serve answers curl: fixed reply, sizes, echo, chunked, status, HEAD, bad requests" {
  start s1 netbench serve --listen 127.0.0.1:0 -d 20s
  [[ "$ADDR" == 127.0.0.1:* ]]
  run curl -sS "http://$ADDR/"
  [ "$output" = "hello" ]
  start s2 netbench serve --listen 127.0.0.1:0 -d 20s --size 100000 --status 201
  run curl -sS -o "$T/body" -w '%{http_code} %{size_download}' "http://$ADDR/x"
  [ "$output" = "201 100000" ]
  run curl -sSI "http://$ADDR/"
  [[ "$output" == *"Content-Length: 100000"* ]]
  start s3 netbench serve --listen 127.0.0.1:0 -d 20s --echo
  head -c 50000 /dev/urandom >"$T/in"
  curl -sS --data-binary @"$T/in" -o "$T/out" "http://$ADDR/echo"
  cmp "$T/in" "$T/out"
  start s4 netbench serve --listen 127.0.0.1:0 -d 20s --chunked --chunk-size 7 --reply 'chunked body here'
  run curl -sS -D "$T/h" "http://$ADDR/"
  [ "$output" = "chunked body here" ]
  grep -qi '^Transfer-Encoding: chunked' "$T/h"
  # Two requests on one connection (keep-alive), then garbage gets a 400 and a close.
  run python3 - "$ADDR" <<'PY'
import socket, sys
h, p = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((h, int(p)), timeout=2)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nnot http\r\n\r\n")
data = b""
while True:
    b = s.recv(65536)
    if not b: break
    data += b
print(data.count(b"HTTP/1.1 200 OK"), data.count(b"HTTP/1.1 400 Bad Request"))
PY
  [ "$output" = "2 1" ]
}

@test "http against serve: JSON summary, exact -n, status counts, CSV timeline" {
  start s netbench serve --listen 127.0.0.1:0 -d 20s
  run netbench http -c 4 -n 500 --json "http://$ADDR/"
  [ "$status" -eq 0 ]
  echo "$output" >"$T/r.json"
  [ "$(jget "$T/r.json" 'd["requests"]')" -eq 500 ]
  [ "$(jget "$T/r.json" 'd["status"]["200"]')" -eq 500 ]
  [ "$(jget "$T/r.json" 'd["errors"]["total"]')" -eq 0 ]
  [ "$(jget "$T/r.json" 'd["mode"]')" = closed ]
  [ "$(jget "$T/r.json" 'd["latency_ms"]["count"]')" -eq 500 ]
  [ "$(jget "$T/r.json" '0 < d["latency_ms"]["p50"] <= d["latency_ms"]["p99"] <= d["latency_ms"]["p99_99"] <= d["latency_ms"]["max"]')" = True ]
  [ "$(jget "$T/r.json" 'sum(b["count"] for b in d["histogram"])')" -eq 500 ]
  [ "$(jget "$T/r.json" 'd["bytes_read"] > 500 * 6')" = True ]
  run netbench http -c 2 -d 1.2s --csv "$T/t.csv" "http://$ADDR/"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Latency histogram"* ]]
  [ "$(head -1 "$T/t.csv")" = "second,requests,errors,bytes,rps,p50_ms,p90_ms,p99_ms,max_ms" ]
  [ "$(wc -l <"$T/t.csv")" -eq 3 ]
  [ "$(awk -F, 'NR==2 {print ($2 > 0)}' "$T/t.csv")" = 1 ]
}

@test "thresholds drive the exit code" {
  start s netbench serve --listen 127.0.0.1:0 -d 20s
  run netbench http -c 2 -d 0.5s --threshold 'p99<10s' --threshold 'errors<0.1%' --threshold 'rps>10' "http://$ADDR/"
  [ "$status" -eq 0 ]
  [[ "$output" == *"ok      p99<10s"* ]]
  run netbench http -c 2 -d 0.5s --threshold 'rps>100000000' --threshold 'p99<10s' "http://$ADDR/"
  [ "$status" -eq 1 ]
  [[ "$output" == *"netbench: threshold breached: rps>100000000 (rps = "* ]]
  [[ "$output" != *"breached: p99<10s"* ]]
  run netbench http -c 2 -d 0.5s --json --threshold 'p50<1ns' "http://$ADDR/"
  [ "$status" -eq 1 ]
  echo "$output" | head -1 >"$T/r.json"
  [ "$(jget "$T/r.json" 'd["ok"]')" = False ]
  [ "$(jget "$T/r.json" 'd["thresholds"][0]["expr"]')" = "p50<1ns" ]
}

@test "open loop reports a server stall that the closed loop hides (coordinated omission)" {
  start s netbench serve --listen 127.0.0.1:0 -d 20s --stall 100ms --stall-every 1s
  run netbench http -c 50 --rate 1000 -d 2s --json "http://$ADDR/"
  [ "$status" -eq 0 ]
  echo "$output" >"$T/open.json"
  [ "$(jget "$T/open.json" 'd["mode"]')" = open ]
  [ "$(jget "$T/open.json" 'abs(d["rps"] - 1000) < 100')" = True ]
  # About 10 % of the scheduled requests meet the 100 ms pause: p99 must show most of it.
  [ "$(jget "$T/open.json" 'd["latency_ms"]["p99"] > 60')" = True ]
  [ "$(jget "$T/open.json" 'd["latency_ms"]["max"] < 200')" = True ]
  [ "$(jget "$T/open.json" '0 < d["schedule"]["behind"] < d["schedule"]["scheduled"]')" = True ]
  [ "$(jget "$T/open.json" 'abs(d["schedule"]["scheduled"] - 2000) <= 2')" = True ]
  run netbench http -c 1 -d 2s --json "http://$ADDR/"
  echo "$output" >"$T/closed.json"
  # One connection: only a couple of requests per second wait out the pause.
  [ "$(jget "$T/closed.json" 'd["latency_ms"]["p99"] < 40')" = True ]
  [ "$(jget "$T/closed.json" 'd["latency_ms"]["max"] > 60')" = True ]
}

@test "per-request delay shows up in the percentiles" {
  start s netbench serve --listen 127.0.0.1:0 -d 20s --delay 20ms
  run netbench http -c 10 -d 1s --json "http://$ADDR/"
  echo "$output" >"$T/r.json"
  [ "$(jget "$T/r.json" '20 <= d["latency_ms"]["p50"] < 60')" = True ]
  [ "$(jget "$T/r.json" '20 <= d["latency_ms"]["min"]')" = True ]
  [ "$(jget "$T/r.json" '150 < d["rps"] <= 505')" = True ]
}

@test "unreachable targets and broken servers are errors by kind, never a hang" {
  port=$(free_port)
  run netbench http -c 2 -d 0.5s --json "http://127.0.0.1:$port/"
  [ "$status" -eq 69 ]
  echo "$output" | head -1 >"$T/r.json"
  [ "$(jget "$T/r.json" 'd["errors"]["connect"] > 0')" = True ]
  [[ "$output" == *"netbench: no responses: connect 127.0.0.1:$port: Connection refused"* ]]
  # A server that answers garbage, one that closes at once, one that never answers.
  cat >"$T/bad.py" <<'PY'
import socket, sys, threading, time
mode = sys.argv[1]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(64)
print("127.0.0.1:%d" % s.getsockname()[1], flush=True)
def handle(c):
    try:
        c.recv(4096)
        if mode == "garbage": c.sendall(b"SPDY/9 what\r\n\r\n")
        if mode == "silent": time.sleep(30)
    except OSError: pass
    c.close()
end = time.time() + 20
while time.time() < end:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
PY
  start g python3 "$T/bad.py" garbage
  run netbench http -c 2 -d 0.5s --json "http://$ADDR/"
  [ "$status" -eq 69 ]
  echo "$output" | head -1 >"$T/g.json"
  [ "$(jget "$T/g.json" 'd["errors"]["bad_response"] > 0')" = True ]
  start c python3 "$T/bad.py" close
  run netbench http -c 2 -d 0.5s --json "http://$ADDR/"
  echo "$output" | head -1 >"$T/c.json"
  [ "$(jget "$T/c.json" 'd["errors"]["closed"] + d["errors"]["reset"] > 0')" = True ]
  start q python3 "$T/bad.py" silent
  SECONDS=0
  run netbench http -c 2 -d 1s --timeout 300ms --json "http://$ADDR/"
  [ "$SECONDS" -le 3 ]
  echo "$output" | head -1 >"$T/q.json"
  [ "$(jget "$T/q.json" 'd["errors"]["timeout"] >= 2')" = True ]
}

@test "Unix sockets, --connect-to, method, headers and body" {
  start u netbench serve --listen "unix:$T/s.sock" -d 20s --echo
  [ "$ADDR" = "unix:$T/s.sock" ]
  printf 'payload-123' >"$T/body"
  run netbench http -n 50 -c 2 -m POST -H 'X-Test: 1' --body "$T/body" --unix-socket "$T/s.sock" --json http://localhost/
  [ "$status" -eq 0 ]
  echo "$output" >"$T/r.json"
  [ "$(jget "$T/r.json" 'd["requests"]')" -eq 50 ]
  # Each echo reply carries the 11-byte body back.
  [ "$(jget "$T/r.json" 'd["bytes_read"] > 50 * 11')" = True ]
  start t netbench serve --listen 127.0.0.1:0 -d 20s
  run netbench http -n 20 -c 1 --connect-to "$ADDR" --json http://no-such-host.invalid:9/
  [ "$status" -eq 0 ]
  echo "$output" >"$T/c.json"
  [ "$(jget "$T/c.json" 'd["requests"]')" -eq 20 ]
  run netbench http -n 20 -c 2 --no-keepalive --json "http://$ADDR/"
  echo "$output" >"$T/k.json"
  [ "$(jget "$T/k.json" 'd["connects"]')" -eq 20 ]
}

@test "TLS: verify with --cacert and --sni, --insecure, failures counted as tls" {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=bench.test -addext subjectAltName=DNS:bench.test \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
  port=$(free_port)
  openssl s_server -quiet -accept "127.0.0.1:$port" -cert "$T/cert.pem" -key "$T/key.pem" -www \
    >/dev/null 2>&1 &
  PIDS="$PIDS $!"
  for i in $(seq 1 100); do
    (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05
  done
  run netbench http -c 1 -n 5 --cacert "$T/cert.pem" --sni bench.test --json "https://127.0.0.1:$port/"
  [ "$status" -eq 0 ]
  echo "$output" >"$T/ok.json"
  [ "$(jget "$T/ok.json" 'd["status"]["200"]')" -eq 5 ]
  run netbench http -c 1 -n 5 -k --json "https://127.0.0.1:$port/"
  [ "$status" -eq 0 ]
  echo "$output" >"$T/full.json"
  [ "$(jget "$T/full.json" 'd["tls"]["handshakes"] == 5 and d["tls"]["resumed"] == 0')" = True ]
  # s_server -www closes after each reply: every request is a handshake, resumed after the first.
  run netbench http -c 1 -n 20 -k --tls-resume --json "https://127.0.0.1:$port/"
  [ "$status" -eq 0 ]
  echo "$output" >"$T/resumed.json"
  [ "$(jget "$T/resumed.json" 'd["tls"]["handshakes"] == 20 and d["tls"]["resumed"] == 19')" = True ]
  run netbench http -c 1 -d 0.3s --json "https://127.0.0.1:$port/"
  [ "$status" -eq 69 ]
  echo "$output" | head -1 >"$T/bad.json"
  [ "$(jget "$T/bad.json" 'd["errors"]["tls"] > 0')" = True ]
  [[ "$output" == *"certificate"* ]]
  run netbench http -c 1 -n 1 --cert "$T/cert.pem" --key "$T/missing.pem" "https://127.0.0.1:$port/"
  [ "$status" -eq 66 ]
}

@test "tcp: bulk throughput, parallel and reverse, JSON" {
  start ts netbench tcp --server --listen 127.0.0.1:0 -d 20s
  run netbench tcp -d 1s --json "$ADDR"
  [ "$status" -eq 0 ]
  echo "$output" >"$T/t.json"
  [ "$(jget "$T/t.json" 'd["gbit_per_s"] > 0.1')" = True ]
  [ "$(jget "$T/t.json" 'd["bytes_received"] == d["bytes_sent"]')" = True ]
  [ "$(jget "$T/t.json" 'len(d["intervals"])')" -eq 1 ]
  run netbench tcp -d 1s -P 2 -R "$ADDR"
  [ "$status" -eq 0 ]
  [[ "$output" == *"2 streams"* ]]
  [[ "$output" == *"receiver"*"Gbit/s"* ]]
  [[ "$output" == *"stream 2"* ]]
  port=$(free_port)
  run netbench tcp -d 1s "127.0.0.1:$port"
  [ "$status" -eq 69 ]
  [[ "$output" == *"netbench: connect 127.0.0.1:$port: Connection refused"* ]]
}

@test "compare: two served targets, interleaved rounds, JSON, servers stopped" {
  marker="nb-compare-$$-$RANDOM"
  cat >"$T/s.toml" <<EOF
rounds = 2
baseline = "plain"
[load]
duration = "0.4s"
connections = 4
[[target]]
name = "plain"
url = "http://{addr}/"
start = "exec netbench serve --listen 127.0.0.1:0 --reply $marker -d 30s"
[[target]]
name = "delayed"
url = "http://{addr}/"
start = "exec netbench serve --listen 127.0.0.1:0 --reply $marker --delay 2ms -d 30s"
EOF
  run netbench compare --json "$T/s.toml"
  [ "$status" -eq 0 ]
  echo "$output" | grep '^{' >"$T/c.json"
  [ "$(jget "$T/c.json" '[t["name"] for t in d["targets"]]')" = "['plain', 'delayed']" ]
  [ "$(jget "$T/c.json" '[len(t["runs"]) for t in d["targets"]]')" = "[2, 2]" ]
  [ "$(jget "$T/c.json" 'd["targets"][0]["ratio"]["rps"] == 1')" = True ]
  [ "$(jget "$T/c.json" 'd["targets"][1]["ratio"]["p50_ms"] > 1.2')" = True ]
  [ "$(jget "$T/c.json" 'd["targets"][1]["median"]["p50_ms"] >= 2')" = True ]
  [[ "$output" == *"round 2/2  delayed"* ]]
  ! pgrep -f "$marker"
  run netbench compare --rounds 1 "$T/s.toml"
  [ "$status" -eq 0 ]
  [[ "$output" == *"target"*"req/s"*"plain"*"delayed"* ]]
  printf 'rounds = 2\n[load]\nconections = 4\n[[target]]\nname = "a"\nurl = "http://127.0.0.1:1/"\n' >"$T/bad.toml"
  run netbench compare "$T/bad.toml"
  [ "$status" -eq 78 ]
  [[ "$output" == "netbench: $T/bad.toml:3:1: "*"conections"* ]]
  run netbench compare "$T/none.toml"
  [ "$status" -eq 66 ]
}
