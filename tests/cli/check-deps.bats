#!/usr/bin/env bats
# scripts/check-deps: the folder graph of lib/ passes on the tree, and a cycle, a forbidden
# folder arrow or a forbidden system header in a temporary root fails with one line each.

setup() {
  REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
  T=$(mktemp -d "${TMPDIR:-/tmp}/warren-deps-test.XXXXXX")
  mkdir -p "$T/doc" "$T/lib/core" "$T/lib/store" "$T/lib/log" "$T/lib/a" "$T/lib/b" \
    "$T/lib/tunnel/proto" "$T/cmd/x"
  cp "$REPO/doc/ARCHITECTURE" "$T/doc/"
  echo '#pragma once' >"$T/lib/core/core.h"
  echo '#include "core/core.h"' >"$T/lib/store/store.h"
  echo '#pragma once' >"$T/lib/log/log.h"
  echo '#include "core/core.h"' >"$T/lib/a/a.h"
  echo '#include "a/a.h"' >"$T/lib/b/b.h"
  echo '#include "core/core.h"' >"$T/lib/tunnel/proto/frames.h"
  echo '#include "tunnel/proto/frames.h"' >"$T/lib/tunnel/tunnel.h"
  touch "$T/cmd/x/x.h"
}

teardown() {
  rm -rf "$T"
}

@test "the tree has no folder cycle and no forbidden arrow" {
  run "$REPO/scripts/check-deps"
  [ "$status" -eq 0 ]
  [[ "$output" == *"core"* ]]
  [[ "${lines[-1]}" == "check-deps: "*" folders, "*" arrows, no cycle, "*" rules kept" ]]
}

@test "a clean root passes and prints its graph" {
  run "$REPO/scripts/check-deps" --root "$T"
  [ "$status" -eq 0 ]
  [[ "$output" == *$'\nb -> a\n'* ]]
  [[ "$output" == *$'\ntunnel -> tunnel/proto\n'* ]]
}

@test "a cycle fails with its path" {
  echo '#include "b/b.h"' >>"$T/lib/a/a.h"
  run "$REPO/scripts/check-deps" --root "$T"
  [ "$status" -eq 1 ]
  [[ "$output" == *"check-deps: cycle: a -> b -> a"* ]]
}

@test "forbidden arrows fail with the file, line and reason" {
  echo '#include "log/log.h"' >>"$T/lib/store/store.h"
  echo '#include "../../cmd/x/x.h"' >>"$T/lib/a/a.h"
  printf '#include <boost/asio/ip/tcp.hpp>\n' >>"$T/lib/tunnel/proto/frames.h"
  run "$REPO/scripts/check-deps" --root "$T"
  [ "$status" -eq 1 ]
  [[ "$output" == *"check-deps: forbidden: store -> log (lib/store/store.h:2): "* ]]
  [[ "$output" == *"check-deps: forbidden: a -> cmd (lib/a/a.h:2): "* ]]
  [[ "$output" == *"check-deps: forbidden: tunnel/proto -> <boost/asio/ip/tcp.hpp> (lib/tunnel/proto/frames.h:2): "* ]]
}

@test "no rules is an error (66)" {
  echo "nothing here" >"$T/doc/ARCHITECTURE"
  run "$REPO/scripts/check-deps" --root "$T"
  [ "$status" -eq 66 ]
  [ "$output" = "check-deps: doc/ARCHITECTURE: no rules (indented lines FROM -/-> TO)" ]
}
