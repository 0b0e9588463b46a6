#!/usr/bin/env bats
# edged end to end, plain HTTP: command line and --check-config, routing, proxying with curl and
# netbench serve as the origin (keep-alive both sides, chunked and streamed bodies with
# checksums, Expect: 100-continue, X-Forwarded-*, hop-by-hop removal, Host rewrite), the
# request-smuggling and limit cases as raw bytes, slowloris, 502/503/504, Upgrade tunnelling,
# the access log. Everything on 127.0.0.1 with port 0; every wait bounded.

load edged-common

# config [extra top-level TOML] — a minimal edged.toml with one plain listener.
config() {
  cat >"$T/edged.toml" <<EOF
threads = 2
routes_file = "routes.toml"
access_log = "access.log"
$1
[http]
listen = ["127.0.0.1:0"]
[timeouts]
client_header = "1s"
upstream_connect = "1s"
upstream_response = "1s"
${2:-}
EOF
}

@test "help prints the synopsis; bad options are usage errors" {
  run edged --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"edged [--config FILE] [--threads N] [--dir DIR] [-q] [-v]"* ]]
  [[ "$output" == *"edged --check-config [--config FILE] [--dir DIR]"* ]]
  run edged --no-such-flag
  [ "$status" -eq 64 ]
  run edged --threads 0
  [ "$status" -eq 64 ]
}

@test "--check-config: silent 0 when valid, 78 with file:line:column otherwise" {
  config
  echo '[[route]]
name = "a"
host = "*"
targets = ["127.0.0.1:9"]' >"$T/routes.toml"
  run edged --check-config -c "$T/edged.toml"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  echo 'colour = "blue"' >>"$T/edged.toml"
  run edged --check-config -c "$T/edged.toml"
  [ "$status" -eq 78 ]
  [[ "$output" == "edged: $T/edged.toml:"*":"*": "*colour* ]]
  config
  printf '[[route]]\nname = "a"\nhost = "*"\ntargets = ["nope"]\n' >"$T/routes.toml"
  run edged --check-config -c "$T/edged.toml"
  [ "$status" -eq 78 ]
  [[ "$output" == "edged: $T/routes.toml:4:"* ]]
  run edged --check-config -c "$T/missing.toml"
  [ "$status" -eq 78 ]
  [[ "$output" == "edged: "*"missing.toml"* ]]
  printf '[http]\nlisten = ["127.0.0.1:0"]\n[https]\nlisten = ["127.0.0.1:0"]\ncert = "no.crt"\nkey = "no.key"\n' >"$T/bad.toml"
  run edged --check-config -c "$T/bad.toml"
  [ "$status" -eq 78 ]
  [[ "$output" == *"no.crt"* ]]
  # The same errors stop a start.
  run edged -c "$T/bad.toml"
  [ "$status" -eq 78 ]
}

@test "proxies to netbench serve with keep-alive on both sides" {
  origin o1 --reply hi-from-origin
  O=$ADDR
  config '' '[upstream]
pool_size = 8'
  printf '[[route]]\nname = "app"\nhost = "*"\ntargets = ["%s"]\n' "$O" >"$T/routes.toml"
  edged_start
  [[ "$HTTP" == 127.0.0.1:* ]]
  run curl -sS "http://$HTTP/"
  [ "$output" = "hi-from-origin" ]
  # One client connection for three requests.
  run curl -sS -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects} ' "http://$HTTP/a" "http://$HTTP/b" "http://$HTTP/c"
  [ "$output" = "1 0 0 " ]
  # Upstream connections are pooled: many requests, few upstream connects.
  for i in $(seq 1 20); do curl -sS -o /dev/null "http://$HTTP/$i"; done
  r=$(ctl '{"op":"metrics"}')
  text=$(jget "$r" 'd["text"]')
  connects=$(echo "$text" | sed -n 's/^edged_upstream_connects_total //p')
  reused=$(echo "$text" | sed -n 's/^edged_upstream_reused_total //p')
  [ "$connects" -le 4 ]
  [ "$reused" -ge 18 ]
  # A connection idle for a while (parked: its buffer returned) serves the next request.
  run python3 "$T/h.py" keepalive "$HTTP" 1.6
  [ "${lines[0]}" = "HTTP/1.1 200 OK hi-from-origin" ]
  [ "${lines[1]}" = "HTTP/1.1 200 OK hi-from-origin" ]
  # HTTP/1.0 client: body, then the connection closes.
  run curl -sS -0 -i "http://$HTTP/"
  [[ "$output" == *"Connection: close"* ]]
  [[ "$output" == *"hi-from-origin"* ]]
}

