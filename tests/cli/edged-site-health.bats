#!/usr/bin/env bats
# edged follows its sites and its store: targets behind a site go down the moment tunneld
# reports the site offline and come back when it is online again (real tunneld edge and site,
# a recording origin); a store file replaced under a running edged is noticed and reopened.

load edged-common

# tctl JSON — one request on tunneld's (edge) control socket.
tctl() { python3 "$T/h.py" ctl "$T/run/tunneld.sock" "$1"; }

site_online() {
  tctl '{"op":"status"}' | jq -e '.sites[] | select(.name == "homelab") | .online' >/dev/null
}

# site_start — the site's tunneld from $T/site; sets SITE_PID.
site_start() {
  tunneld --dir "$T/site" >>"$T/tunneld-site.out" 2>>"$T/tunneld-site.err" &
  SITE_PID=$!
  PIDS="$PIDS $SITE_PID"
}

# edge_and_site — tunneld's edge role in $T, site homelab in the store, the site's tunneld.
edge_and_site() {
  mkdir -p "$T/site"
  printf '[edge]\nlisten = "127.0.0.1:0"\nstore_poll = "100ms"\n' >"$T/tunneld.toml"
  tunneld --dir "$T" >"$T/tunneld-edge.out" 2>"$T/tunneld-edge.err" &
  PIDS="$PIDS $!"
  edge_up() { [ -S "$T/run/tunneld.sock" ] && tctl '{"op":"status"}' | grep -q '"ok":true'; }
  wait_for edge_up
  EA=$(tctl '{"op":"status"}' | jq -r .listen)
  peerctl --dir "$T" site add homelab --edge "$EA" --allow 127.0.0.0/8 >"$T/site/tunneld.toml"
  # (a first handshake the edge refuses, before it has read the new site, is retried soon)
  printf 'reconnect_min = "50ms"\nreconnect_max = "400ms"\n' >>"$T/site/tunneld.toml"
  site_start
  wait_for site_online
}

edged_config() {
  cat >"$T/edged.toml" <<EOF
threads = 2
metrics_listen = "127.0.0.1:0"
[http]
listen = ["127.0.0.1:0"]
[timeouts]
upstream_connect = "2s"
upstream_response = "3s"
drain = "2s"
[reload]
store_poll = "100ms"
file_poll = "200ms"
EOF
}

# target JSON — the route's only target as edged's `routes` reports it.
target() {
  ctl '{"op":"routes"}' | jq -c --arg r "$1" '.routes[] | select(.name == $r) | .targets[0]'
}
metrics() { curl -sS "http://$METRICS/metrics"; }

