#!/usr/bin/env bats
# The whole system on 127.0.0.1: `scripts/demo --once`, then the same scenario set up here step
# by step — cactl's CA and the edge certificate, an edge (tunneld + edged on one store), a site
# added with peerctl whose tunneld dials out, a netbench origin behind it, a password-protected
# HTTPS resource on the site — and on top of it: the portal and a login, a share link, a raw
# TCP forward through the tunnel, netbench load through the whole path with a threshold, the
# site killed and restarted during traffic (fast 502s, then service again), and a flowrun
# workflow that reads `peerctl status --json` and names the offline site.
# Every wait is bounded; every process started here is killed in teardown_file.

setup_file() {
  REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
  case ${BUILD:-build} in
  /*) BIN=${BUILD}/bin ;;
  *) BIN=$REPO/${BUILD:-build}/bin ;;
  esac
  export REPO BIN
  export PATH="$BIN:$PATH"
  export T=$(mktemp -d "${TMPDIR:-/tmp}/warren-system.XXXXXX")
  export E=$T/edge S=$T/site HOST=app.system.test
  mkdir -p "$E" "$S" "$T/pids" "$T/log"
  umask 077

  cactl --dir "$E" init --no-passphrase --name System >/dev/null 2>&1
  cactl --dir "$E" issue "$HOST" --out-dir "$E/certs" >/dev/null
  cactl --dir "$E" export root --out "$T/ca.pem"

  cat >"$E/tunneld.toml" <<EOF
drain_timeout = "1s"
[edge]
listen = "127.0.0.1:0"
forward_bind = "127.0.0.1"
store_poll = "100ms"
keepalive = "500ms"
idle_timeout = "2s"
EOF
  bg tunneld-edge tunneld --dir "$E"
  wait_for 200 tunneld_up
  export EDGE=$(tctl '{"op":"status"}' | jget 'd["listen"]')

  peerctl --dir "$E" site add homelab --edge "$EDGE" --allow 127.0.0.0/8 >"$S/tunneld.toml"
  printf 'reconnect_min = "50ms"\nreconnect_max = "400ms"\nconnect_timeout = "2s"\n' >>"$S/tunneld.toml"
  sed -i '1i drain_timeout = "1s"' "$S/tunneld.toml"

  bg origin netbench serve --listen 127.0.0.1:0 --reply "behind the site"
  wait_for 200 test -s "$T/log/origin.out"
  export ORIGIN=$(head -1 "$T/log/origin.out")
  start_site
  wait_for 200 site_online true

  echo 'correct-horse-7' >"$T/password"
  peerctl --dir "$E" resource add app --host "$HOST" --tls --target "homelab:$ORIGIN" >/dev/null
  peerctl --dir "$E" resource auth app --password-file "$T/password" --share-links >/dev/null

  cat >"$E/edged.toml" <<EOF
threads = 2
[http]
listen = ["127.0.0.1:0"]
[https]
listen = ["127.0.0.1:0"]
cert = "certs/$HOST.fullchain.pem"
key = "certs/$HOST.key"
[timeouts]
upstream_connect = "2s"
[reload]
store_poll = "100ms"
EOF
  bg edged edged --dir "$E"
  wait_for 200 grep -q '^https ' "$T/log/edged.out"
  export PORT=$(sed -n 's/^https //p' "$T/log/edged.out" | head -1 | sed 's/.*://')
  export BASE="https://$HOST:$PORT"
  wait_for 200 served_code 302 "$BASE/"
}

teardown_file() {
  for f in "$T"/pids/*; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  [ -n "${KEEP_T:-}" ] || rm -rf "$T"
}

setup() {
  export PATH="$BIN:$PATH"
}

# --- helpers ----------------------------------------------------------------------------------

bg() { # NAME CMD...: runs CMD in the background (pid in $T/pids/NAME, output in $T/log/NAME.*)
  local name=$1
  shift
  ("$@" >"$T/log/$name.out" 2>>"$T/log/$name.err" 3>&- </dev/null & echo $! >"$T/pids/$name")
}

wait_for() { # TRIES CMD...: retries CMD quietly every 50 ms, at most TRIES times
  local n=$1 i
  shift
  for i in $(seq 1 "$n"); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "gave up waiting for: $*" >&2
  tail -n 5 "$T"/log/*.err >&2
  return 1
}

jget() { # EXPR over the JSON document d on stdin
  python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

tctl() { # JSON: one request on the edge tunneld's control socket
  python3 - "$E/run/tunneld.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(3)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while not out.endswith(b"\n"):
    d = s.recv(65536)
    if not d:
        break
    out += d
sys.stdout.write(out.decode())
PY
}

tunneld_up() { [ -S "$E/run/tunneld.sock" ] && tctl '{"op":"status"}' | grep -q '"ok":true'; }

site_online() { # true|false: what peerctl status --json says about homelab
  [ "$(peerctl --dir "$E" status --json | jget '[s["online"] for s in d["sites"] if s["name"] == "homelab"][0]')" = "$([ "$1" = true ] && echo True || echo False)" ]
}

start_site() { bg tunneld-site tunneld --dir "$S"; }

kc() { # curl with the demo's name resolution and CA
  curl -sS --max-time 10 --resolve "$HOST:$PORT:127.0.0.1" --cacert "$T/ca.pem" "$@"
}

served_code() { # CODE CURL-ARGS...: the status is CODE
  local want=$1
  shift
  [ "$(kc -o /dev/null -w '%{http_code}' "$@")" = "$want" ]
}

login() { # logs in with the password once; the cookie jar is $T/cookies
  [ -s "$T/cookies" ] && grep -q warren_session "$T/cookies" && return 0
  kc -o /dev/null -c "$T/cookies" --data 'method=password&password=correct-horse-7' \
    "$BASE/.warren/auth/login"
}

cookie_header() { awk '$6 ~ /warren_session/ {print "Cookie: " $6 "=" $7}' "$T/cookies"; }

# --- tests ------------------------------------------------------------------------------------

@test "scripts/demo --once: every scripted check passes with the binaries from \$BUILD" {
  run env BIN="$BIN" timeout 120 "$REPO/scripts/demo" --once
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(printf '%s\n' "$output" | grep -c '^ok ')" -ge 7 ]
  [ "$(printf '%s\n' "$output" | grep -c '^FAIL')" -eq 0 ]
  [[ "$output" == *"demo: all checks passed"* ]]
  # it removed its temporary directory and left no process behind
  dir=$(printf '%s\n' "$output" | sed -n 's/^demo: working in //p')
  [ -n "$dir" ]
  [ ! -e "$dir" ]
  [ -z "$(pgrep -f "$dir")" ]
  run "$REPO/scripts/demo" --bogus
  [ "$status" -eq 64 ]
  [ "$output" = "usage: scripts/demo [--once] [--keep]" ]
}

@test "portal: no session is sent to the login page; the password gives a cookie and the origin's reply through the tunnel" {
  run kc -o /dev/null -w '%{http_code} %{redirect_url}' "$BASE/docs?x=1"
  [ "$output" = "302 $BASE/.warren/auth/login?rd=%2Fdocs%3Fx%3D1" ]
  run kc -o /dev/null -w '%{http_code}' --data 'method=password&password=nope' "$BASE/.warren/auth/login"
  [ "$output" = 401 ]
  run kc -D - -o /dev/null --data 'method=password&password=correct-horse-7&rd=/docs' "$BASE/.warren/auth/login"
  [[ "$output" == "HTTP/1.1 303 "* ]]
  [[ "$output" == *"Set-Cookie: __Host-warren_session="*"Secure"* ]]
  login
  run kc -b "$T/cookies" "$BASE/"
  [ "$output" = "behind the site" ]
  # the status screen shows the site online and the resource's target on it up
  run peerctl --dir "$E" status
  [[ "$output" =~ homelab\ +online ]]
  [[ "$output" == *"app  $HOST/  protected"* ]]
  [[ "$output" == *"-> site://homelab/$ORIGIN  up"* ]]
}

@test "share link: the token becomes a cookie through a redirect; a revoked link stops working" {
  url=$(peerctl --dir "$E" link create app --title system-test)
  [[ "$url" == "$BASE/?warren_token="* ]]
  run kc -D - -o /dev/null "$url"
  [[ "$output" == "HTTP/1.1 302 "* ]]
  [[ "$output" == *"Location: /"$'\r'* ]]
  run kc -L -c "$T/link.jar" -b "$T/link.jar" "$url"
  [ "$output" = "behind the site" ]
  id=$(peerctl --dir "$E" link list app --json | jget 'd["id"]')
  peerctl --dir "$E" link revoke "$id"
  # the link's session ends with it, and the link is refused
  wait_for 60 served_code 302 -b "$T/link.jar" "$BASE/" || true
  run kc -o /dev/null -w '%{http_code}' -b "$T/link.jar" "$BASE/"
  [ "$output" != 200 ]
  rm -f "$T/link2.jar"
  run kc -o /dev/null -w '%{http_code}' -c "$T/link2.jar" "$url"
  [ "$output" != 200 ]
  [ "$(cat "$T/link2.jar" 2>/dev/null | grep -c warren_session)" -eq 0 ]
}

@test "raw TCP resource: a public port on the edge reaches a TCP server at the site, every byte" {
  bg tcpserver netbench tcp --server --listen 127.0.0.1:0
  wait_for 100 test -s "$T/log/tcpserver.out"
  target=$(head -1 "$T/log/tcpserver.out")
  fport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  peerctl --dir "$E" resource add rawtcp --tcp "$fport" --site homelab --to "$target" >/dev/null
  wait_for 100 sh -c "ss -Hltn 'sport = :$fport' | grep -q LISTEN"
  run timeout 20 netbench --json tcp "127.0.0.1:$fport" -d 1s
  [ "$status" -eq 0 ]
  sent=$(printf '%s' "$output" | jget 'd["bytes_sent"]')
  got=$(printf '%s' "$output" | jget 'd["bytes_received"]')
  [ "$sent" -gt 1000000 ]
  [ "$sent" = "$got" ]
  # and HTTP as plain bytes through a second forward, to the origin behind the site
  fport2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  peerctl --dir "$E" resource add rawhttp --tcp "$fport2" --site homelab --to "$ORIGIN" >/dev/null
  wait_for 100 sh -c "ss -Hltn 'sport = :$fport2' | grep -q LISTEN"
  run curl -sS --max-time 5 "http://127.0.0.1:$fport2/"
  [ "$output" = "behind the site" ]
  run peerctl --dir "$E" resource list
  [[ "$output" == *rawtcp* ]]
  [[ "$output" == *rawhttp* ]]
  kill "$(cat "$T/pids/tcpserver")"
}

@test "netbench drives load through edged, both tunnelds and the origin within a threshold" {
  login
  run timeout 30 netbench --json http -c 8 -d 2s --connect-to "127.0.0.1:$PORT" --cacert "$T/ca.pem" \
    -H "$(cookie_header)" --threshold 'errors<1%' --threshold 'p99<500ms' "$BASE/"
  [ "$status" -eq 0 ]
  printf '%s' "$output" >"$T/bench.json"
  [ "$(jget 'd["requests"] > 100 and d["ok"] and d["errors"]["total"] == 0' <"$T/bench.json")" = True ]
  [ "$(jget 'list(d["status"])' <"$T/bench.json")" = "['200']" ]
  # the same threshold fails when it cannot hold (proves --threshold is enforced)
  run timeout 30 netbench http -c 2 -d 1s --connect-to "127.0.0.1:$PORT" --cacert "$T/ca.pem" \
    -H "$(cookie_header)" --threshold 'p50<1us' "$BASE/"
  [ "$status" -eq 1 ]
}

@test "site restart during traffic: requests fail fast (502/503) while it is down, pass again after the reconnect" {
  login
  # traffic for 4 s in the background, through the whole path
  (timeout 30 netbench --json http -c 4 -d 4s --timeout 2s --connect-to "127.0.0.1:$PORT" \
    --cacert "$T/ca.pem" -H "$(cookie_header)" "$BASE/" >"$T/restart-bench.json" 2>"$T/restart-bench.err" 3>&- &
    echo $! >"$T/pids/restart-bench")
  sleep 1
  kill -9 "$(cat "$T/pids/tunneld-site")"
  wait_for 100 site_online false
  # while the site is down every request fails, and fast
  for _ in 1 2 3 4 5; do
    t0=$(date +%s%N)
    code=$(kc -o /dev/null -w '%{http_code}' -b "$T/cookies" "$BASE/")
    ms=$((($(date +%s%N) - t0) / 1000000))
    echo "down: $code in $ms ms"
    [ "$code" = 502 ] || [ "$code" = 503 ] || [ "$code" = 504 ]
    [ "$ms" -lt 2000 ]
  done
  start_site
  wait_for 200 site_online true
  wait_for 200 served_code 200 -b "$T/cookies" "$BASE/" || true
  run kc -b "$T/cookies" "$BASE/"
  [ "$output" = "behind the site" ]
  # the load run finished on time (nothing hung) and saw both successes and failures
  for _ in $(seq 1 200); do
    kill -0 "$(cat "$T/pids/restart-bench")" 2>/dev/null || break
    sleep 0.05
  done
  run kill -0 "$(cat "$T/pids/restart-bench")"
  [ "$status" -ne 0 ]
  cat "$T/restart-bench.json" | head -c 2000
  [ "$(jget 'd["status"].get("200", 0) > 0 and d["errors"]["total"] > 0' <"$T/restart-bench.json")" = True ]
}

@test "flowrun: a workflow reads peerctl status --json and reports the offline site" {
  printf '[exec]\nenabled = true\nallowed = ["peerctl"]\n' >"$E/flowrun.toml"
  cat >"$T/offline.json" <<'EOF'
{"workflow_id": "offline-sites",
 "nodes": [
  {"id": "status", "type": "exec", "data": {"command": ["peerctl", "status", "--json"], "timeout": "10s"}},
  {"id": "stdout", "type": "expression", "data": {"expression": "input.stdout"}},
  {"id": "parsed", "type": "parse", "data": {"input_type": "JSON"}},
  {"id": "sites", "type": "expression", "data": {"expression": "input.sites"}},
  {"id": "offline", "type": "filter", "data": {"condition": "item.online == false && item.enabled == true"}},
  {"id": "names", "type": "expression", "data": {"expression": "map(input.filtered, item.name)"}}],
 "edges": [{"source": "status", "target": "stdout"}, {"source": "stdout", "target": "parsed"},
           {"source": "parsed", "target": "sites"}, {"source": "sites", "target": "offline"},
           {"source": "offline", "target": "names"}]}
EOF
  run flowrun --dir "$E" validate "$T/offline.json"
  [ "$status" -eq 0 ]
  wait_for 100 site_online true
  run env WARREN_DIR="$E" flowrun --dir "$E" run "$T/offline.json"
  [ "$status" -eq 0 ]
  [ "$output" = "[]" ]
  kill -9 "$(cat "$T/pids/tunneld-site")"
  wait_for 100 site_online false
  run env WARREN_DIR="$E" flowrun --dir "$E" run "$T/offline.json"
  [ "$status" -eq 0 ]
  [ "$output" = '["homelab"]' ]
  # the runs are recorded in the store
  run flowrun --dir "$E" history --workflow offline-sites --json
  [ "$(printf '%s\n' "$output" | grep -c .)" -eq 2 ]
  start_site
  wait_for 200 site_online true
}

@test "README: the ten-minute tour runs as written (its ports swapped for free ones)" {
  tour=$("$REPO/tests/cli/system/readme-tour" "$REPO/README.md" "$BIN")
  [[ "$tour" == *"peerctl site add homelab"* ]]
  {
    echo 'set -e'
    # the tour's first line sets WARREN_DIR; clean up whatever it started, even on failure
    printf '%s\n' "$tour" | head -1
    echo 'trap '\''kill $(jobs -p) 2>/dev/null; wait; rm -rf "$WARREN_DIR"'\'' EXIT'
    printf '%s\n' "$tour" | tail -n +2
  } >"$T/tour.sh"
  run timeout 120 bash "$T/tour.sh"
  echo "$output" | grep -v '^ *[0-9.]*[mu]*s - ' | head -120
  [ "$status" -eq 0 ]
  [ "$(printf '%s\n' "$output" | grep -o 'hello from homelab' | wc -l)" -eq 4 ]
  [[ "$output" == *"302 https://app.warren.test:"*"/.warren/auth/login?rd=%2F"* ]]
  [[ "$output" =~ homelab\ +online ]]
  [[ "$output" == *"ok      errors<1%"* ]]
  # flowrun: no site offline, then the killed one
  [ "$(printf '%s\n' "$output" | grep -x -e '\[\]' -e '\["homelab"\]' | tr '\n' ' ')" = '[] ["homelab"] ' ]
}

@test "scripts/demo stays up, its printed commands work, it restarts a killed site, Ctrl-C stops everything and cleans up" {
  run env BIN="$BIN" timeout 150 "$REPO/tests/cli/system/ctrl-c" "$T/demo.log" "$REPO/scripts/demo"
  cat "$T/demo.log"
  echo "$output"
  [ "${lines[0]}" = 303 ]
  # the cookie it got, then the share link, both reach the origin
  [ "${lines[1]}" = "hello from the origin behind site homelab (netbench serve)" ]
  [ "${lines[2]}" = "${lines[1]}" ]
  # the site killed: a fast 502/503; the demo restarts it and requests pass again
  [[ "${lines[3]}" =~ ^outage\ 50[23]$ ]]
  [ "${lines[4]}" = "back 200" ]
  grep -q "the site's tunneld started again" "$T/demo.log"
  [[ "${lines[5]}" =~ ^exit\ 130\ after\ [0-9.]+\ s$ ]]
  dir=$(sed -n 's/.*Everything lives in \([^ ]*\) .*/\1/p' "$T/demo.log")
  [ -n "$dir" ]
  [ ! -e "$dir" ]
  [ -z "$(pgrep -f "$dir")" ]
}
