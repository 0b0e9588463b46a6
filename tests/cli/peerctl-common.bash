# Shared set-up for the peerctl noun suites (loaded with `load peerctl-common`): PATH to the
# built binaries, a temp WARREN_DIR, and helpers for the store, JSON lines and exact failures.

setup() {
  REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
  case ${BUILD:-build} in
  /*) BIN=${BUILD}/bin ;;
  *) BIN=$REPO/${BUILD:-build}/bin ;;
  esac
  export PATH="$BIN:$PATH"
  T=$(mktemp -d "${TMPDIR:-/tmp}/warren-peerctl-nouns.XXXXXX")
  export WARREN_DIR=$T/w
  mkdir -p "$WARREN_DIR"
  cd "$T"
}

teardown() {
  rm -rf "$T"
}

# db SQL — runs SQL on the store with the sqlite3 CLI.
db() { sqlite3 "$WARREN_DIR/warren.db" "$@"; }

# json_lines — every line of $output is one JSON object.
json_lines() {
  [ -n "$output" ]
  printf '%s\n' "$output" | jq -e -s 'all(type == "object")' >/dev/null
}

# fails CODE MESSAGE CMD... — CMD exits CODE and prints exactly "peerctl: MESSAGE".
fails() {
  local code=$1 msg=$2
  shift 2
  run "$@"
  [ "$status" -eq "$code" ] || { echo "status $status: $output" >&2; return 1; }
  [ "$output" = "peerctl: $msg" ] || { echo "got: $output" >&2; return 1; }
}
