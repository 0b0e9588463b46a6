#!/usr/bin/env bats
# edged operations: health-check failover between two origins, passive failures with retries,
# sticky sessions, routes from the store (cactl creates it; rows added with sqlite3) and
# conflicts with the routes file, the control socket, reloads (SIGHUP, control, store, file)
# that keep a long download and an open Upgrade tunnel alive, a failed reload keeping the old
# config, the SIGTERM drain, the metrics listener, and targets on a site through tunneld's
# `dial` (a stand-in peer speaking exactly that contract; see edged-common.bash) and through
# a real tunneld pair (edge and site, configured with peerctl).

load edged-common

ops_config() {
  cat >"$T/edged.toml" <<EOF
threads = 2
routes_file = "routes.toml"
$1
[http]
listen = ["127.0.0.1:0"]
[timeouts]
upstream_connect = "1s"
upstream_response = "2s"
drain = "5s"
[reload]
store_poll = "200ms"
file_poll = "200ms"
EOF
}

body_of() {
  curl -sS -H "Host: ${2:-x.test}" "http://$HTTP$1"
}

@test "active health checks move traffic off a dead origin" {
  origin a --reply A
  A=$ADDR
  APID=$LASTPID
  origin b --reply B
  B=$ADDR
  ops_config
  cat >"$T/routes.toml" <<EOF
[[route]]
name = "app"
host = "*"
targets = ["$A", "$B"]
passive_failures = 0
[route.health]
path = "/"
interval = "200ms"
timeout = "500ms"
fall = 1
rise = 1
EOF
  edged_start
  seen=""
  for i in 1 2 3 4; do seen="$seen$(body_of /)"; done
  [[ "$seen" == *A* && "$seen" == *B* ]]
  kill "$APID"
  a_down() {
    jget "$(ctl '{"op":"routes"}')" '[t["up"] for t in d["routes"][0]["targets"]]' | grep -q 'False, True'
  }
  wait_for a_down
  for i in $(seq 1 10); do [ "$(body_of /)" = "B" ]; done
  text=$(jget "$(ctl '{"op":"metrics"}')" 'd["text"]')
  echo "$text" | grep -q "edged_target_up{route=\"app\",target=\"http://$A\"} 0"
  grep -q 'event=target_down route=app' "$T/edged.err"
}

@test "passive failures: connect failures retry on another target and mark the target down" {
  origin b --reply B
  B=$ADDR
  free=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  ops_config
  printf '[[route]]\nname = "app"\nhost = "*"\ntargets = ["127.0.0.1:%s", "%s"]\npassive_failures = 2\n' "$free" "$B" >"$T/routes.toml"
  edged_start
  for i in $(seq 1 8); do
    run curl -sS -w ' %{http_code}' "http://$HTTP/"
    [ "$output" = "B 200" ]
  done
  r=$(ctl '{"op":"routes"}')
  [ "$(jget "$r" 'd["routes"][0]["targets"][0]["up"]')" = "False" ]
  [ "$(jget "$r" 'd["routes"][0]["targets"][0]["failures"] >= 2')" = "True" ]
  # POST is not idempotent: it is not retried elsewhere (it may get a 502 instead).
  text=$(jget "$(ctl '{"op":"metrics"}')" 'd["text"]')
  [ "$(echo "$text" | sed -n 's/^edged_retries_total //p')" -ge 2 ]
}

