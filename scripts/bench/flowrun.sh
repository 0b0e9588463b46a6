#!/bin/sh
# scripts/bench/flowrun.sh — how fast flowrun loads, validates and runs workflows.
#
#   sh scripts/bench/flowrun.sh            (from the repo root; BUILD=build by default)
#   BUILD=build-foo N=10000 V=100000 E=200 R=5 PIN=no sh scripts/bench/flowrun.sh
#
# In a temporary WARREN_DIR (removed on exit), with a flowrun.toml raising the size limits:
#   (a) engine overhead per node: an N-node chain (a number, then N-1 visualization nodes each
#       passing its input on) and an N-node fan-out (one number feeding N-1 of them); the run
#       time the engine reports (flowrun -v: event=run_done duration_us=, load excluded) over
#       N, best and median of R runs, and the whole process time (load + run) per node;
#   (b) end to end: E runs of `flowrun run --no-record` on a 3-node workflow (10 + 5 -> add),
#       process start to exit, next to E runs of `flowrun --version` (start-up alone) and of
#       /bin/true; also E runs recording each run in the store (the default);
#   (c) `flowrun validate` of a V-node chain: wall time, best and median of R runs, and CPU.
# Timed commands run under `taskset -c 0` when taskset exists (PIN=no: not pinned); other work on
# that core inflates wall time, so the load average and CPU times are printed. The goals (< 2 us per node, < 5 ms end to end,
# < 500 ms to validate 100 000 nodes) are printed with PASS or MISS, not enforced: the exit
# status is 0 unless a step fails outright.
set -eu

prog=flowrun.sh
N=${N:-10000}
V=${V:-100000}
E=${E:-200}
R=${R:-5}
BUILD=${BUILD:-build}

step() { echo "$prog: $*" >&2; } # progress on stderr; the report goes to stdout

for v in N V E R; do
	eval "val=\$$v"
	case $val in
	'' | *[!0-9]* | 0) echo "$prog: $v must be a positive integer, got \"$val\"" >&2; exit 64 ;;
	esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
