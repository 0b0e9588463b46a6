#!/bin/bash
# The cost of edged's access control, measured in one run (issue 4):
#  1. wrk through a session-authenticated route (password resource, warren_session cookie)
#     versus the same origin behind a public route: RPS, p50/p99, edged CPU per request, side by
#     side, and the ratio (goal: the access check costs <= 5% of RPS);
#  2. one argon2id login check: LOGINS sequential portal logins with curl (time_total each),
#     next to the same round trip for the login page (no hashing); ms per check (goal 50-250 ms);
#  3. logins do not starve proxying: wrk on the public route alone, then again while BURST
#     clients log in back to back for the whole run; RPS during vs before, logins completed.
#
# Layout as scripts/bench/edged.sh (LAYOUT=pinned, the default): the origin (netbench serve, one
# thread) and edged (one I/O thread; its hashing pool is [auth] threads, default 2) share CPU 0,
# wrk and curl run on CPU 1. LAYOUT=shared: nothing pinned, edged gets 2 I/O threads.
# 4. with BASE=DIR (the bin directory of an earlier build, e.g. of the previous commit in a git
#    worktree), that edged (with its own store, made by its own peerctl) serves the same public
#    route in the same interleaved rounds: public RPS of this build against it (goal: >= 0.98).
# Knobs: BUILD (build dir), RUNS (rounds, default 3; medians are printed), DUR (seconds per wrk
# run, default 5), CONNS (wrk connections, default 64), LOGINS (sequential logins, default 10),
# BURST (concurrent login clients, default 20), PROFILE=1 (perf record edged during one
# authenticated wrk run and print the top symbols).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@" # `make bench` runs scripts with sh
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
B=$PWD/$BUILD/bin
RUNS=${RUNS:-3}
DUR=${DUR:-5}
CONNS=${CONNS:-64}
LAYOUT=${LAYOUT:-pinned}
LOGINS=${LOGINS:-10}
BURST=${BURST:-20}
PROFILE=${PROFILE:-0}
NPROC=$(nproc)
PASSWORD='bench-password-1'

for p in edged netbench peerctl cactl; do
  [ -x "$B/$p" ] || { echo "edged-auth.sh: $B/$p missing (make BUILD=$BUILD)" >&2; exit 66; }
done
if ! command -v wrk >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "edged-auth.sh: installing wrk" >&2
  (apt-get install -y -q wrk >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q wrk >/dev/null 2>&1; }) || true
fi
command -v wrk >/dev/null || { echo "edged-auth.sh: wrk is not installed" >&2; exit 69; }
command -v curl >/dev/null || { echo "edged-auth.sh: curl is not installed" >&2; exit 69; }

. scripts/bench/common.sh
bench_tmp edged-auth
export WARREN_DIR=$T
bench_layout

# The origin: netbench serve, one thread.
$SRV "$B/netbench" serve --listen 127.0.0.1:0 --threads 1 --reply hello >"$T/origin.out" 2>"$T/origin.err" &
PIDS="$PIDS $!"
for i in $(seq 1 100); do [ -s "$T/origin.out" ] && break; sleep 0.05; done
ORIGIN=$(head -1 "$T/origin.out")
[ -n "$ORIGIN" ] || { echo "edged-auth.sh: origin did not start" >&2; cat "$T/origin.err" >&2; exit 69; }

# Two store resources in front of the same origin: pub.test public, app.test password-protected.
"$B/cactl" --dir "$T" init --no-passphrase >/dev/null 2>&1
"$B/peerctl" --dir "$T" resource add pub --host pub.test --target "$ORIGIN" >/dev/null
"$B/peerctl" --dir "$T" resource add app --host app.test --target "$ORIGIN" >/dev/null
printf '%s\n' "$PASSWORD" | "$B/peerctl" --dir "$T" resource auth app --password-file - >/dev/null

