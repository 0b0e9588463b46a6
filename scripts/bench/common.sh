# Shared by the edged benchmarks (sourced): a temp dir whose processes are stopped and which
# is removed on exit, and the CPU layout.
#   bench_tmp NAME  sets T (the dir) and PIDS (add background PIDs to it); traps EXIT INT TERM.
#   bench_layout    from LAYOUT and NPROC: "pinned" (servers on CPU 0, clients on CPU 1) sets
#                   SRV="taskset -c 0", CLI="taskset -c 1", WORKERS=1; else no pinning,
#                   WORKERS=2.

bench_tmp() {
  T=$(mktemp -d "/tmp/warren-bench-$1.XXXXXX")
  PIDS=""
  trap bench_cleanup EXIT INT TERM
}

bench_cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}

bench_layout() {
  if [ "$LAYOUT" = pinned ] && [ "$NPROC" -ge 2 ]; then
    SRV="taskset -c 0"
    CLI="taskset -c 1"
    WORKERS=1
  else
    SRV=""
    CLI=""
    WORKERS=2
  fi
}
