#!/usr/bin/env bats
# peerctl status, dump, apply/export and live completion against a real store in a temp
# WARREN_DIR: golden output (WARREN_FAKE_NOW), JSON validity, apply idempotence, export | apply
# round trip, --dry-run and bad blueprints write nothing; then live daemons: status from the
# sockets, and concurrent peerctl writers against a running edged and tunneld (no lost update,
# the daemons converge within a second).

setup() {
  REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
  case ${BUILD:-build} in
  /*) BIN=${BUILD}/bin ;;
  *) BIN=$REPO/${BUILD:-build}/bin ;;
  esac
  export PATH="$BIN:$PATH"
  T=$(mktemp -d "${TMPDIR:-/tmp}/warren-peerctl-plane.XXXXXX")
  export WARREN_DIR=$T/w
  mkdir -p "$WARREN_DIR"
  export WARREN_FAKE_NOW=1800000000
  PIDS=""
  cd "$T"
  write_blueprint
}

teardown() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}

K1=cFAr3d+EBuaNjSF4ZHwTztKt+rRR/NBArwS5lQafRCM=
K2=bsoaC+G8eRoVIOoTnv4mHyN+tZBZLwJHZRV7DBTxajM=

write_blueprint() {
  cat >"$T/bp.toml" <<EOF
version = 1
[sites.homelab]
public_key = "$K1"
[sites.office]
public_key = "$K2"
enabled = false

[[forwards]]
protocol = "tcp"
port = 2222
site = "homelab"
target = "192.168.1.5:22"

[roles.ops]
description = "Operators"

[users."alice@example.com"]
name = "Alice"
roles = ["ops"]

[resources.app]
host = "app.example.com"
targets = ["http://10.0.0.5:8080", "site://homelab/192.168.1.10:8080"]
[resources.app.health]
path = "/healthz"
interval = "5s"
[resources.app.auth]
methods = ["users", "email"]
email_allow = ["@example.com"]
roles = ["ops"]
[[resources.app.rules]]
priority = 10
action = "ACCEPT"
ips = ["10.0.0.0/8"]

[resources.wiki]
host = "wiki.example.com"
path = "/w"
targets = ["https://10.0.0.6:443"]
tls_verify = false
EOF
}

db() { sqlite3 "$WARREN_DIR/warren.db" "$@"; }

@test "apply prints a plan, converges once, then says no changes" {
  run peerctl apply bp.toml
  [ "$status" -eq 0 ]
  [ "$output" = "+ role ops
+ site homelab
+ site office
+ forward tcp 2222: -> homelab 192.168.1.5:22
+ user alice@example.com
+ resource app: app.example.com/
+ resource wiki: wiki.example.com/w
+ rule app: 10 ACCEPT ips=10.0.0.0/8" ]
  run peerctl apply bp.toml
  [ "$status" -eq 0 ]
  [ "$output" = "no changes" ]
  [ "$(db 'SELECT count(*) FROM resources')" = 2 ]
  # One audit row per change, in the one format every writer uses (a forward is a resource).
  [ "$(db "SELECT group_concat(action, ' ') FROM audit WHERE detail LIKE '%\"via\":\"apply\"%'")" = \
    "role.add site.add site.add resource.add user.add target.add target.add resource.add resource.auth target.add resource.add" ]
  # The same blueprint from stdin; the plan as JSON lines.
  run peerctl apply - <bp.toml
  [ "$output" = "no changes" ]
  sed -i 's/app.example.com/app2.example.com/' bp.toml
  run peerctl apply --json bp.toml
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
  echo "$output" | jq -e '.op == "~" and .kind == "resource" and .name == "app" and .details == ["host app.example.com -> app2.example.com"]'
}

@test "export | apply is a no-op; export is deterministic; secrets only with --secrets" {
  peerctl apply bp.toml >/dev/null
  echo hunter2 >pw
  printf '[resources.pw]\nhost = "pw.example.com"\n[resources.pw.auth]\nmethods = ["password"]\npassword_file = "pw"\n' >pw.toml
  run peerctl apply --no-prune pw.toml
  [ "$output" = "+ resource pw: pw.example.com/" ]
  run peerctl apply --no-prune pw.toml
  [ "$output" = "no changes" ]
  peerctl export >a.toml
  peerctl export >b.toml
  cmp a.toml b.toml
  ! grep -q argon2id a.toml
  run peerctl apply a.toml
  [ "$status" -eq 0 ]
  [ "$output" = "no changes" ]
  run sh -c 'peerctl export | peerctl apply -'
  [ "$output" = "no changes" ]
  # --secrets carries the hash to another store, where it verifies the same password.
  peerctl export --secrets >s.toml
  grep -q '^password_hash = "\$argon2id\$' s.toml
  WARREN_DIR=$T/other run peerctl apply s.toml
  [ "$status" -eq 0 ]
  WARREN_DIR=$T/other run peerctl apply --no-prune pw.toml
  [ "$output" = "no changes" ]
  WARREN_DIR=$T/other run peerctl export --secrets
  [ "$output" = "$(cat s.toml)" ]
}

@test "--dry-run and bad blueprints write nothing; errors name file:line:column (65)" {
  peerctl apply bp.toml >/dev/null
  before=$(db .dump)
  sed 's/^host = "wiki.example.com"/host = "w.example.com"/' bp.toml >changed.toml
  run peerctl apply --dry-run changed.toml
  [ "$status" -eq 0 ]
  [ "$output" = "~ resource wiki: host wiki.example.com -> w.example.com" ]
  [ "$(db .dump)" = "$before" ]

  printf '[resources.app]\nhost = "a..b"\n' >bad1.toml
  run peerctl apply bad1.toml
  [ "$status" -eq 65 ]
  [ "$output" = "peerctl: bad1.toml:2:8: resources.app.host: 'a..b': not a valid hostname" ]
  printf '[resources.app]\nhost = "a.example"\ntargets = ["ftp://x:1"]\n' >bad2.toml
  run peerctl apply bad2.toml
  [ "$status" -eq 65 ]
  [[ "$output" == "peerctl: bad2.toml:3:11: resources.app.targets: bad target"* ]]
  printf '[resources.app]\nhost = "a.example"\nport = 80\n' >bad3.toml
  run peerctl apply bad3.toml
  [ "$status" -eq 65 ]
  [ "$output" = 'peerctl: bad3.toml:3:1: unknown key "resources.app.port"' ]
  printf '[resources.app]\nhost = "a.example"\ntargets = ["site://nowhere/10.0.0.1:80"]\n' >bad4.toml
  run peerctl apply bad4.toml
  [ "$status" -eq 65 ]
  [ "$output" = "peerctl: resources.app.targets: no site nowhere" ]
  printf '[resources.x\n' >bad5.toml
  run peerctl apply bad5.toml
  [ "$status" -eq 65 ]
  [[ "$output" == "peerctl: bad5.toml:1:"* ]]
  run peerctl apply missing.toml
  [ "$status" -eq 66 ]
  # A constraint hit half-way (a host taken by a resource the blueprint keeps) rolls back all.
  printf '[resources.a]\nhost = "a.example"\n[resources.b]\nhost = "wiki.example.com"\npath = "/w"\n' >bad6.toml
  run peerctl apply --no-prune bad6.toml
  [ "$status" -eq 65 ]
  [ "$(db .dump)" = "$before" ]
}

@test "kinds left out are kept; listed kinds are pruned; --no-prune keeps them" {
  peerctl apply bp.toml >/dev/null
  printf '[resources.only]\nhost = "only.example.com"\n' >only.toml
  run peerctl apply --dry-run only.toml
  [ "$output" = "+ resource only: only.example.com/
- resource app
- resource wiki" ]
  run peerctl apply --no-prune only.toml
  [ "$output" = "+ resource only: only.example.com/" ]
  [ "$(db 'SELECT count(*) FROM sites')" = 2 ]
  printf 'forwards = []\n[sites.homelab]\npublic_key = "%s"\n' "$K1" >sites.toml
  run peerctl apply sites.toml
  [ "$output" = "- site office
- forward tcp 2222" ]
  [ "$(db 'SELECT count(*) FROM resources')" = 3 ]
}

@test "dump: stable tab-separated lines, golden" {
  peerctl apply bp.toml >/dev/null
  run peerctl dump
  [ "$status" -eq 0 ]
  expected=$(printf '%s\n' \
    "site	homelab	yes	$K1	2027-01-15T08:00:00Z	-	-" \
    "site	office	no	$K2	2027-01-15T08:00:00Z	-	-" \
    "forward	tcp	2222	homelab	192.168.1.5:22	yes	-" \
    "resource	app	app.example.com	/	yes	round_robin	protected	2	no" \
    "resource	wiki	wiki.example.com	/w	yes	round_robin	public	1	no" \
    "target	app	http://10.0.0.5:8080	yes	yes	1" \
    "target	app	site://homelab/192.168.1.10:8080	yes	yes	1" \
    "target	wiki	https://10.0.0.6:443	yes	no	1" \
    "auth	app	no	users,email	2592000" \
    "rule	1	app	10	ACCEPT	10.0.0.0/8	-	-	-	yes" \
    "role	ops	Operators" \
    "user	alice@example.com	Alice	yes	ops	no	no" \
    "grant	app	role	ops")
  [ "$output" = "$expected" ]
  # Every line has its type's column count.
  peerctl dump | awk -F'\t' '$1=="site" && NF!=7 || $1=="resource" && NF!=9 || $1=="rule" && NF!=10 {exit 1}'
  export WARREN_DIR=$T/none
  run peerctl dump
  [ "$status" -eq 66 ]
}

@test "status from the store when no daemon runs: golden text and valid JSON" {
  peerctl apply bp.toml >/dev/null
  run peerctl status
  [ "$status" -eq 0 ]
  [ "$output" = "tunneld: not running: sites from the store
edged: not running: resources from the store

sites: 2 (online unknown)
  SITE                     STATE    HANDSHAKE  LANES RTT       RX         TX
  homelab                  -        -          -     -         -          -
  office                   disabled -          -     -         -          -

resources: 2
  app  app.example.com/  protected
    -> http://10.0.0.5:8080  -
    -> site://homelab/192.168.1.10:8080  -
  wiki  wiki.example.com/w  public
    -> https://10.0.0.6:443  -

forwards: 1
  tcp:2222  tcp:2222 -> homelab:192.168.1.5:22  -" ]
  run peerctl status --json
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
  echo "$output" | jq -e '.time == "2027-01-15T08:00:00Z" and .tunneld.running == false and
    .edged.source == "store" and (.sites | length) == 2 and .sites[0].online == null and
    .resources[0].protected == true and .resources[1].targets[0].up == null'
  echo "$output" | python3 -c 'import json,sys; json.load(sys.stdin)'
}

@test "__complete lists names for the shells; bash completion offers them" {
  peerctl apply bp.toml >/dev/null
  run peerctl __complete sites
  [ "$output" = "homelab
office" ]
  run peerctl __complete resources
  [ "$output" = "app
wiki" ]
  run peerctl __complete users
  [ "$output" = "alice@example.com" ]
  run peerctl __complete nope
  [ "$status" -eq 64 ]
  WARREN_DIR=$T/none run peerctl __complete sites
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ ! -e "$T/none/warren.db" ]
  # Hidden: not in --help.
  run peerctl --help
  [[ "$output" != *__complete* ]]
  source "$REPO/completions/peerctl.bash"
  COMP_WORDS=(peerctl site show h)
  COMP_CWORD=3
  _peerctl
  [ "${COMPREPLY[*]}" = "homelab" ]
  COMP_WORDS=(peerctl site add h)
  _peerctl
  [ "${#COMPREPLY[@]}" -eq 0 ]
}

# --- with running daemons ----------------------------------------------------------------------

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

ctl() { # SOCKET JSON -> the reply line
  printf '%s\n' "$2" | socat -t 3 - UNIX-CONNECT:"$1"
}

# converge_start ROUTES SITES: starts a poller (started early: interpreter start-up is not
# counted) that waits for $T/t0 (nanoseconds, written right after the last write), then polls
# edged's routes and tunneld's status every 10 ms (3 s at most) until edged serves ROUTES store
# routes and tunneld knows SITES sites, and writes the ms since t0 (or 9999) to $T/ms.
# converge_wait: writes t0 now and waits for the result.
converge_start() {
  rm -f "$T/t0" "$T/ms" "$T/ready"
  python3 - "$WARREN_DIR/run" "$T" "$@" <<'PY' &
import json, os, socket, sys, time
run, tdir, routes, sites = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def call(path, req):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    s.connect(path)
    s.sendall(req + b"\n")
    out = b""
    while not out.endswith(b"\n"):
        d = s.recv(1 << 20)
        if not d:
            break
        out += d
    s.close()
    return json.loads(out)
open(tdir + "/ready", "w").close()
for _ in range(6000):
    if os.path.exists(tdir + "/t0"):
        break
    time.sleep(0.005)
time.sleep(0.005)
t0 = int(open(tdir + "/t0").read())
ms = 9999
while time.time_ns() - t0 < 3e9:
    r = call(run + "/edged.sock", b'{"op":"routes"}')
    t = call(run + "/tunneld.sock", b'{"op":"status"}')
    if (len([x for x in r["routes"] if x["source"] == "store"]) == routes
            and len(t["sites"]) == sites):
        ms = (time.time_ns() - t0) // 1000000
        break
    time.sleep(0.01)
open(tdir + "/ms.tmp", "w").write(str(ms))
os.rename(tdir + "/ms.tmp", tdir + "/ms")
PY
  POLLER=$!
  for _ in $(seq 1 200); do [ -e "$T/ready" ] && return 0; sleep 0.025; done
  return 1
}

converge_wait() {
  date +%s%N >"$T/t0.tmp" && mv "$T/t0.tmp" "$T/t0"
  wait "$POLLER"
  echo "converged in $(cat "$T/ms") ms" >&2
  [ "$(cat "$T/ms")" -lt 1000 ]
}

start_daemons() {
  export EP=$(free_port)
  cat >"$WARREN_DIR/tunneld.toml" <<EOF
[edge]
listen = "127.0.0.1:$EP"
public_endpoint = "127.0.0.1:$EP"
store_poll = "100ms"
EOF
  cat >"$WARREN_DIR/edged.toml" <<EOF
threads = 1
[http]
listen = ["127.0.0.1:0"]
[reload]
store_poll = "100ms"
EOF
  tunneld --dir "$WARREN_DIR" >"$T/tunneld.out" 2>"$T/tunneld.err" &
  PIDS="$PIDS $!"
  edged --dir "$WARREN_DIR" -c "$WARREN_DIR/edged.toml" >"$T/edged.out" 2>"$T/edged.err" &
  PIDS="$PIDS $!"
  for _ in $(seq 1 100); do
    [ -S "$WARREN_DIR/run/tunneld.sock" ] && [ -S "$WARREN_DIR/run/edged.sock" ] && break
    sleep 0.05
  done
  [ -S "$WARREN_DIR/run/edged.sock" ]
}

@test "status reads the daemons' sockets: a site online with lanes and a handshake" {
  unset WARREN_FAKE_NOW
  start_daemons
  mkdir -p "$T/site"
  peerctl site add homelab --edge "127.0.0.1:$EP" --lanes 2 >"$T/site/tunneld.toml"
  peerctl site add office --edge "127.0.0.1:$EP" >/dev/null
  printf '[resources.app]\nhost = "app.test"\ntargets = ["http://127.0.0.1:9"]\n' >r.toml
  peerctl apply --no-prune r.toml >/dev/null
  # The edge knows the site before it dials (else its first handshake is refused and it backs
  # off), and a refused site retries soon.
  printf 'reconnect_min = "50ms"\nreconnect_max = "400ms"\n' >>"$T/site/tunneld.toml"
  known() {
    printf '{"op":"status"}\n' | socat -t 3 - UNIX-CONNECT:"$WARREN_DIR/run/tunneld.sock" |
      jq -e '.sites[] | select(.name == "homelab")'
  }
  for _ in $(seq 1 100); do known >/dev/null 2>&1 && break; sleep 0.05; done
  known >/dev/null
  tunneld --dir "$T/site" >"$T/site.out" 2>"$T/site.err" &
  PIDS="$PIDS $!"
  online() { peerctl status --json | jq -e '.sites[] | select(.name == "homelab") | .online == true and .lanes == 2'; }
  for _ in $(seq 1 100); do online >/dev/null 2>&1 && break; sleep 0.05; done
  online
  run peerctl status
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "tunneld: running" ]]
  [[ "${lines[1]}" == "edged: running" ]]
  [[ "$output" == *"sites: 2 (1 online)"* ]]
  # RTT shows once the first keepalive came back.
  [[ "$output" =~ homelab\ +online\ +[0-9]+s\ ago\ +2/2\ +(-|[0-9.]+\ ms)\ +[0-9]+ ]]
  [[ "$output" =~ office\ +offline\ +never\ +0/ ]]
  [[ "$output" == *"    -> http://127.0.0.1:9  up"* ]]
  run peerctl status --json
  echo "$output" | jq -e '.tunneld.source == "live" and .edged.running == true and
    (.sites[] | select(.name == "homelab") | .bytes_rx > 0 and .lanes == 2 and
    (.last_handshake | test("^20[0-9-]+T")))'
  # One daemon gone: the note, and the rest still answers.
  kill $(echo $PIDS | awk '{print $1}')
  for _ in $(seq 1 100); do [ -S "$WARREN_DIR/run/tunneld.sock" ] || break; sleep 0.05; done
  run peerctl status
  [[ "${lines[0]}" == "tunneld: not running: sites from the store" ]]
  [[ "${lines[1]}" == "edged: running" ]]
}

@test "concurrent writers against running daemons: no lost update, daemons converge within 1 s" {
  unset WARREN_FAKE_NOW
  start_daemons
  peerctl site add seed --edge "127.0.0.1:$EP" >/dev/null
  # 4 writers, 10 rounds each: two appliers growing their own resources (no prune), two adding
  # sites. Every round is its own transaction under the store's write lock. The daemons must have
  # every change within a second of the last write.
  writer_apply() { # ID
    local i k bp="$T/w$1.toml"
    : >"$bp"
    for i in $(seq 1 10); do
      printf '[resources.w%s-%s]\nhost = "w%s-%s.test"\ntargets = ["http://127.0.0.1:9"]\n' "$1" "$i" "$1" "$i" >>"$bp"
      peerctl apply --no-prune "$bp" >/dev/null 2>>"$T/writers.err" || echo "apply $1 $i failed" >>"$T/writers.err"
    done
  }
  writer_sites() { # ID
    local i
    for i in $(seq 1 10); do
      peerctl site add "s$1-$i" --edge "127.0.0.1:$EP" >/dev/null 2>>"$T/writers.err" || echo "site $1 $i failed" >>"$T/writers.err"
    done
  }
  converge_start 20 21
  writer_apply 1 & a=$!
  writer_apply 2 & b=$!
  writer_sites 3 & c=$!
  writer_sites 4 & d=$!
  wait $a $b $c $d
  converge_wait
  [ ! -s "$T/writers.err" ] || { cat "$T/writers.err" >&2; false; }
  [ "$(db 'SELECT count(*) FROM resources')" = 20 ]
  [ "$(db 'SELECT count(*) FROM sites')" = 21 ]
  [ "$(peerctl __complete resources | wc -l)" = 20 ]
  # And a change is seen within a second too: one apply removes half the resources.
  peerctl export | awk '/^\[resources\.w2-/ {skip=1} /^\[resources\.w1-/ {skip=0} !skip' >half.toml
  converge_start 10 21
  peerctl apply half.toml >/dev/null
  converge_wait
}

@test "site enroll over HTTPS: the edge's certificate is verified; the token is good once" {
  unset WARREN_FAKE_NOW
  command -v cactl >/dev/null || skip "cactl is not built"
  cactl --dir "$WARREN_DIR" init --no-passphrase >/dev/null 2>&1
  cactl --dir "$WARREN_DIR" issue localhost --out-dir "$WARREN_DIR/certs" >/dev/null
  cactl --dir "$WARREN_DIR" export chain --out "$T/chain.pem"
  printf 'threads = 1\n[https]\nlisten = ["127.0.0.1:0"]\ncert = "%s"\nkey = "%s"\n' \
    certs/localhost.fullchain.pem certs/localhost.key >"$WARREN_DIR/edged.toml"
  edged --dir "$WARREN_DIR" -c "$WARREN_DIR/edged.toml" >"$T/edged.out" 2>"$T/edged.err" &
  PIDS="$PIDS $!"
  for _ in $(seq 1 100); do grep -q '^https ' "$T/edged.out" && break; sleep 0.05; done
  port=$(sed -n 's/^https 127.0.0.1://p' "$T/edged.out")
  [ -n "$port" ]
  peerctl site add homelab --edge edge.example.com:7443 --token-ttl 10m --json >"$T/add.json"
  jq -r .enroll_token "$T/add.json" >"$T/token"
  jq -e '.enroll_expires_at | test("^20")' "$T/add.json"
  jq -r .config "$T/add.json" | grep -q '^# and give it this one-time enrollment token: '
  mkdir -p "$T/site"
  # Without the CA the edge's certificate does not verify: refused, and the token stays good.
  run peerctl --dir "$T/site" site enroll "https://localhost:$port" "$T/token" --out "$T/site/tunneld.toml"
  if [ "$status" -eq 69 ] && [[ "$output" == *"does not serve enrollment"* ]]; then
    skip "edged does not serve /.warren/enroll"
  fi
  [ "$status" -eq 77 ]
  [[ "$output" == "peerctl: enroll: TLS: "* ]]
  [ ! -e "$T/site/tunneld.toml" ]
  run peerctl --dir "$T/site" site enroll "https://localhost:$port" "$T/token" --cacert "$T/chain.pem" \
    --key-out "$T/site/site.key" --lanes 3 --allow 192.168.1.0/24 --out "$T/site/tunneld.toml"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(stat -c %a "$T/site/site.key")" = 600 ]
  grep -q '^edge = "edge.example.com:7443"$' "$T/site/tunneld.toml"
  grep -q "^private_key_file = \"$T/site/site.key\"$" "$T/site/tunneld.toml"
  grep -q '^lanes = 3$' "$T/site/tunneld.toml"
  tunneld --config "$T/site/tunneld.toml" --check-config
  [ "$(db "SELECT action FROM audit ORDER BY id DESC LIMIT 1")" = site.enroll ]
  # Spent: the same token again is refused (77), here read from stdin.
  run sh -c "peerctl --dir '$T/site' site enroll https://localhost:$port --cacert '$T/chain.pem' <'$T/token'"
  [ "$status" -eq 77 ]
  [ "$output" = "peerctl: enroll: unknown, used or expired enrollment token" ]
  # Plain http only to loopback; other schemes are usage errors.
  run peerctl --dir "$T/site" site enroll http://edge.example.com "$T/token"
  [ "$status" -eq 64 ]
  run peerctl --dir "$T/site" site enroll ftp://x "$T/token"
  [ "$status" -eq 64 ]
}
