#!/usr/bin/env bats
# flowrun end to end: the conformance suite (tests/flow/*.json against the built binary and a
# local HTTP server), the CLI surface (usage, exit codes, validate, graph, nodes), HTTPS with
# certificate verification against openssl-made certificates, the socket node against a real
# Unix socket server, history/show and the persistent scope in the store, concurrency and
# determinism. Everything runs on 127.0.0.1 / in mktemp dirs; every run is bounded.

setup() {
  REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
  case ${BUILD:-build} in
  /*) BIN=${BUILD}/bin ;;
  *) BIN=$REPO/${BUILD:-build}/bin ;;
  esac
  export PATH="$BIN:$PATH"
  T=$(mktemp -d "${TMPDIR:-/tmp}/warren-flowrun-test.XXXXXX")
  export WARREN_DIR="$T/dir"
  export NO_COLOR=1
  PIDS=""
}

teardown() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}

# wf FILE JSON — writes a workflow file.
wf() { printf '%s\n' "$2" >"$T/$1"; }

# jget FILE EXPR — evaluates a Python expression over the JSON document d.
jget() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

ADD='{"workflow_id":"adder","nodes":[{"id":"a","data":{"value":10}},{"id":"b","data":{"value":5}},{"id":"c","data":{"op":"add"}}],"edges":[{"id":"e1","source":"a","target":"c"},{"id":"e2","source":"b","target":"c"}]}'

@test "conformance suite: every case in tests/flow gives the expected output" {
  n=$(ls "$REPO"/tests/flow/*.json | wc -l)
  [ "$n" -ge 80 ]
  run timeout 300 "$REPO/tests/flow/run-cases" "$BIN/flowrun" "$REPO"/tests/flow/*.json
  [ "$status" -eq 0 ] || { echo "$output" | grep -v '^ok'; false; }
  [[ "$output" == *"# $n cases, 0 failed"* ]]
}

@test "conformance runner detects a wrong expectation" {
  sed 's/"output": 15/"output": 16/' "$REPO/tests/flow/001-add.json" >"$T/wrong.json"
  run timeout 30 "$REPO/tests/flow/run-cases" "$BIN/flowrun" "$T/wrong.json"
  [ "$status" -eq 1 ]
  [[ "$output" == *"not ok 1 wrong.json"* ]]
}

@test "help prints the usage lines; bad usage exits 64" {
  run flowrun --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"flowrun [--dir DIR] [--config FILE] [--json] [-q] [-v] COMMAND [ARGS]"* ]]
  run flowrun run --help
  [[ "$output" == *"flowrun run [--input JSON|@FILE] [--results] [--timeout DURATION] [--no-record] FILE|-"* ]]
  run flowrun run
  [ "$status" -eq 64 ]
  run flowrun frobnicate
  [ "$status" -eq 64 ]
  run flowrun run --timeout soon x.json
  [ "$status" -eq 64 ]
  [ "$output" = 'flowrun: --timeout: bad duration "soon"' ]
}

@test "run prints the final output; --results prints Thaiyyal's result document" {
  wf add.json "$ADD"
  run flowrun run "$T/add.json"
  [ "$status" -eq 0 ]
  [ "$output" = "15" ]
  flowrun run --results "$T/add.json" >"$T/r.json"
  [ "$(jget "$T/r.json" 'list(d)')" = "['execution_id', 'workflow_id', 'node_results', 'final_output']" ]
  [ "$(jget "$T/r.json" 'd["workflow_id"], d["node_results"], d["final_output"]')" = "('adder', {'a': 10, 'b': 5, 'c': 15}, 15)" ]
  [[ "$(jget "$T/r.json" 'd["execution_id"]')" =~ ^[0-9a-f]{16}$ ]]
  # stdin, and the same with --json
  run sh -c "flowrun --json run - <'$T/add.json'"
  [ "$status" -eq 0 ]
  [[ "$output" == '{"execution_id":"'*'","workflow_id":"adder","node_results":{"a":10,"b":5,"c":15},"final_output":15}' ]]
}

@test "a failing run: message on stderr, exit 1, the result document lists the error" {
  wf div.json '{"nodes":[{"id":"a","data":{"value":1}},{"id":"z","data":{"value":0}},{"id":"d","data":{"op":"divide"}}],"edges":[{"source":"a","target":"d"},{"source":"z","target":"d"}]}'
  run flowrun run "$T/div.json"
  [ "$status" -eq 1 ]
  [ "$output" = "flowrun: error executing node d: division by zero" ]
  flowrun run --results "$T/div.json" >"$T/r.json" 2>/dev/null || true
  [ "$(jget "$T/r.json" 'd["node_results"], d["final_output"], d["errors"]')" = "({}, None, ['error executing node d: division by zero'])" ]
}

@test "validate: silent success, --json summary, exit 65 for bad workflows, 66 for a missing file" {
  wf add.json "$ADD"
  run flowrun validate "$T/add.json"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run flowrun --json validate "$T/add.json"
  [ "$output" = '{"edges":2,"nodes":3,"order":["a","b","c"],"valid":true,"workflow_id":"adder"}' ]
  printf '{"nodes": [\n  {"id": "a", "data": {"value": 1}},\n  oops\n]}\n' >"$T/bad.json"
  run flowrun validate "$T/bad.json"
  [ "$status" -eq 65 ]
  [[ "$output" == "flowrun: $T/bad.json: failed to parse payload: invalid JSON at line 3, column 3: "* ]]
  run flowrun validate "$T/none.json"
  [ "$status" -eq 66 ]
  [ "$output" = "flowrun: $T/none.json: No such file or directory" ]
  echo '[1,2]' | { run flowrun validate -; [ "$status" -eq 65 ]; [ "$output" = "flowrun: stdin: failed to parse payload: expected a JSON object, got array" ]; }
  echo '{"nodes":[{"id":"a","type":"operation","data":{"op":5}}]}' >"$T/t.json"
  run flowrun validate "$T/t.json"
  [ "$output" = "flowrun: $T/t.json: failed to parse payload: failed to unmarshal data for node a (type operation): field \"op\": expected string, got number" ]
}

@test "graph prints Graphviz dot with handles and body edges" {
  wf g.json '{"workflow_id":"g","nodes":[{"id":"n","data":{"value":1,"label":"Start"}},{"id":"c","type":"condition","data":{"condition":">0"}},{"id":"y","data":{"text":"yes"}}],"edges":[{"source":"n","target":"c"},{"source":"c","target":"y","sourceHandle":"true"}]}'
  run flowrun graph "$T/g.json"
  [ "$status" -eq 0 ]
  [ "$output" = 'digraph "g" {
  rankdir=LR;
  node [shape=box, fontname="Helvetica"];
  "n" [label="Start\nnumber"];
  "c" [label="c\ncondition", shape=diamond];
  "y" [label="y\ntext_input"];
  "n" -> "c";
  "c" -> "y" [label="true"];
}' ]
  if command -v dot >/dev/null; then flowrun graph "$T/g.json" | dot -Tsvg >/dev/null; fi
}

@test "nodes lists all 54 types (Thaiyyal's 52, exec, socket) with their fields" {
  run flowrun nodes
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | tail -n +2 | wc -l)" -eq 54 ]
  [[ "$output" == *"text_operation     operation   text_op*, separator, repeat_n"* ]]
  [ "$(flowrun --json nodes | wc -l)" -eq 54 ]
  flowrun --json nodes | python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]'
  run flowrun nodes delay
  [[ "${lines[0]}" == "delay (flow): Waits, then passes the input on" ]]
  [[ "${lines[1]}" == "  duration"*"any"*"required"* ]]
  run flowrun nodes paginator
  [ "$status" -eq 66 ]
  [ "$output" = "flowrun: unknown node type: paginator" ]
}

@test "config: unknown keys and bad values exit 78 naming file:line:column" {
  printf '[http]\nenabled = true\nallow_localhost = "yes"\n' >"$T/c.toml"
  wf add.json "$ADD"
  run flowrun --config "$T/c.toml" run "$T/add.json"
  [ "$status" -eq 78 ]
  [[ "$output" == "flowrun: $T/c.toml:3:19: http.allow_localhost: "* ]]
  printf '[limits]\nmax_nodez = 3\n' >"$T/c.toml"
  run flowrun --config "$T/c.toml" run "$T/add.json"
  [ "$status" -eq 78 ]
  [ "$output" = "flowrun: $T/c.toml:2:1: unknown key \"limits.max_nodez\"" ]
  # $WARREN_DIR/flowrun.toml is read by default
  mkdir -p "$WARREN_DIR"
  printf '[limits]\nmax_nodes = 2\n' >"$WARREN_DIR/flowrun.toml"
  run flowrun run "$T/add.json"
  [ "$status" -eq 65 ]
  [ "$output" = "flowrun: $T/add.json: too many nodes: 3 (limit: 2)" ]
}

@test "--input feeds root nodes, from text or @FILE; bad input exits 65" {
  wf x.json '{"nodes":[{"id":"x","data":{"expression":"input.n * 2"}}],"edges":[]}'
  run flowrun run --input '{"n":21}' "$T/x.json"
  [ "$output" = "42" ]
  echo '{"n":4}' >"$T/in.json"
  run flowrun run --input "@$T/in.json" "$T/x.json"
  [ "$output" = "8" ]
  run flowrun run --input '{oops' "$T/x.json"
  [ "$status" -eq 65 ]
  [[ "$output" == "flowrun: --input: invalid JSON: "* ]]
}

@test "two 300 ms delays overlap; results stay identical over 50 process runs" {
  wf d.json '{"nodes":[{"id":"a","data":{"duration":"300ms"}},{"id":"b","data":{"duration":"300ms"}},{"id":"j","data":{"join_strategy":"all"}}],"edges":[{"source":"a","target":"j"},{"source":"b","target":"j"}]}'
  start=$(date +%s%N)
  run flowrun run --no-record "$T/d.json"
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ "$status" -eq 0 ]
  [ "$ms" -ge 295 ]
  [ "$ms" -lt 580 ]
  # state, branches, delays of different lengths: always the sequential result
  wf m.json '{"nodes":[{"id":"n1","data":{"value":1}},{"id":"d1","data":{"duration":"3ms"}},{"id":"x1","data":{"expression":"input.value * 10"}},{"id":"a1","data":{"accum_op":"array"}},{"id":"n2","data":{"value":2}},{"id":"d2","data":{"duration":"1ms"}},{"id":"x2","data":{"expression":"input.value * 10"}},{"id":"a2","data":{"accum_op":"array"}},{"id":"c","type":"counter","data":{"counter_op":"increment"}},{"id":"s","data":{"var_name":"last","var_op":"set"}},{"id":"g","data":{"var_name":"last","var_op":"get"}}],"edges":[{"source":"n1","target":"d1"},{"source":"d1","target":"x1"},{"source":"x1","target":"a1"},{"source":"n2","target":"d2"},{"source":"d2","target":"x2"},{"source":"x2","target":"a2"},{"source":"a2","target":"c"},{"source":"x2","target":"s"},{"source":"c","target":"g"}]}'
  python3 - "$T/m.json" <<'PY'
import json, subprocess, sys
runs = [json.loads(subprocess.run(["flowrun", "run", "--no-record", "--results", sys.argv[1]],
                                  capture_output=True, text=True, timeout=30, check=True).stdout)["node_results"]
        for _ in range(50)]
assert runs[0]["a2"] == {"operation": "array", "value": [10, 20]}, runs[0]
assert runs[0]["g"]["value"] == 20 and runs[0]["c"]["value"] == 1, runs[0]
for i, r in enumerate(runs):
    assert r == runs[0], "run %d differs: %s" % (i, r)
PY
}

@test "history and show: runs recorded with status, duration, error; prefixes; --json" {
  wf add.json "$ADD"
  wf div.json '{"workflow_id":"div","nodes":[{"id":"a","data":{"value":1}},{"id":"z","data":{"value":0}},{"id":"d","data":{"op":"divide"}}],"edges":[{"source":"a","target":"d"},{"source":"z","target":"d"}]}'
  run flowrun history
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]  # header only: no store yet
  flowrun run "$T/add.json" >/dev/null
  flowrun run "$T/div.json" 2>/dev/null || true
  echo '{"nodes":[{"id":"x"}]}' >"$T/inv.json"
  flowrun run "$T/inv.json" 2>/dev/null || true
  flowrun run --no-record "$T/add.json" >/dev/null
  flowrun --json history >"$T/h.jsonl"
  [ "$(wc -l <"$T/h.jsonl")" -eq 3 ]
  python3 - "$T/h.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["status"] for r in rows] == ["invalid", "failed", "ok"], rows
assert [r["exit_code"] for r in rows] == [65, 1, 0], rows
assert rows[1]["error"] == "error executing node d: division by zero" and rows[1]["workflow_id"] == "div"
assert rows[2]["workflow_id"] == "adder" and rows[2]["nodes"] == 3 and rows[2]["executions"] == 3
assert "no executor registered" in rows[0]["error"]
PY
  id=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[2])["execution_id"])' "$T/h.jsonl")
  run flowrun show "${id:0:6}"
  [ "$status" -eq 0 ]
  [[ "$output" == *"execution:    $id"* ]]
  [[ "$output" == *"status:       ok"* ]]
  [[ "$output" == *"final output: 15"* ]]
  run flowrun --json show "$id"
  [[ "$output" == *'"final_output":15'* ]]
  run flowrun history --workflow div
  [ "${#lines[@]}" -eq 2 ]
  [[ "${lines[1]}" == *"div"*"failed"*"error executing node d: division by zero"* ]]
  run flowrun show 0123456789abcdef
  [ "$status" -eq 66 ]
  [ "$output" = "flowrun: no such run: 0123456789abcdef" ]
}

@test "persistent scope: a counter, a variable and a cache entry survive across runs; failed runs do not save" {
  wf p.json '{"workflow_id":"cron-job","nodes":[{"id":"c","type":"counter","data":{"counter_op":"increment","scope":"persistent"}},{"id":"g","data":{"var_name":"seen","var_op":"get"}},{"id":"k","data":{"cache_op":"get","cache_key":"k","scope":"persistent"}},{"id":"t","data":{"text":"hello"}},{"id":"s","data":{"var_name":"seen","var_op":"set","scope":"persistent"}},{"id":"cs","data":{"cache_op":"set","cache_key":"k","ttl":"1h","scope":"persistent"}},{"id":"j","data":{"join_strategy":"all"}}],"edges":[{"source":"t","target":"s"},{"source":"t","target":"cs"},{"source":"c","target":"j"}]}'
  # first run: the get of "seen" fails (no value yet): nothing is saved
  run flowrun run "$T/p.json"
  [ "$status" -eq 1 ]
  [ "$output" = "flowrun: error executing node g: variable 'seen' not found" ]
  # seed the variable with a run that does not read it
  wf seed.json '{"workflow_id":"cron-job","nodes":[{"id":"t","data":{"text":"hello"}},{"id":"s","data":{"var_name":"seen","var_op":"set","scope":"persistent"}}],"edges":[{"source":"t","target":"s"}]}'
  flowrun run "$T/seed.json" >/dev/null
  for i in 1 2 3; do
    flowrun run --results "$T/p.json" >"$T/r$i.json"
    [ "$(jget "$T/r$i.json" 'd["node_results"]["c"]["value"]')" = "$i" ]
    [ "$(jget "$T/r$i.json" 'd["node_results"]["g"]["value"]')" = "hello" ]
  done
  [ "$(jget "$T/r1.json" 'd["node_results"]["k"]["found"]')" = "False" ]
  [ "$(jget "$T/r2.json" 'd["node_results"]["k"]["value"]')" = "hello" ]
  # without a workflow_id the persistent scope is refused
  wf nop.json '{"nodes":[{"id":"c","type":"counter","data":{"counter_op":"increment","scope":"persistent"}}]}'
  run flowrun run "$T/nop.json"
  [ "$status" -eq 65 ]
  [ "$output" = "flowrun: $T/nop.json: scope \"persistent\" needs a workflow_id" ]
}

@test "https: certificates are verified (ca_file trusted, unknown CA refused)" {
  command -v openssl >/dev/null || skip "openssl not installed"
  cd "$T"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=test-ca \
    -keyout ca.key -out ca.pem -addext basicConstraints=critical,CA:TRUE 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
    -keyout srv.key -out srv.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >ext.cnf
  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out srv.pem 2>/dev/null
  python3 - "$T" >"$T/port" 2>"$T/srv.err" <<'PY' &
import http.server, ssl, sys, os
d = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"secure": true}'
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(os.path.join(d, "srv.pem"), os.path.join(d, "srv.key"))
s.socket = ctx.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.timeout = 10
for _ in range(4): s.handle_request()
PY
  PIDS="$PIDS $!"
  for i in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
  port=$(cat "$T/port")
  wf h.json "{\"nodes\":[{\"id\":\"h\",\"data\":{\"url\":\"https://127.0.0.1:$port/\"}}]}"
  printf '[http]\nenabled = true\nallow_localhost = true\nca_file = "%s"\n' "$T/ca.pem" >"$T/ok.toml"
  run timeout 20 flowrun --config "$T/ok.toml" run --no-record "$T/h.json"
  [ "$status" -eq 0 ]
  [ "$output" = '{"secure":true}' ]
  printf '[http]\nenabled = true\nallow_localhost = true\n' >"$T/noca.toml"
  run timeout 20 flowrun --config "$T/noca.toml" run --no-record "$T/h.json"
  [ "$status" -eq 1 ]
  [[ "$output" == "flowrun: error executing node h: HTTP request failed: TLS handshake with 127.0.0.1: certificate verify failed: "* ]]
}

@test "socket node: one JSON-lines request to a daemon's control socket under WARREN_DIR/run" {
  mkdir -p "$WARREN_DIR/run"
  python3 - "$WARREN_DIR/run/testd.sock" <<'PY' &
import json, os, socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(4); s.settimeout(10)
for _ in range(2):
    c, _ = s.accept()
    f = c.makefile("rwb")
    req = json.loads(f.readline())
    f.write((json.dumps({"ok": True, "op": req.get("op"), "sites": 2}) + "\n").encode()); f.flush()
    c.close()
PY
  PIDS="$PIDS $!"
  for i in $(seq 1 100); do [ -S "$WARREN_DIR/run/testd.sock" ] && break; sleep 0.05; done
  wf s.json '{"nodes":[{"id":"s","type":"socket","data":{"socket":"testd","request":{"op":"status"}}},{"id":"c","type":"condition","data":{"condition":"input.sites >= 2"}}],"edges":[{"source":"s","target":"c"}]}'
  run timeout 20 flowrun run --no-record --results "$T/s.json"
  [ "$status" -eq 0 ]
  [[ "$output" == *'"node_results":{"c":{"condition":"input.sites >= 2","condition_met":true,"false_path":false,"path":"true","true_path":true,"value":{"ok":true,"op":"status","sites":2}},"s":{"ok":true,"op":"status","sites":2}}'* ]]
}

@test "a runaway loop and a hung server never outlive the limits" {
  wf loop.json '{"nodes":[{"id":"n","data":{"value":1}},{"id":"w","type":"while_loop","data":{"condition":"input > 0","max_iterations":1000}},{"id":"d","data":{"duration":"50ms"}},{"id":"x","data":{"expression":"input.value + 1"}}],"edges":[{"source":"n","target":"w"},{"source":"w","target":"d","sourceHandle":"body"},{"source":"d","target":"x"}]}'
  start=$(date +%s)
  run timeout 20 flowrun run --no-record --timeout 1s "$T/loop.json"
  [ "$status" -eq 75 ]
  [ "$output" = "flowrun: workflow execution timeout: exceeded 1s" ]
  [ $(( $(date +%s) - start )) -le 3 ]
}