@test "routing: exact host, wildcard, longest path prefix, 404 for unknown hosts" {
  origin a --reply A
  A=$ADDR
  origin b --reply B
  B=$ADDR
  origin c --reply C
  C=$ADDR
  config
  cat >"$T/routes.toml" <<EOF
[[route]]
name = "app"
host = "app.example.test"
targets = ["$A"]
[[route]]
name = "api"
host = "app.example.test"
path = "/api"
targets = ["$B"]
[[route]]
name = "wild"
host = "*.example.test"
targets = ["$C"]
EOF
  edged_start
  [ "$(curl -sS -H 'Host: app.example.test' "http://$HTTP/")" = "A" ]
  [ "$(curl -sS -H 'Host: APP.example.test:8080' "http://$HTTP/api/v1")" = "B" ]
  [ "$(curl -sS -H 'Host: app.example.test' "http://$HTTP/api?q=1")" = "B" ]
  [ "$(curl -sS -H 'Host: app.example.test' "http://$HTTP/apix")" = "A" ]
  [ "$(curl -sS -H 'Host: other.example.test' "http://$HTTP/api")" = "C" ]
  run curl -sS -w '%{http_code}' -H 'Host: nowhere.test' "http://$HTTP/"
  [[ "$output" == *"no route for host"*"nowhere.test"*"404" ]]
  r=$(ctl '{"op":"routes"}')
  [ "$(jget "$r" 'len(d["routes"])')" = "3" ]
  [ "$(jget "$r" '[x["name"] for x in d["routes"] if x["path"]=="/api"][0]')" = "api" ]
}

@test "a routes file in the resource form of blueprints (peerctl export) routes the same" {
  origin a --reply A
  A=$ADDR
  origin b --reply B
  B=$ADDR
  config
  # What peerctl export prints is a routes file: one syntax for a resource everywhere.
  peerctl --dir "$T/w" resource add app --host app.example.test --target "$A" >/dev/null
  peerctl --dir "$T/w" resource add api --host app.example.test --path /api --target "$B" \
    --lb least_conn >/dev/null
  peerctl --dir "$T/w" export >"$T/routes.toml"
  grep -q '^\[resources.api\]$' "$T/routes.toml"
  edged --dir "$T" -c "$T/edged.toml" --check-config
  edged_start
  [ "$(curl -sS -H 'Host: app.example.test' "http://$HTTP/")" = "A" ]
  [ "$(curl -sS -H 'Host: app.example.test' "http://$HTTP/api/v1")" = "B" ]
  r=$(ctl '{"op":"routes"}')
  [ "$(jget "$r" '[x["source"] for x in d["routes"]]')" = "['file', 'file']" ]
  # Access settings live in the store: a file resource with them is refused, naming it.
  printf '[resources.x]\nhost = "x.test"\n[resources.x.auth]\nmethods = ["users"]\n' >"$T/routes.toml"
  run edged --dir "$T" -c "$T/edged.toml" --check-config
  [ "$status" -eq 78 ]
  [[ "$output" == *"resources.x: access settings, rules and grants live in the store"* ]]
}

@test "request headers: X-Forwarded-*, X-Real-IP, hop-by-hop removed, Host kept or rewritten" {
  start echo python3 "$T/h.py" echo-origin e1 "$T/origin.log"
  E=$ADDR
  config
  cat >"$T/routes.toml" <<EOF
[[route]]
name = "keep"
host = "keep.test"
targets = ["$E"]
[[route]]
name = "rewrite"
host = "rewrite.test"
targets = ["$E"]
host_header = "@target"
EOF
  edged_start
  run curl -sS -H 'Host: keep.test' -H 'X-Forwarded-For: 6.6.6.6' -H 'X-Real-IP: 6.6.6.6' \
    -H 'Connection: keep-alive, X-Secret' -H 'X-Secret: s' -H 'Keep-Alive: timeout=5' \
    -H 'Proxy-Authorization: Basic eA==' -H 'X-Forwarded-Proto: gopher' "http://$HTTP/p?q=1"
  [[ "$output" == "GET /p?q=1 HTTP/1.1"* ]]
  [[ "$output" == *"Host: keep.test"* ]]
  [[ "$output" == *"X-Forwarded-For: 127.0.0.1"* ]]
  [[ "$output" == *"X-Real-IP: 127.0.0.1"* ]]
  [[ "$output" == *"X-Forwarded-Proto: http"* ]]
  [[ "$output" == *"X-Forwarded-Host: keep.test"* ]]
  [[ "$output" != *"6.6.6.6"* ]]
  [[ "$output" != *"X-Secret"* ]]
  [[ "$output" != *"Keep-Alive"* ]]
  [[ "$output" != *"Proxy-Authorization"* ]]
  [[ "$output" != *"gopher"* ]]
  run curl -sS -H 'Host: rewrite.test' "http://$HTTP/"
  [[ "$output" == *"Host: $E"* ]]
  [[ "$output" == *"X-Forwarded-Host: rewrite.test"* ]]
}

@test "trusted proxies extend X-Forwarded-For and name the real client" {
  start echo python3 "$T/h.py" echo-origin e1 "$T/origin.log"
  E=$ADDR
  config 'trusted_proxies = ["127.0.0.0/8", "10.0.0.0/8"]'
  printf '[[route]]\nname = "a"\nhost = "*"\ntargets = ["%s"]\n' "$E" >"$T/routes.toml"
  edged_start
  run curl -sS -H 'X-Forwarded-For: 203.0.113.9, 10.1.1.1' -H 'X-Forwarded-Proto: https' "http://$HTTP/"
  [[ "$output" == *"X-Forwarded-For: 203.0.113.9, 10.1.1.1, 127.0.0.1"* ]]
  [[ "$output" == *"X-Real-IP: 203.0.113.9"* ]]
  [[ "$output" == *"X-Forwarded-Proto: https"* ]]
}

@test "chunked and streamed bodies both ways keep their checksums; 100-continue is answered" {
  origin echo --echo
  O=$ADDR
  origin big --size 3000000 --chunked --chunk-size 7k
  B=$ADDR
  config
  printf '[[route]]\nname = "echo"\nhost = "echo.test"\ntargets = ["%s"]\n[[route]]\nname = "big"\nhost = "big.test"\ntargets = ["%s"]\n' "$O" "$B" >"$T/routes.toml"
  edged_start
  head -c 2500000 /dev/urandom >"$T/up.bin"
  want=$(sha256sum <"$T/up.bin" | cut -d' ' -f1)
  got=$(curl -sS -H 'Host: echo.test' -H 'Transfer-Encoding: chunked' --data-binary @"$T/up.bin" "http://$HTTP/" | sha256sum | cut -d' ' -f1)
  [ "$got" = "$want" ]
  # Content-Length upload with Expect: 100-continue: edged answers 100 at once (curl would
  # otherwise wait a second).
  start_s=$(date +%s%N)
  curl -sS -v -H 'Host: echo.test' -H 'Expect: 100-continue' --data-binary @"$T/up.bin" \
    "http://$HTTP/" -o "$T/echoed.bin" 2>"$T/curl.err"
  ms=$(( ($(date +%s%N) - start_s) / 1000000 ))
  grep -q '100 Continue' "$T/curl.err"
  [ "$(sha256sum <"$T/echoed.bin" | cut -d' ' -f1)" = "$want" ]
  [ "$ms" -lt 900 ]
  # A chunked download arrives whole and identical to the direct one.
  direct=$(curl -sS "http://$B/" | sha256sum | cut -d' ' -f1)
  run curl -sS -D "$T/h.txt" -H 'Host: big.test' "http://$HTTP/" -o "$T/down.bin"
  grep -qi 'transfer-encoding: chunked' "$T/h.txt"
  [ "$(stat -c %s "$T/down.bin")" -eq 3000000 ]
  [ "$(sha256sum <"$T/down.bin" | cut -d' ' -f1)" = "$direct" ]
  # HTTP/1.0 clients get the chunked body unframed.
  curl -sS -0 -H 'Host: big.test' "http://$HTTP/" -o "$T/down10.bin"
  [ "$(sha256sum <"$T/down10.bin" | cut -d' ' -f1)" = "$direct" ]
}

@test "request smuggling attempts get 400 and a closed connection, never reach the origin" {
  start echo python3 "$T/h.py" echo-origin e1 "$T/origin.log"
  E=$ADDR
  config
  printf '[[route]]\nname = "a"\nhost = "*"\ntargets = ["%s"]\n' "$E" >"$T/routes.toml"
  edged_start
  check400() {
    run python3 "$T/h.py" raw "$HTTP" "$1"
    [[ "$output" == "HTTP/1.1 ${2:-400} "* ]] || { echo "for $1: $output"; return 1; }
    [[ "$output" == *"CLOSED" ]] || { echo "not closed for $1"; return 1; }
  }
  check400 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
  check400 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde'
  check400 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd'
  check400 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'
  check400 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n'
  check400 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n'
  check400 'GET / HTTP/1.1\nHost: x\n\n'
  check400 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n'
  check400 'GET / HTTP/1.1\r\nHo st: x\r\n\r\n'
  check400 'GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n'
  check400 'GET / HTTP/1.1\r\n\r\n'
  check400 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n' 501
  # Bad chunk framing in the middle of a streamed body: the connection is closed.
  run python3 "$T/h.py" raw "$HTTP" 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n5\nhello\r\n0\r\n\r\n'
  [[ "$output" == *"CLOSED" ]]
  [[ "$output" != *"HTTP/1.1 200"* ]]
  # Only the last request (its head) reached the origin.
  [ "$(grep -c . "$T/origin.log" 2>/dev/null || echo 0)" -le 1 ]
  r=$(ctl '{"op":"metrics"}')
  bad=$(jget "$r" 'd["text"]' | sed -n 's/^edged_bad_requests_total //p')
  [ "$bad" -ge 12 ]
}

@test "pipelined requests are answered in order on one connection" {
  start echo python3 "$T/h.py" echo-origin e1 "$T/origin.log"
  config
  printf '[[route]]\nname = "a"\nhost = "*"\ntargets = ["%s"]\n' "$ADDR" >"$T/routes.toml"
  edged_start
  run python3 "$T/h.py" raw "$HTTP" 'GET /first HTTP/1.1\r\nHost: x\r\n\r\nPOST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
  [ "$(echo "$output" | grep -o 'HTTP/1.1 200 OK' | wc -l)" -eq 3 ]
  [[ "$output" == *"GET /first"*"POST /second"*"abc"*"GET /third"* ]]
  [[ "$output" == *"CLOSED" ]]
}

@test "limits: long URI 414, header flood 431, large headers 431, body limit 413" {
  start echo python3 "$T/h.py" echo-origin e1 "$T/origin.log"
  E=$ADDR
  config '' '[limits]
max_uri_bytes = 1024
max_header_bytes = 4096
max_headers = 20
max_body = 1000'
  printf '[[route]]\nname = "a"\nhost = "*"\ntargets = ["%s"]\n' "$E" >"$T/routes.toml"
  edged_start
  long=$(head -c 3000 /dev/zero | tr '\0' a)
  run curl -sS -o /dev/null -w '%{http_code}' "http://$HTTP/$long"
  [ "$output" = "414" ]
  hdrs=()
  for i in $(seq 1 30); do hdrs+=(-H "X-H$i: v"); done
  run curl -sS -o /dev/null -w '%{http_code}' "${hdrs[@]}" "http://$HTTP/"
  [ "$output" = "431" ]
  run curl -sS -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 5000 /dev/zero | tr '\0' b)" "http://$HTTP/"
  [ "$output" = "431" ]
  run curl -sS -o /dev/null -w '%{http_code}' --data-binary "$(head -c 2000 /dev/zero | tr '\0' c)" "http://$HTTP/"
  [ "$output" = "413" ]
  run curl -sS -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary "$(head -c 2000 /dev/zero | tr '\0' c)" "http://$HTTP/"
  [ "$output" = "413" ]
  [ ! -s "$T/origin.log" ]
}

@test "slowloris: a head that trickles in is cut off by the header timeout" {
  origin o1
  config
  printf '[[route]]\nname = "a"\nhost = "*"\ntargets = ["%s"]\n' "$ADDR" >"$T/routes.toml"
  edged_start
  run python3 "$T/h.py" slow "$HTTP"
  secs=${output%% *}
  [[ "$output" == *"408 Request Timeout"* ]]
  [ "${secs%.*}" -lt 4 ]
  # Idle keep-alive connections are closed after the idle timeout too (default 60 s: not here);
  # edged keeps serving others meanwhile.
  [ "$(curl -sS "http://$HTTP/")" = "hello" ]
}

@test "upstream failures: refused 502 fast, slow 504, no healthy target 503" {
  free=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  origin slow --delay 3s
  S=$ADDR
  config
  cat >"$T/routes.toml" <<EOF
[[route]]
name = "down"
host = "down.test"
targets = ["127.0.0.1:$free"]
passive_failures = 2
passive_cooldown = "30s"
[[route]]
name = "slow"
host = "slow.test"
targets = ["$S"]
EOF
  edged_start
  start_s=$(date +%s%N)
  run curl -sS -w '%{http_code}' -H 'Host: down.test' "http://$HTTP/"
  ms=$(( ($(date +%s%N) - start_s) / 1000000 ))
  [[ "$output" == *"connect 127.0.0.1:$free"*"refused"*"502" ]]
  [ "$ms" -lt 500 ]
  run curl -sS -o /dev/null -w '%{http_code}' -H 'Host: down.test' "http://$HTTP/"
  [ "$output" = "502" ]
  # Two failures mark the only target down: 503 without trying.
  run curl -sS -w '%{http_code}' -H 'Host: down.test' "http://$HTTP/"
  [[ "$output" == *"no healthy target"*"503" ]]
  run curl -sS -o /dev/null -w '%{http_code}' -H 'Host: slow.test' "http://$HTTP/"
  [ "$output" = "504" ]
  # edged is still fine.
  r=$(ctl '{"op":"status"}')
  [ "$(jget "$r" 'd["ok"]')" = "True" ]
}

@test "Upgrade requests are tunnelled both ways" {
  start echo python3 "$T/h.py" echo-origin e1 "$T/origin.log"
  E=$ADDR
  config
  printf '[[route]]\nname = "ws"\nhost = "*"\ntargets = ["%s"]\n' "$E" >"$T/routes.toml"
  edged_start
  run python3 "$T/h.py" ws "$HTTP" ws.test 3
  [ "${lines[0]}" = "HTTP/1.1 101 Switching Protocols" ]
  [ "${lines[1]}" = "message 0" ]
  [ "${lines[3]}" = "message 2" ]
  [ "${lines[4]}" = "DONE" ]
  grep -q 'GET /ws HTTP/1.1' "$T/origin.log"
}

@test "the access log has one JSON object per request" {
  origin o1
  config
  printf '[[route]]\nname = "app"\nhost = "*"\ntargets = ["%s"]\n' "$ADDR" >"$T/routes.toml"
  edged_start
  curl -sS -o /dev/null "http://$HTTP/one"
  curl -sS -o /dev/null -H 'Host: x"y' "http://$HTTP/two" || true
  curl -sS -o /dev/null "http://$HTTP/three?a=%22"
  # Each worker thread flushes its own lines (at least every 250 ms), so order across
  # threads is not fixed.
  three() { [ "$(wc -l <"$T/access.log")" -ge 3 ]; }
  wait_for three
  run python3 -c '
import json, sys
rows = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda r: r["path"])
print(len(rows), [(r["path"], r["status"], r.get("route")) for r in rows])
' "$T/access.log"
  [ "$output" = "3 [('', 400, None), ('/one', 200, 'app'), ('/three?a=%22', 200, 'app')]" ]
}