# start_edged NAME [extra edged.toml lines] — edged on the store, pinned like the origin; sets
# HTTP and EDGED (pid). The second instance has no control socket (the first one owns it).
start_edged() {
  local name=$1 extra=${2:-}
  printf 'threads = %s\n%s\n[http]\nlisten = ["127.0.0.1:0"]\n[upstream]\npool_size = 256\n%s\n' \
    "$WORKERS" "$([ "$name" = edged ] || echo 'control_socket = ""')" "$extra" >"$T/$name.toml"
  $SRV "$B/edged" --dir "$T" -c "$T/$name.toml" -q >"$T/$name.out" 2>"$T/$name.err" &
  EDGED=$!
  PIDS="$PIDS $EDGED"
  for i in $(seq 1 100); do grep -q '^http ' "$T/$name.out" 2>/dev/null && break; sleep 0.05; done
  HTTP=$(sed -n 's/^http //p' "$T/$name.out" | head -1)
  [ -n "$HTTP" ] || { echo "edged-auth.sh: $name did not start" >&2; cat "$T/$name.err" >&2; exit 69; }
  for i in $(seq 1 100); do
    [ "$(curl -s -H 'Host: pub.test' "http://$HTTP/")" = hello ] && break
    sleep 0.05
  done
}
# A second edged on the same store and sessions, with audit rows kept out of the store, shows
# what the per-request audit write costs (every decision is audited by default).
start_edged edged-noaudit $'[auth]\naudit_store = false'
HTTP_NOAUDIT=$HTTP
EDGED_NOAUDIT=$EDGED
start_edged edged

# The earlier build (BASE): its own WARREN_DIR and store, the same origin and public route.
if [ -n "${BASE:-}" ]; then
  for p in edged peerctl; do
    [ -x "$BASE/$p" ] || { echo "edged-auth.sh: BASE=$BASE has no $p" >&2; exit 66; }
  done
  mkdir -p "$T/base"
  WARREN_DIR=$T/base "$BASE/peerctl" --dir "$T/base" resource add pub --host pub.test --target "$ORIGIN" >/dev/null
  WARREN_DIR=$T/base "$BASE/peerctl" --dir "$T/base" resource add app --host app.test --target "$ORIGIN" >/dev/null
  printf '%s\n' "$PASSWORD" | WARREN_DIR=$T/base "$BASE/peerctl" --dir "$T/base" resource auth app --password-file - >/dev/null
  printf 'threads = %s\n[http]\nlisten = ["127.0.0.1:0"]\n[upstream]\npool_size = 256\n' "$WORKERS" >"$T/base/edged.toml"
  WARREN_DIR=$T/base $SRV "$BASE/edged" --dir "$T/base" -c "$T/base/edged.toml" -q >"$T/base.out" 2>"$T/base.err" &
  EDGED_BASE=$!
  PIDS="$PIDS $EDGED_BASE"
  for i in $(seq 1 100); do grep -q '^http ' "$T/base.out" 2>/dev/null && break; sleep 0.05; done
  HTTP_BASE=$(sed -n 's/^http //p' "$T/base.out" | head -1)
  [ -n "$HTTP_BASE" ] || { echo "edged-auth.sh: the BASE edged did not start" >&2; cat "$T/base.err" >&2; exit 69; }
  for i in $(seq 1 100); do
    [ "$(curl -s -H 'Host: pub.test' "http://$HTTP_BASE/")" = hello ] && break
    sleep 0.05
  done
  BASE_COOKIE=$(curl -s -o /dev/null -D - -H 'Host: app.test' --data "method=password&password=$PASSWORD&rd=/" \
    "http://$HTTP_BASE/.warren/auth/login" | tr -d '\r' | sed -n 's/^Set-Cookie: \(warren_session=[^;]*\).*/\1/p' | head -1)
  [ "$(curl -s -H 'Host: app.test' -H "Cookie: $BASE_COOKIE" "http://$HTTP_BASE/")" = hello ] ||
    { echo "edged-auth.sh: no session on the BASE edged" >&2; exit 1; }
fi

# login -> "status seconds cookie" (one portal login with the password; curl's time_total).
login() {
  $CLI curl -s -o /dev/null -D "$T/login.$1.hdr" -w '%{http_code} %{time_total}' -H 'Host: app.test' \
    --data "method=password&password=$PASSWORD&rd=/" "http://$HTTP/.warren/auth/login"
  printf ' %s\n' "$(tr -d '\r' <"$T/login.$1.hdr" | sed -n 's/^Set-Cookie: \(warren_session=[^;]*\).*/\1/p' | head -1)"
}
read -r code secs COOKIE <<<"$(login 0)"
[ "$code" = 303 ] && [ -n "$COOKIE" ] || { echo "edged-auth.sh: login failed: HTTP $code" >&2; cat "$T/edged.err" >&2; exit 1; }
check_routes() {
  local a b c
  a=$(curl -s -H 'Host: pub.test' "http://$HTTP/")
  b=$(curl -s -H 'Host: app.test' -H "Cookie: $COOKIE" "http://$HTTP/")$(curl -s -H 'Host: app.test' -H "Cookie: $COOKIE" "http://$HTTP_NOAUDIT/")
  c=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: app.test' "http://$HTTP/")
  [ "$a" = hello ] && [ "$b" = hellohello ] && [ "$c" = 302 ] ||
    { echo "edged-auth.sh: routes misbehave: public='$a' session='$b' no-cookie=$c" >&2; exit 1; }
}
check_routes

# CPU seconds (utime+stime) of a process.
cpu_of() { awk '{print $14 + $15}' /proc/"$1"/stat; }

# run_wrk public|session|session-noaudit [seconds] -> "rps p50_ms p99_ms cpu_us_per_req errors"
run_wrk() {
  local d=${2:-$DUR} hdr=(-H 'Host: pub.test') addr=$HTTP pid=$EDGED
  [ "$1" = public ] || hdr=(-H 'Host: app.test' -H "Cookie: $COOKIE")
  [ "$1" = session-noaudit ] && { addr=$HTTP_NOAUDIT; pid=$EDGED_NOAUDIT; }
  [ "$1" = public-base ] && { hdr=(-H 'Host: pub.test'); addr=$HTTP_BASE; pid=$EDGED_BASE; }
  [ "$1" = session-base ] && { hdr=(-H 'Host: app.test' -H "Cookie: $BASE_COOKIE"); addr=$HTTP_BASE; pid=$EDGED_BASE; }
  local c0 c1
  c0=$(cpu_of "$pid")
  $CLI wrk -t1 -c"$CONNS" -d"${d}s" --latency "${hdr[@]}" "http://$addr/" >"$T/wrk.txt" 2>&1 || true
  c1=$(cpu_of "$pid")
  awk -v c0="$c0" -v c1="$c1" -v hz="$(getconf CLK_TCK)" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    / 50%/ { p50 = ms($2) } / 99%/ { p99 = ms($2) }
    /^ *[0-9]+ requests in/ { n = $1 }
    /Non-2xx or 3xx/ { bad += $NF } /Socket errors/ { bad += 1 }
    /Requests\/sec/ { rps = $2 }
    END { cpu = (n > 0 && c1 > c0) ? (c1 - c0) / hz * 1e6 / n : 0; printf "%.0f %.2f %.2f %.1f %d\n", rps, p50, p99, cpu, bad }' "$T/wrk.txt"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
col() { awk -v i="$2" '{print $i}' "$1" | median; }

echo "edged-auth.sh: layout=$LAYOUT workers=$WORKERS runs=$RUNS dur=${DUR}s conns=$CONNS origin=netbench serve ($ORIGIN) edged=$HTTP" >&2
echo "edged-auth.sh: versions: edged $("$B/edged" --version | cut -d' ' -f2), wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}'), $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)" >&2

# 1. session vs public, interleaved rounds (warm-up first, not counted).
ROUTES="public session session-noaudit"
[ -z "${BASE:-}" ] || ROUTES="$ROUTES public-base session-base"
for k in $ROUTES; do run_wrk "$k" 1 >/dev/null; done
for r in $(seq 1 "$RUNS"); do
  for k in $ROUTES; do run_wrk "$k" >>"$T/res.$k"; done
  echo "edged-auth.sh: round $r of $RUNS done" >&2
done
check_routes
printf '\n%-16s %10s %8s %8s %10s %8s %8s\n' route rps p50_ms p99_ms cpu_us/req errors x_public
PUB=$(col "$T/res.public" 1)
for k in $ROUTES; do
  printf '%-16s %10.0f %8.2f %8.2f %10.1f %8.0f %8.3f\n' "$k" "$(col "$T/res.$k" 1)" "$(col "$T/res.$k" 2)" \
    "$(col "$T/res.$k" 3)" "$(col "$T/res.$k" 4)" "$(awk '{s += $5} END {print s + 0}' "$T/res.$k")" \
    "$(awk -v a="$(col "$T/res.$k" 1)" -v b="$PUB" 'BEGIN { print a / b }')"
done
awk -v p="$PUB" -v s="$(col "$T/res.session" 1)" -v n="$(col "$T/res.session-noaudit" 1)" 'BEGIN {
  printf "session/public RPS ratio %.3f: the access check costs %.1f%% of RPS (goal <= 5%%)\n", s / p, (1 - s / p) * 100
  printf "without the audit row in the store per request: %.3f (%.1f%%)\n", n / p, (1 - n / p) * 100 }'
if [ -n "${BASE:-}" ]; then
  awk -v p="$PUB" -v b="$(col "$T/res.public-base" 1)" -v d="$BASE" 'BEGIN {
    printf "public RPS against the build in %s: %.3f (goal >= 0.98)\n", d, p / b }'
  awk -v p="$(col "$T/res.session" 1)" -v b="$(col "$T/res.session-base" 1)" -v pb="$(col "$T/res.public-base" 1)" 'BEGIN {
    printf "session RPS against it: %.3f; its own session/public ratio %.3f\n", p / b, b / pb }'
fi

if [ "$PROFILE" = 1 ] && command -v perf >/dev/null; then
  perf record -q -p "$EDGED" -o "$T/perf.data" -- sleep "$DUR" >/dev/null 2>&1 &
  PERF=$!
  run_wrk session >/dev/null
  wait "$PERF" 2>/dev/null || true
  echo
  echo "perf: edged during an authenticated run, top symbols (self):"
  perf report -i "$T/perf.data" --no-children --stdio --percent-limit 1.5 2>/dev/null |
    grep -E '^ +[0-9.]+%' | head -25
  echo "perf: the same samples by thread (I/O worker, store writer, ...) and library:"
  perf report -i "$T/perf.data" --no-children --stdio -g none --sort pid,dso --percent-limit 2 2>/dev/null |
    grep -E '^ +[0-9.]+%' | head -12
fi

# 2. one argon2id login check, sequentially; the login page (same round trip, no hash) beside it.
# Per-thread CPU ticks of edged, before and after: the threads that did the hashing.
thread_ticks() { for t in /proc/"$EDGED"/task/*; do echo "${t##*/} $(awk '{print $14 + $15}' "$t/stat")"; done; }
thread_ticks >"$T/ticks.0"
for i in $(seq 1 "$LOGINS"); do
  read -r code secs _ <<<"$(login "s$i")"
  [ "$code" = 303 ] || { echo "edged-auth.sh: login $i: HTTP $code" >&2; exit 1; }
  echo "$secs" >>"$T/login.secs"
  $CLI curl -s -o /dev/null -w '%{time_total}\n' -H 'Host: app.test' "http://$HTTP/.warren/auth/login?rd=/" >>"$T/page.secs"
done
thread_ticks >"$T/ticks.1"
HASHERS=$(join "$T/ticks.0" "$T/ticks.1" | awk '{ d[$1] = $3 - $2; if (d[$1] > m) m = d[$1] }
  END { for (t in d) if (m > 0 && d[t] >= m * 0.3) print t }' | tr '\n' ' ')
LMS=$(median <"$T/login.secs" | awk '{printf "%.1f", $1 * 1000}')
PMS=$(median <"$T/page.secs" | awk '{printf "%.2f", $1 * 1000}')
printf '\nlogin: %d sequential password logins, median %s ms each (min %s, max %s); login page round trip %s ms\n' \
  "$LOGINS" "$LMS" "$(sort -g "$T/login.secs" | head -1 | awk '{printf "%.1f", $1 * 1000}')" \
  "$(sort -g "$T/login.secs" | tail -1 | awk '{printf "%.1f", $1 * 1000}')" "$PMS"
awk -v l="$LMS" -v p="$PMS" 'BEGIN { printf "argon2id check: ~%.0f ms per login (goal 50-250 ms)\n", l - p }'

# 3. proxying during a burst of logins: public wrk alone, then again with BURST clients logging
#    in back to back for the whole run. Then a what-if (not what edged does by itself): the same
#    with the hashing threads found above moved to SCHED_IDLE (chrt -i), as a patch could do.
BD=$((DUR + 1))
burst() { # burst FILE — a public wrk run while BURST clients log in; logins go to FILE.logins
  local c bp=""
  rm -f "$T/stop"
  for c in $(seq 1 "$BURST"); do
    (
      while [ ! -e "$T/stop" ]; do
        $CLI curl -s -o /dev/null -m 30 -w '%{http_code} %{time_total}\n' -H 'Host: app.test' \
          --data "method=password&password=$PASSWORD&rd=/" "http://$HTTP/.warren/auth/login"
      done >"$T/burst.$c"
    ) &
    bp="$bp $!"
  done
  sleep 0.5
  run_wrk public "$BD" >"$1"
  touch "$T/stop"
  for c in $bp; do wait "$c" 2>/dev/null || true; done
  cat "$T"/burst.[0-9]* >"$1.logins"
  rm -f "$T"/burst.[0-9]*
}
run_wrk public "$BD" >"$T/burst.before"
burst "$T/burst.during"
IDLE_OK=0
if [ -n "$HASHERS" ] && command -v chrt >/dev/null; then
  IDLE_OK=1
  for t in $HASHERS; do chrt -i -p 0 "$t" 2>/dev/null || IDLE_OK=0; done
  [ "$IDLE_OK" = 1 ] && burst "$T/burst.idle"
fi
printf '\nburst: %d concurrent login clients during a %ds public wrk run (hashing threads: %s)\n' "$BURST" "$BD" "${HASHERS:-not found}"
printf '%-22s %10s %8s %8s %8s %8s %9s\n' public rps p50_ms p99_ms x_before logins login_ms
row() {
  local name=$1 f=$2 rps p50 p99 _
  read -r rps p50 p99 _ <"$f"
  printf '%-22s %10.0f %8.2f %8.2f %8.2f %s\n' "$name" "$rps" "$p50" "$p99" \
    "$(awk -v a="$rps" -v b="$(cut -d' ' -f1 "$T/burst.before")" 'BEGIN { print a / b }')" \
    "$([ -f "$f.logins" ] && awk '{ n++; if ($1 == 303) ok++; t += $2 }
      END { printf "%8s %9.0f", ok + 0 "/" n + 0, n ? t / n * 1000 : 0 }' "$f.logins" || printf '%8s %9s' - -)"
}
row before "$T/burst.before"
row "during logins" "$T/burst.during"
[ "$IDLE_OK" = 1 ] && row "during, pool SCHED_IDLE" "$T/burst.idle"
exit 0
