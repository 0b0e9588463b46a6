# Shared by the tunneld*.bats suites (loaded with `load tunneld-common`): a free TCP port on
# 127.0.0.1, waiting for a listener, and an edge ($E) and sites started in the background with
# their pids in $TD/pids and logs in $TD, queried over their control sockets.

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_listen() { # PORT [udp]
  for _ in $(seq 1 100); do
    if [ "${2:-}" = udp ]; then
      ss -Hlun "sport = :$1" | grep -q . && return 0
    else
      ss -Hltn "sport = :$1" | grep -q LISTEN && return 0
    fi
    sleep 0.05
  done
  return 1
}

site_timers() { # FILE: short timers for tests, appended to the [site] table
  printf 'reconnect_min = "50ms"\nreconnect_max = "400ms"\nconnect_timeout = "2s"\n' >> "$1"
}

start_edge() {
  (tunneld --dir "$E" -v >>"$TD/edge.log" 2>&1 3>&- & echo $! > "$TD/pids/edge")
  for _ in $(seq 1 100); do
    [ -S "$E/run/tunneld.sock" ] && edge_status >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  return 1
}

start_site() { # DIR NAME
  (tunneld --dir "$1" -v >>"$TD/$2.log" 2>&1 3>&- & echo $! > "$TD/pids/$2")
}

call() { # SOCKET JSON -> reply line
  printf '%s\n' "$2" | socat -t 3 - UNIX-CONNECT:"$1"
}

edge_status() { call "$E/run/tunneld.sock" '{"op":"status"}'; }

site_field() { # SITE FIELD
  edge_status | jq -r --arg s "$1" ".sites[] | select(.name == \$s) | .$2"
}

wait_online() { # SITE [true|false] [tries]
  local want=${2:-true}
  for _ in $(seq 1 "${3:-100}"); do
    [ "$(site_field "$1" online)" = "$want" ] && return 0
    sleep 0.05
  done
  echo "site $1 online != $want; edge log:" >&2
  tail -20 "$TD/edge.log" >&2
  return 1
}

# wait_log PATTERN FILE [tries]: waits (<= tries x 50 ms) for an extended regex in a log.
wait_log() {
  for _ in $(seq 1 "${3:-100}"); do
    grep -Eq "$1" "$2" && return 0
    sleep 0.05
  done
  echo "no line matching $1 in $2" >&2
  return 1
}

# wait_gone PID: waits (<= 5 s) until the process is gone.
wait_gone() {
  for _ in $(seq 1 100); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.05
  done
  return 1
}

make_dirs() { # NAME: REPO, BIN (from $BUILD) first on PATH, a fresh $TD with $E, $S and $TD/pids
  REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
  case ${BUILD:-build} in
  /*) BIN=${BUILD}/bin ;;
  *) BIN=$REPO/${BUILD:-build}/bin ;;
  esac
  export REPO BIN PATH="$BIN:$PATH"
  TD=$(mktemp -d "${TMPDIR:-/tmp}/warren-$1.XXXXXX")
  export TD E=$TD/edge S=$TD/site
  mkdir -p "$E" "$S" "$TD/pids"
}

start_edge_pinned() { # starts the edge ($E/tunneld.toml listens on port 0), exports EDGE_ADDR and
  # writes the address it got back into the file, so restarts come back on it
  start_edge || return 1
  EDGE_ADDR=$(edge_status | jq -r .listen)
  export EDGE_ADDR
  sed -i "s/^listen = .*/listen = \"$EDGE_ADDR\"/" "$E/tunneld.toml"
}

kill_all() { # kills every process of $TD/pids and removes $TD (kept with KEEP_TD=1)
  for f in "$TD"/pids/*; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  [ -n "${KEEP_TD:-}" ] || rm -rf "$TD"
}
