#!/usr/bin/env bats
# peerctl audit: filters (time, actor, action with a prefix, object, limit), JSON lines, the
# table, bad input, and --follow seeing a row committed by another peerctl, ending cleanly on
# SIGINT and SIGTERM.

load peerctl-common

FOLLOW=""

teardown() {
  [ -z "$FOLLOW" ] || kill "$FOLLOW" 2>/dev/null || true
  rm -rf "$T"
}

@test "audit lists rows oldest first, filters by actor, action prefix, object, time and limit" {
  peerctl resource add app --host app.example.com
  peerctl role add staff
  peerctl resource auth app --share-links
  db "INSERT INTO audit (ts, actor, action, object, detail) VALUES (1000, 'edged', 'access.allow', 'app', '{\"ip\":\"127.0.0.1\"}')"
  run peerctl audit
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 5 ]
  [[ "${lines[0]}" == "TIME"*"ACTOR"*"ACTION"*"OBJECT"*"DETAIL" ]]
  [[ "${lines[1]}" == *"peerctl:$(id -un)  resource.add "*"app "* ]]
  [[ "${lines[4]}" == "1970-01-01T00:16:40Z  edged "*"access.allow "*'{"ip":"127.0.0.1"}' ]]
  run peerctl --json audit list
  [ "${#lines[@]}" -eq 4 ]
  printf '%s\n' "$output" | jq -e -s 'all(.id > 0 and (.detail | type) == "object")' >/dev/null
  [ "$(printf '%s\n' "$output" | jq -r .action | tr '\n' ' ')" = "resource.add role.add resource.auth access.allow " ]
  run peerctl --json audit --action 'resource.*'
  [ "$(printf '%s\n' "$output" | jq -r .action | tr '\n' ' ')" = "resource.add resource.auth " ]
  run peerctl --json audit --actor edged
  [ "$(printf '%s\n' "$output" | jq -r .action)" = "access.allow" ]
  run peerctl --json audit --actor 'peerctl:*' --object staff
  [ "$(printf '%s\n' "$output" | jq -r .action)" = "role.add" ]
  run peerctl --json audit --until 1970-01-01T01:00:00Z
  [ "$(printf '%s\n' "$output" | jq -r .action)" = "access.allow" ]
  run peerctl --json audit --since 1h
  [ "${#lines[@]}" -eq 3 ]
  run peerctl --json audit --since 5000
  [ "${#lines[@]}" -eq 3 ]
  run peerctl --json audit --limit 2
  [ "$(printf '%s\n' "$output" | jq -r .action | tr '\n' ' ')" = "resource.auth access.allow " ]
  # names with LIKE wildcards match literally
  run peerctl --json audit --action 'resource_add'
  [ -z "$output" ]
  run peerctl audit --since yesterday
  [ "$status" -eq 65 ]
  [ "$output" = "peerctl: --since: 'yesterday': not a valid duration (e.g. 90s, 15m, 12h, 30d, 1w)" ]
  run peerctl audit --follow --until 1h
  [ "$status" -eq 64 ]
  WARREN_DIR=$T/none run peerctl audit
  [ "$status" -eq 66 ]
}

# stopped PID — true once PID has exited (waits <= 2 s); then reaps it into $st.
stopped() {
  local i
  for i in $(seq 1 40); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$1" 2>/dev/null; then return 1; fi
  st=0
  wait "$1" || st=$?
}

# follow_start OUT [options] — peerctl audit --follow in the background; waits for it to start.
follow_start() {
  local out=$1
  shift
  peerctl --json audit --follow "$@" >"$out" 2>"$out.err" &
  FOLLOW=$!
  sleep 0.3
}

@test "audit --follow prints new rows as they are committed and stops on SIGINT/SIGTERM" {
  peerctl role add first
  follow_start f1.out --limit 1
  peerctl role add second
  peerctl resource add app --host app.example.com
  local i
  for i in $(seq 1 50); do
    [ "$(wc -l <f1.out)" -ge 3 ] && break
    sleep 0.1
  done
  [ "$(jq -r .object f1.out | tr '\n' ' ')" = "first second app " ]
  kill -INT "$FOLLOW"
  stopped "$FOLLOW"
  [ "$st" -eq 0 ]
  [ ! -s f1.out.err ]
  # with a filter: only matching rows, the others still move the cursor; SIGTERM ends it
  follow_start f2.out --action 'role.*' --limit 0
  peerctl resource add web --host web.example.com
  peerctl role add third
  for i in $(seq 1 50); do
    grep -q third f2.out && break
    sleep 0.1
  done
  [ "$(jq -r .object f2.out | tr '\n' ' ')" = "first second third " ]
  kill -TERM "$FOLLOW"
  stopped "$FOLLOW"
  [ "$st" -eq 0 ]
  FOLLOW=""
}