case $BUILD in
/*) ;;
*) if [ -d "$BUILD" ]; then BUILD=$(cd "$BUILD" && pwd); else BUILD=$root/$BUILD; fi ;;
esac
FLOWRUN=$BUILD/bin/flowrun
if [ ! -x "$FLOWRUN" ]; then
	echo "$prog: $FLOWRUN: not found (build it: make BUILD=${BUILD#"$root"/} ${FLOWRUN#"$root"/})" >&2
	exit 66
fi
command -v python3 >/dev/null 2>&1 || { echo "$prog: python3: not found" >&2; exit 69; }

# PIN=no runs unpinned (better on a machine shared with other work).
pinned="not pinned"
if [ "${PIN:-yes}" = no ]; then
	PIN=
elif command -v taskset >/dev/null 2>&1 && taskset -c 0 true 2>/dev/null; then
	PIN="taskset -c 0"
	pinned="pinned to CPU 0 with taskset"
else
	PIN=
	pinned="not pinned (no taskset)"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/flowrun-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
export WARREN_DIR="$tmp/dir"
mkdir -p "$WARREN_DIR"
cat >"$tmp/big.toml" <<EOF
[limits]
max_nodes = $((V > N ? V + 1 : N + 1))
max_edges = $((V > N ? V + 1 : N + 1))
max_payload_bytes = 268435456
max_node_executions = 100000000
EOF

step "generating workflows (N=$N, V=$V)"
python3 - "$tmp" "$N" "$V" <<'PY'
import json, sys
d, n, v = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def chain(k):
    nodes = [{"id": "n0", "data": {"value": 1}}] + \
            [{"id": "n%d" % i, "type": "visualization", "data": {}} for i in range(1, k)]
    edges = [{"source": "n%d" % (i - 1), "target": "n%d" % i} for i in range(1, k)]
    return {"nodes": nodes, "edges": edges}
def wide(k):
    nodes = [{"id": "root", "data": {"value": 1}}] + \
            [{"id": "w%07d" % i, "type": "visualization", "data": {}} for i in range(1, k)]
    edges = [{"source": "root", "target": "w%07d" % i} for i in range(1, k)]
    return {"nodes": nodes, "edges": edges}
json.dump(chain(n), open(d + "/chain.json", "w"))
json.dump(wide(n), open(d + "/wide.json", "w"))
json.dump(chain(v), open(d + "/validate.json", "w"))
json.dump({"nodes": [{"id": "a", "data": {"value": 10}}, {"id": "b", "data": {"value": 5}},
                     {"id": "c", "data": {"op": "add"}}],
           "edges": [{"source": "a", "target": "c"}, {"source": "b", "target": "c"}]},
          open(d + "/trivial.json", "w"))
PY

step "timing: engine R=$R runs per graph, end to end E=$E runs per command, validate R=$R runs"
python3 - "$tmp" "$FLOWRUN" "$N" "$V" "$E" "$R" "$pinned" ${PIN:+$PIN} <<'PY'
import os, re, statistics, subprocess, sys, time
d, flowrun, n, v, e, r, pinned = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
pin = sys.argv[8:]
big = ["--config", d + "/big.toml"]

def timed(cmd, runs, check=True):
    """wall ms of each run, and the CPU ms (user+sys of the child) of each run"""
    wall, cpu, outs = [], [], []
    for _ in range(runs):
        before = os.times()
        t = time.perf_counter()
        p = subprocess.run(pin + cmd, capture_output=True, text=True)
        wall.append((time.perf_counter() - t) * 1000)
        after = os.times()
        cpu.append(((after.children_user - before.children_user) + (after.children_system - before.children_system)) * 1000)
        if check and p.returncode != 0:
            sys.exit("flowrun.sh: failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr))
        outs.append(p)
    return wall, cpu, outs

def engine(name):
    wall, cpu, outs = timed([flowrun] + big + ["-v", "run", "--no-record", d + "/" + name + ".json"], r)
    us = []
    for p in outs:
        m = re.search(r"event=run_done .*duration_us=(\d+)", p.stderr)
        if not m:
            sys.exit("flowrun.sh: no run_done in the log:\n" + p.stderr)
        us.append(int(m.group(1)))
    return us, wall

chain_us, chain_wall = engine("chain")
wide_us, wide_wall = engine("wide")
true_ms, _, _ = timed(["/bin/true"], e)
ver_ms, _, _ = timed([flowrun, "--version"], e)
triv_ms, _, outs = timed([flowrun, "run", "--no-record", d + "/trivial.json"], e)
if outs[0].stdout != "15\n":
    sys.exit("flowrun.sh: trivial workflow printed %r" % outs[0].stdout)
rec_ms, _, _ = timed([flowrun, "run", d + "/trivial.json"], e)
val_ms, val_cpu, _ = timed([flowrun] + big + ["validate", d + "/validate.json"], r)
hist = subprocess.run([flowrun, "--json", "history", "--limit", "0"], capture_output=True, text=True).stdout

med = statistics.median
def per(us): return us / n
def verdict(x, goal): return "PASS" if x < goal else "MISS"
load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else ["?"]
print("flowrun benchmark (%s, %s CPUs, %s, load average %s)" % (os.uname().machine, os.cpu_count(), pinned, " ".join(load)))
print("flowrun: %s" % flowrun)
print()
row = "%-46s %10s %10s %12s"
print(row % ("measure", "best", "median", "goal"))
print(row % ("engine, %d-node chain (us/node)" % n, "%.3f" % per(min(chain_us)), "%.3f" % per(med(chain_us)), "< 2 " + verdict(per(med(chain_us)), 2)))
print(row % ("engine, %d-node fan-out (us/node)" % n, "%.3f" % per(min(wide_us)), "%.3f" % per(med(wide_us)), "< 2 " + verdict(per(med(wide_us)), 2)))
print(row % ("  whole process incl. load, chain (ms)", "%.1f" % min(chain_wall), "%.1f" % med(chain_wall), ""))
print(row % ("  whole process incl. load, fan-out (ms)", "%.1f" % min(wide_wall), "%.1f" % med(wide_wall), ""))
print(row % ("end to end, 3-node workflow (ms)", "%.2f" % min(triv_ms), "%.2f" % med(triv_ms), "< 5 " + verdict(med(triv_ms), 5)))
print(row % ("  ... recorded in the store (ms)", "%.2f" % min(rec_ms), "%.2f" % med(rec_ms), ""))
print(row % ("  flowrun --version: start-up only (ms)", "%.2f" % min(ver_ms), "%.2f" % med(ver_ms), ""))
print(row % ("  /bin/true: process creation (ms)", "%.2f" % min(true_ms), "%.2f" % med(true_ms), ""))
print(row % ("validate, %d-node chain (ms, wall)" % v, "%.0f" % min(val_ms), "%.0f" % med(val_ms), "< 500 " + verdict(med(val_ms), 500)))
print(row % ("validate, %d-node chain (ms, user+sys)" % v, "%.0f" % min(val_cpu), "%.0f" % med(val_cpu), "< 500 " + verdict(med(val_cpu), 500)))
print()
print("runs recorded in the store: %d (expected %d)" % (len(hist.splitlines()), e))
PY