@test "sticky sessions pin a client to a target by cookie" {
  origin a --reply A
  A=$ADDR
  origin b --reply B
  B=$ADDR
  ops_config
  printf '[[route]]\nname = "app"\nhost = "*"\nsticky = true\ntargets = ["%s", "%s"]\n' "$A" "$B" >"$T/routes.toml"
  edged_start
  first=$(curl -sS -c "$T/jar" "http://$HTTP/")
  grep -q edged_sticky "$T/jar"
  for i in 1 2 3 4 5 6; do [ "$(curl -sS -b "$T/jar" "http://$HTTP/")" = "$first" ]; done
  run curl -sS -D - -o /dev/null -b "$T/jar" "http://$HTTP/"
  [[ "$output" != *Set-Cookie* ]]
}

@test "routes come from the store too, are picked up without restart, and conflicts are reported" {
  origin a --reply FILE
  A=$ADDR
  origin s --reply STORE
  S=$ADDR
  cactl --dir "$T" init --no-passphrase >/dev/null 2>&1
  ops_config
  printf '[[route]]\nname = "filed"\nhost = "file.test"\ntargets = ["%s"]\n' "$A" >"$T/routes.toml"
  edged_start
  run curl -sS -o /dev/null -w '%{http_code}' -H 'Host: store.test' "http://$HTTP/"
  [ "$output" = "404" ]
  python3 - "$T/warren.db" "${S##*:}" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO resources (name, host, path_prefix) VALUES ('web', 'store.test', '/')")
db.execute("INSERT INTO resources (name, host, path_prefix) VALUES ('clash', 'file.test', '/')")
db.execute("INSERT INTO targets (resource_id, host, port) VALUES (1, '127.0.0.1', ?)", (int(sys.argv[2]),))
db.execute("INSERT INTO targets (resource_id, host, port) VALUES (2, '127.0.0.1', ?)", (int(sys.argv[2]),))
db.commit()
PY
  served() { [ "$(body_of / store.test)" = "STORE" ]; }
  wait_for served
  [ "$(body_of / file.test)" = "FILE" ]
  r=$(ctl '{"op":"routes"}')
  [ "$(jget "$r" 'len(d["conflicts"])')" = "1" ]
  [[ "$(jget "$r" 'd["conflicts"][0]')" == *'"clash"'*"file wins"* ]]
  [ "$(jget "$r" '[x["source"] for x in d["routes"] if x["name"]=="web"][0]')" = "store" ]
  python3 -c "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); db.execute('UPDATE resources SET enabled=0 WHERE name=\"web\"'); db.commit()" "$T/warren.db"
  gone() { [ "$(curl -sS -o /dev/null -w '%{http_code}' -H 'Host: store.test' "http://$HTTP/")" = "404" ]; }
  wait_for gone
}

@test "control socket: status, routes, metrics, reload; bad requests get errors" {
  origin a
  ops_config
  printf '[[route]]\nname = "app"\nhost = "*"\ntargets = ["%s"]\n' "$ADDR" >"$T/routes.toml"
  edged_start --threads 1
  [ "$(stat -c %a "$T/run/edged.sock")" = "600" ]
  curl -sS -o /dev/null "http://$HTTP/"
  r=$(ctl '{"op":"status"}')
  [ "$(jget "$r" 'd["threads"]')" = "1" ]
  [ "$(jget "$r" 'd["listeners"][0]["address"]')" = "$HTTP" ]
  [ "$(jget "$r" 'd["requests"] >= 1')" = "True" ]
  r=$(ctl '{"op":"reload"}')
  [ "$(jget "$r" 'd["ok"]')" = "True" ]
  r=$(ctl '{"op":"metrics"}')
  [[ "$(jget "$r" 'd["text"]')" == *'edged_requests_total{code="2xx"} 1'* ]]
  r=$(ctl '{"op":"nope"}')
  [ "$(jget "$r" 'd["ok"]')" = "False" ]
  # A broken config is refused by reload (exit code 78 in the reply) and SIGHUP; the old one
  # keeps serving.
  echo 'threads = "many"' >>"$T/edged.toml"
  r=$(ctl '{"op":"reload"}')
  [ "$(jget "$r" 'd["ok"]')" = "False" ]
  [ "$(jget "$r" 'd["code"]')" = "78" ]
  kill -HUP "$EDGED_PID"
  wait_for grep -q 'event=reload_failed why=SIGHUP' "$T/edged.err"
  [ "$(body_of /)" = "hello" ]
  [ "$(jget "$(ctl '{"op":"status"}')" '"threads" in d["last_reload_error"]')" = "True" ]
}

@test "reloads keep a long download and an open Upgrade tunnel alive" {
  origin big --size 40000000
  B=$ADDR
  start echo python3 "$T/h.py" echo-origin e1 "$T/origin.log"
  E=$ADDR
  ops_config
  printf '[[route]]\nname = "big"\nhost = "big.test"\ntargets = ["%s"]\n[[route]]\nname = "ws"\nhost = "ws.test"\ntargets = ["%s"]\n' "$B" "$E" >"$T/routes.toml"
  edged_start
  python3 "$T/h.py" ws "$HTTP" ws.test 3 "$T/go" >"$T/ws.out" 2>&1 &
  WSPID=$!
  curl -sS --limit-rate 20M -H 'Host: big.test' "http://$HTTP/" -o "$T/big.bin" &
  CURLPID=$!
  wait_for grep -q READY "$T/ws.out"
  sleep 0.3
  kill -HUP "$EDGED_PID"
  [ "$(jget "$(ctl '{"op":"reload"}')" 'd["ok"]')" = "True" ]
  printf '[[route]]\nname = "big2"\nhost = "big.test"\ntargets = ["%s"]\n[[route]]\nname = "ws2"\nhost = "ws.test"\ntargets = ["%s"]\n' "$B" "$E" >"$T/routes.toml"
  wait_for grep -q 'why=routes_file' "$T/edged.err"
  touch "$T/go"
  wait "$WSPID"
  wait "$CURLPID"
  grep -q 'message 2' "$T/ws.out"
  grep -q DONE "$T/ws.out"
  [ "$(stat -c %s "$T/big.bin")" -eq 40000000 ]
  r=$(ctl '{"op":"routes"}')
  [ "$(jget "$r" 'sorted(x["name"] for x in d["routes"])')" = "['big2', 'ws2']" ]
}

@test "SIGTERM drains: requests in flight finish, then edged exits 0" {
  origin slow --delay 1s --reply done
  ops_config
  printf '[[route]]\nname = "app"\nhost = "*"\ntargets = ["%s"]\n' "$ADDR" >"$T/routes.toml"
  edged_start
  curl -sS "http://$HTTP/" >"$T/inflight.out" &
  CURLPID=$!
  # the request is in edged (the origin takes a second to answer) before the signal
  inflight() { [ "$(jget "$(ctl '{"op":"status"}')" 'd["connections"]')" -ge 1 ]; }
  wait_for inflight
  kill -TERM "$EDGED_PID"
  wait "$CURLPID"
  [ "$(cat "$T/inflight.out")" = "done" ]
  # wait in this shell (bats' run would wait from a subshell, where edged is not a child).
  rc=0
  wait "$EDGED_PID" || rc=$?
  [ "$rc" -eq 0 ]
  run curl -sS "http://$HTTP/"
  [ "$status" -ne 0 ]
  grep -q 'event=draining' "$T/edged.err"
  [ ! -e "$T/run/edged.sock" ]
}

@test "the metrics listener serves Prometheus text" {
  origin a
  ops_config 'metrics_listen = "127.0.0.1:0"'
  printf '[[route]]\nname = "app"\nhost = "*"\ntargets = ["%s"]\n' "$ADDR" >"$T/routes.toml"
  edged_start
  [[ "$METRICS" == 127.0.0.1:* ]]
  curl -sS -o /dev/null "http://$HTTP/"
  run curl -sS "http://$METRICS/metrics"
  [[ "$output" == *'# TYPE edged_requests_total counter'* ]]
  [[ "$output" == *'edged_request_duration_seconds_bucket{le="+Inf"}'* ]]
  [[ "$output" == *'edged_open_connections'* ]]
  run curl -sS -o /dev/null -w '%{http_code}' "http://$METRICS/other"
  [ "$output" = "404" ]
}

@test "targets on a site are reached through tunneld's dial; failures are 502s" {
  origin inside --reply from-the-site
  O=$ADDR
  ops_config
  cat >"$T/routes.toml" <<EOF
[[route]]
name = "homelab"
host = "home.test"
targets = ["site://homelab/$O"]
[[route]]
name = "away"
host = "away.test"
targets = ["site://elsewhere/$O"]
EOF
  edged_start
  run curl -sS -w ' %{http_code}' -H 'Host: home.test' "http://$HTTP/"
  [[ "$output" == *"tunneld"*"502" ]]
  mkdir -p "$T/run"
  start tunneld python3 "$T/h.py" fake-tunneld "$T/run/tunneld.sock" "$T/dials.log"
  for i in 1 2 3; do
    run curl -sS -w ' %{http_code}' -H 'Host: home.test' "http://$HTTP/"
    [ "$output" = "from-the-site 200" ]
  done
  [ "$(head -1 "$T/dials.log")" = "{\"op\": \"dial\", \"site\": \"homelab\", \"target\": \"$O\"}" ]
  # Dialled streams are pooled like any upstream connection.
  [ "$(wc -l <"$T/dials.log")" -le 2 ]
  run curl -sS -w ' %{http_code}' -H 'Host: away.test' "http://$HTTP/"
  [[ "$output" == *'site elsewhere: site &quot;elsewhere&quot; is not connected'*"502" ]]
}

@test "a target on a site through a real tunneld pair (edge and site), bodies intact" {
  origin inside --size 2000000
  O=$ADDR
  mkdir -p "$T/site"
  cat >"$T/tunneld.toml" <<EOF2
[edge]
listen = "127.0.0.1:0"
store_poll = "100ms"
EOF2
  tunneld --dir "$T" >"$T/tunneld-edge.out" 2>"$T/tunneld-edge.err" &
  PIDS="$PIDS $!"
  edge_up() { [ -S "$T/run/tunneld.sock" ] && python3 "$T/h.py" ctl "$T/run/tunneld.sock" '{"op":"status"}' | grep -q '"ok":true'; }
  wait_for edge_up
  EA=$(jget "$(python3 "$T/h.py" ctl "$T/run/tunneld.sock" '{"op":"status"}')" 'd["listen"]')
  peerctl --dir "$T" site add homelab --edge "$EA" --allow 127.0.0.0/8 >"$T/site/tunneld.toml"
  # (a first handshake the edge refuses, before it has read the new site, is retried soon)
  printf 'reconnect_min = "50ms"\nreconnect_max = "400ms"\n' >>"$T/site/tunneld.toml"
  tunneld --dir "$T/site" >"$T/tunneld-site.out" 2>"$T/tunneld-site.err" &
  PIDS="$PIDS $!"
  online() {
    jget "$(python3 "$T/h.py" ctl "$T/run/tunneld.sock" '{"op":"status"}')" \
      '[s["online"] for s in d["sites"] if s["name"]=="homelab"][0]' | grep -q True
  }
  wait_for online
  ops_config
  printf '[[route]]\nname = "nas"\nhost = "*"\ntargets = ["site://homelab/%s"]\n' "$O" >"$T/routes.toml"
  edged_start
  direct=$(curl -sS "http://$O/" | sha256sum | cut -d' ' -f1)
  for i in 1 2 3; do
    run curl -sS -o "$T/via.bin" -w '%{http_code}' "http://$HTTP/"
    [ "$output" = "200" ]
    [ "$(sha256sum <"$T/via.bin" | cut -d' ' -f1)" = "$direct" ]
  done
  r=$(ctl '{"op":"routes"}')
  [ "$(jget "$r" 'd["routes"][0]["targets"][0]["target"]')" = "site://homelab/$O" ]
}