@test "a site that goes offline takes its targets down at once, with the reason; back when it returns" {
  start origin python3 "$T/h.py" echo-origin inside "$T/origin.log"
  O=$ADDR
  edge_and_site
  peerctl --dir "$T" resource add app --host app.test --target "homelab:$O" >/dev/null
  edged_config
  edged_start
  served() { [ "$(code_of "http://$HTTP/" -H 'Host: app.test')" = 200 ]; }
  wait_for served
  [ "$(target app | jq .up)" = true ]
  [ "$(target app | jq .site_up)" = true ]
  [ "$(ctl '{"op":"status"}' | jq -c .tunneld.sites)" = '{"homelab":"online"}' ]
  metrics | grep -qx 'edged_site_online{site="homelab"} 1'
  reached=$(wc -l <"$T/origin.log")

  # The site process dies: edged's view follows within a second, measured from the kill.
  ms=$(python3 - "$SITE_PID" "$T/run/edged.sock" <<'PY'
import json, os, signal, socket, sys, time
def routes():
    s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[2])
    s.sendall(b'{"op":"routes"}\n'); out = b''
    while not out.endswith(b'\n'):
        d = s.recv(1 << 20)
        if not d: break
        out += d
    s.close()
    return json.loads(out)
t0 = time.monotonic()
os.kill(int(sys.argv[1]), signal.SIGKILL)
while time.monotonic() - t0 < 5:
    t = routes()['routes'][0]['targets'][0]
    if not t['up'] and t.get('reason') == 'site homelab offline':
        print(int((time.monotonic() - t0) * 1000)); sys.exit(0)
    time.sleep(0.02)
print('still up after 5 s:', t); sys.exit(1)
PY
  )
  echo "# target down ${ms} ms after the kill" >&3
  [ "$ms" -lt 1000 ]
  wait "$SITE_PID" 2>/dev/null || true
  t=$(target app)
  [ "$(jq .up <<<"$t")" = false ]
  [ "$(jq .site_up <<<"$t")" = false ]
  [ "$(jq -r .reason <<<"$t")" = "site homelab offline" ]
  [ "$(ctl '{"op":"status"}' | jq -c '[.targets_down, .tunneld.reachable, .tunneld.sites]')" = \
    '[1,true,{"homelab":"offline"}]' ]
  m=$(metrics)
  grep -qx "edged_target_up{route=\"app\",target=\"site://homelab/$O\"} 0" <<<"$m"
  grep -qx "edged_target_down{route=\"app\",target=\"site://homelab/$O\",reason=\"site\"} 1" <<<"$m"
  grep -qx 'edged_site_online{site="homelab"} 0' <<<"$m"
  grep -qx 'edged_tunneld_up 1' <<<"$m"
  run peerctl --dir "$T" status --json
  [ "$status" -eq 0 ]
  [ "$(jq -c '.resources[] | select(.name == "app") | .targets[0] | [.up, .reason]' <<<"$output")" = \
    '[false,"site homelab offline"]' ]
  run peerctl --dir "$T" status
  [[ "$output" == *"-> site://homelab/$O  down (site homelab offline)"* ]]

  # A request is answered at once, says why, and nothing reaches the origin.
  run curl -sS -m 2 -w ' %{http_code}' -H 'Host: app.test' "http://$HTTP/"
  [[ "$output" == *"site homelab offline"*" 503" ]]
  [ "$(wc -l <"$T/origin.log")" -eq "$reached" ]
  # edged did not even try: no connect to the site failed.
  grep -qx "edged_target_failures_total{route=\"app\",target=\"site://homelab/$O\"} 0" <<<"$(metrics)"

  # The site returns: the target is up again without a request having to fail first.
  site_start
  target_up() { [ "$(target app | jq .up)" = true ]; }
  wait_for target_up
  [ "$(target app | jq 'has("reason")')" = false ]
  run curl -sS -m 5 -o /dev/null -w '%{http_code}' -H 'Host: app.test' "http://$HTTP/"
  [ "$output" = 200 ]
  [ "$(wc -l <"$T/origin.log")" -eq $((reached + 1)) ]
  m=$(metrics)
  grep -qx "edged_target_failures_total{route=\"app\",target=\"site://homelab/$O\"} 0" <<<"$m"
  grep -qx 'edged_site_online{site="homelab"} 1' <<<"$m"
  ! grep -q '^edged_target_down{' <<<"$m"
  grep -q 'event=site_targets_down site=homelab state=offline targets=1' "$T/edged.err"
  grep -q 'event=site_targets_up site=homelab targets=1' "$T/edged.err"
}

@test "without tunneld, targets behind a site stay up (dial says why) and status says tunneld is unreachable" {
  start origin python3 "$T/h.py" echo-origin inside "$T/origin.log"
  O=$ADDR
  peerctl --dir "$T" site add homelab --edge 127.0.0.1:9 >/dev/null
  peerctl --dir "$T" resource add app --host app.test --target "homelab:$O" >/dev/null
  edged_config
  edged_start
  unreachable() { [ "$(ctl '{"op":"status"}' | jq .tunneld.reachable)" = false ]; }
  wait_for unreachable
  [[ "$(ctl '{"op":"status"}' | jq -r .tunneld.error)" == "tunneld unreachable: $T/run/tunneld.sock: "* ]]
  [ "$(target app | jq -c '[.up, .site_up]')" = '[true,true]' ]
  metrics | grep -qx 'edged_tunneld_up 0'
  run curl -sS -m 5 -w ' %{http_code}' -H 'Host: app.test' "http://$HTTP/"
  [[ "$output" == *"tunneld"*" 502" ]]
  grep -q 'event=tunneld_unreachable' "$T/edged.err"
  [ ! -e "$T/origin.log" ]
}

@test "a store file replaced under a running edged (a backup restored) is noticed and reopened" {
  origin a --reply from-a
  A=$ADDR
  origin b --reply from-b
  B=$ADDR
  peerctl --dir "$T" resource add app --host app.test --target "$A" >/dev/null
  edged_config
  edged_start
  run curl -sS -H 'Host: app.test' "http://$HTTP/"
  [ "$output" = from-a ]
  [ "$(code_of "http://$HTTP/" -H 'Host: fresh.test')" != 200 ]
  # The replacement: a consistent copy, changed with peerctl pointed at the copy's directory.
  mkdir "$T/copy"
  sqlite3 "$T/warren.db" ".backup '$T/copy/warren.db'"
  peerctl --dir "$T/copy" resource add fresh --host fresh.test --target "$B" >/dev/null
  peerctl --dir "$T/copy" resource remove app >/dev/null
  [ ! -e "$T/copy/warren.db-wal" ]
  # Renamed over the live file, the old file's WAL and shared-memory files left beside it: edged
  # empties that log before it lets go of the old file, so the new one is read as it is.
  mv "$T/copy/warren.db" "$T/warren.db"
  fresh() { [ "$(curl -sS -H 'Host: fresh.test' "http://$HTTP/")" = from-b ]; }
  wait_for fresh
  [ "$(code_of "http://$HTTP/" -H 'Host: app.test')" != 200 ]
  grep -q "event=store_replaced path=$T/warren.db" "$T/edged.err"
  [ "$(ctl '{"op":"routes"}' | jq -r '[.routes[].name] | join(" ")')" = fresh ]
  # Later changes to the new file are followed as before (the poll watches the new file).
  peerctl --dir "$T" resource add later --host later.test --target "$A" >/dev/null
  later() { [ "$(curl -sS -H 'Host: later.test' "http://$HTTP/")" = from-a ]; }
  wait_for later
  # The -wal and -shm removed under the live file (an administrator tidying up after the move;
  # commits not yet checkpointed are lost with them): peerctl's next change goes to a log of its
  # own, and edged reopens and serves what the path holds, not what its orphaned log held.
  rm -f "$T/warren.db-wal" "$T/warren.db-shm"
  peerctl --dir "$T" resource add tidy --host tidy.test --target "$B" >/dev/null
  tidy() { [ "$(curl -sS -H 'Host: tidy.test' "http://$HTTP/")" = from-b ]; }
  wait_for tidy
  local stored served
  stored=$(peerctl --dir "$T" resource list --json | jq -rs '[.[].name] | sort | join(" ")')
  served=$(ctl '{"op":"routes"}' | jq -r '[.routes[].name] | sort | join(" ")')
  [ "$served" = "$stored" ]
  [[ " $served " == *" tidy "* ]]
}
