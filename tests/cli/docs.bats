#!/usr/bin/env bats
# Tests of the docs tools themselves: scripts/gen-completions renders working bash/zsh/fish
# completions from --dump-cli, and scripts/check-docs catches a man page or completion that
# drifted from the CLI. Most tests use "demo", a fake program (a script answering --dump-cli and
# --help from a JSON tree) with nested subcommands, in a temporary root; one uses the real cactl.

setup() {
  REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
  case ${BUILD:-build} in
  /*) BIN=${BUILD}/bin ;;
  *) BIN=$REPO/${BUILD:-build}/bin ;;
  esac
  T=$(mktemp -d "${TMPDIR:-/tmp}/warren-docs-test.XXXXXX")
  mkdir -p "$T/bin" "$T/root/man" "$T/root/completions"
  make_demo
}

teardown() {
  rm -rf "$T"
}

make_demo() {
  cat >"$T/tree.json" <<'EOF'
{"name":"demo","description":"A demo program","synopsis":"demo [OPTIONS] COMMAND","options":[
 {"names":["-h","--help"],"description":"Print this help message and exit","takes_value":true,"value_name":"","hidden":false},
 {"names":["--dir"],"description":"Installation directory","takes_value":true,"value_name":"DIR","hidden":false},
 {"names":["--color"],"description":"Colour: auto, always, never","takes_value":true,"value_name":"WHEN:{auto,always,never}","hidden":false},
 {"names":["-q","--quiet"],"description":"Less logging","takes_value":true,"value_name":"","hidden":false},
 {"names":["--dump-cli"],"description":"Print the command tree as JSON","takes_value":true,"value_name":"","hidden":true}],
 "positionals":[],
 "subcommands":[
  {"name":"issue","description":"Issue a certificate","synopsis":"demo issue [OPTIONS] NAME\ndemo issue --csr FILE NAME","options":[
    {"names":["-h","--help"],"description":"Print this help message and exit","takes_value":true,"value_name":"","hidden":false},
    {"names":["--csr"],"description":"Sign this CSR","takes_value":true,"value_name":"FILE","hidden":false},
    {"names":["--profile"],"description":"Profile: it's [server]","takes_value":true,"value_name":"NAME:{server,client,peer}","hidden":false}],
   "positionals":[{"name":"NAME","description":"Common name"}],"subcommands":[]},
  {"name":"verify","description":"Verify a certificate","synopsis":"demo verify [OPTIONS] CERT","options":[],
   "positionals":[{"name":"CERT","description":"Certificate file"}],"subcommands":[]},
  {"name":"token","description":"Signed tokens","synopsis":"demo token COMMAND","options":[
    {"names":["--alg"],"description":"Algorithm","takes_value":true,"value_name":"ALG:{EdDSA,ES256}","hidden":false}],
   "positionals":[],"subcommands":[
    {"name":"issue","description":"Issue a token","synopsis":"demo token issue [OPTIONS] SUBJECT","options":[
      {"names":["--ttl"],"description":"Lifetime","takes_value":true,"value_name":"DURATION","hidden":false}],
     "positionals":[{"name":"SUBJECT","description":"Subject"}],"subcommands":[]},
    {"name":"verify","description":"Verify a token","synopsis":"demo token verify [TOKEN_FILE]","options":[],
     "positionals":[{"name":"TOKEN_FILE","description":"Token file"}],"subcommands":[]}]}]}
EOF
  cat >"$T/bin/demo" <<EOF
#!/usr/bin/env python3
import json, sys
tree = json.load(open("$T/tree.json"))
args = sys.argv[1:]
if "--dump-cli" in args:
    print(json.dumps(tree)); sys.exit(0)
if "--help" in args:
    node = tree
    for a in args:
        node = next((s for s in node["subcommands"] if s["name"] == a), node)
    print(node["description"] + "\nUsage:")
    print("\n".join("  " + l for l in node["synopsis"].split("\n"))); sys.exit(0)
sys.exit(64)
EOF
  chmod +x "$T/bin/demo"
  cat >"$T/root/man/demo.1" <<'EOF'
.TH DEMO 1 2025-01-01 Warren "Warren Manual"
.SH NAME
demo \- a demo program
.SH SYNOPSIS
.nf
\fBdemo\fR [\fIOPTIONS\fR] \fICOMMAND\fR
\fBdemo issue\fR [\fIOPTIONS\fR] \fINAME\fR
\fBdemo issue \-\-csr\fR \fIFILE\fR \fINAME\fR
\fBdemo verify\fR [\fIOPTIONS\fR] \fICERT\fR
.fi
.B demo token
.I COMMAND
.br
.B demo token issue
.RI [ OPTIONS ]
.I SUBJECT
.br
.B demo token verify
.RI [ TOKEN_FILE ]
.SH DESCRIPTION
Demonstrates.
.SH OPTIONS
.TP
.BR \-h ", " \-\-help
Help.
.TP
.BI \-\-dir " DIR"
Directory.
.TP
.BR \-\-color =\fIWHEN\fR
Colour.
.TP
.BR \-q ", " \-\-quiet
Quieter.
.TP
.BI \-\-csr " FILE"
Sign a CSR.
.TP
.BI \-\-profile " NAME"
Profile.
.TP
.BI \-\-alg " ALG"
Algorithm.
.TP
.BI \-\-ttl " DURATION"
Lifetime.
.SH EXIT STATUS
0 1 64 65 66 69 70 75 77 78, as in
.BR warren (7).
.SH ENVIRONMENT
.B WARREN_DIR
.SH FILES
None.
.SH EXAMPLES
demo token issue alice
.SH SEE ALSO
.BR warren (7)
EOF
  # The real overview page, plus the demo program in its SEE ALSO (its last section).
  cp "$REPO/man/warren.7" "$T/root/man/warren.7"
  printf '.BR demo (1)\n' >>"$T/root/man/warren.7"
}

gen() {
  "$REPO/scripts/gen-completions" "$T/bin" "${1:-$T/root/completions}"
}

check_docs() {
  "$REPO/scripts/check-docs" --root "$T/root" "$T/bin"
}

# comp WORD... — runs the bash completion registered for $1 on the words (the last one is the
# word being completed) and prints COMPREPLY, sorted, one per line.
comp() {
  local spec fn
  spec=$(complete -p "$1")
  fn=${spec##*-F }
  fn=${fn%% *}
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMP_LINE="$*"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  "$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
  if ((${#COMPREPLY[@]})); then printf '%s\n' "${COMPREPLY[@]}" | sort; fi
}

words() { # words A B C — the words sorted, one per line (to compare with comp's output)
  printf '%s\n' "$@" | sort
}

@test "gen-completions writes bash, zsh and fish files with the do-not-edit header" {
  run gen
  [ "$status" -eq 0 ]
  for f in demo.bash zsh/_demo fish/demo.fish; do
    [ -s "$T/root/completions/$f" ]
    head -3 "$T/root/completions/$f" | grep -q '^# generated by scripts/gen-completions; do not edit$'
  done
  head -1 "$T/root/completions/zsh/_demo" | grep -qx '#compdef demo'
  bash -n "$T/root/completions/demo.bash"
  # Deterministic: a second rendering is byte-identical.
  gen "$T/again"
  diff -r "$T/root/completions" "$T/again"
  # Hidden options never appear.
  run grep -c -- '--dump-cli' "$T/root/completions/demo.bash"
  [ "$output" = 0 ]
}

@test "gen-completions skips test binaries and programs without --dump-cli" {
  printf '#!/bin/sh\nexit 1\n' >"$T/bin/unit-tests"
  printf '#!/bin/sh\nexit 1\n' >"$T/bin/fuzz-pem"
  printf '#!/bin/sh\nexit 3\n' >"$T/bin/other"
  chmod +x "$T/bin/unit-tests" "$T/bin/fuzz-pem" "$T/bin/other"
  run gen
  [ "$status" -eq 0 ]
  [[ "$output" == *"gen-completions: other: skipped: --dump-cli exited 3"* ]]
  [[ "$output" != *unit-tests* && "$output" != *fuzz-pem* ]]
  [ "$(cd "$T/root/completions" && ls *.bash)" = demo.bash ]
  run "$REPO/scripts/gen-completions" "$T/nope" "$T/out"
  [ "$status" -eq 66 ]
  run "$REPO/scripts/gen-completions" "$T/bin"
  [ "$status" -eq 64 ]
}

@test "bash completion: subcommands, nested subcommands, options and enum values" {
  gen
  source "$T/root/completions/demo.bash"
  [ "$(comp demo '')" = "$(words issue verify token)" ]
  [ "$(comp demo token '')" = "$(words issue verify)" ]
  [ "$(comp demo token i)" = "issue" ]
  # Options of a nested subcommand include those of its parents (CLI11 fallthrough).
  [ "$(comp demo token issue --)" = "$(words --ttl --alg --help --dir --color --quiet)" ]
  [ "$(comp demo --color '')" = "$(words auto always never)" ]
  [ "$(comp demo --color = a)" = "$(words auto always)" ]
  [ "$(comp demo --color=al)" = "--color=always" ]
  [ "$(comp demo issue --profile '')" = "$(words server client peer)" ]
  [ "$(comp demo token --alg E)" = "$(words EdDSA ES256)" ]
}

@test "bash completion: an option's value is not completed as a subcommand" {
  gen
  source "$T/root/completions/demo.bash"
  cd "$T"
  # --ttl takes a free-form value: nothing is offered, least of all a subcommand.
  [ -z "$(comp demo token issue --ttl '')" ]
  # --dir takes a directory: directories only.
  [ "$(comp demo --dir '')" = "$(words bin root)" ]
  # The value is skipped when finding the subcommand ("issue" here is --dir's value).
  [ "$(comp demo --dir issue '')" = "$(words issue verify token)" ]
  [ "$(comp demo --dir = issue token '')" = "$(words issue verify)" ]
  # A file-like positional completes file names.
  [ "$(comp demo verify t)" = "tree.json" ]
}

@test "bash completion of the real cactl offers its subcommands and options" {
  [ -x "$BIN/cactl" ] || skip "cactl is not built in $BIN"
  run "$BIN/cactl" --dump-cli
  [ "$status" -eq 0 ]
  ln -s "$BIN/cactl" "$T/bin/cactl"
  rm "$T/bin/demo"
  gen
  source "$T/root/completions/cactl.bash"
  "$BIN/cactl" --dump-cli >"$T/cactl.json"
  expected_subs=$(python3 -c 'import json,sys; [print(s["name"]) for s in json.load(open(sys.argv[1]))["subcommands"]]' "$T/cactl.json" | sort)
  expected_opts=$(python3 -c 'import json,sys; [print(n) for o in json.load(open(sys.argv[1]))["options"] if not o["hidden"] for n in o["names"] if n.startswith("--")]' "$T/cactl.json" | sort)
  [ "$(comp cactl '')" = "$expected_subs" ]
  [ "$(comp cactl --)" = "$expected_opts" ]
  [[ "$expected_opts" == *--dir* && "$expected_opts" == *--json* ]]
  [ "$(comp cactl --color '')" = "$(words auto always never)" ]
}

@test "zsh completion: subcommands, nested subcommands and option values" {
  command -v zsh >/dev/null || skip "zsh is not installed"
  gen
  zsh -n "$T/root/completions/zsh/_demo"
  # Drive one interactive zsh in a pseudo-terminal: for each command line, press TAB and record
  # what compadd is given in $T/hits.N. Each step waits for the previous one (a file appears),
  # so nothing depends on timing.
  cat >"$T/zcap.zsh" <<'EOF'
zmodload zsh/zpty
wait_for() { local i; for i in {1..400}; do [[ -e $1 ]] && return 0; sleep 0.05; done; return 1; }
dir=$1 out=$2
shift 2
zpty z zsh -f -i
zpty -w z "fpath=($dir \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z "compadd() {
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then builtin compadd \"\$@\"; return \$?; fi
  typeset -a __hits; builtin compadd -A __hits \"\$@\"
  (( \$#__hits )) && print -rl -- \$__hits >> \$__out
  builtin compadd \"\$@\"
}"
zpty -w z "__tab() { zle complete-word; : >\$__out.done; }; zle -N __tab; bindkey '^I' __tab; setopt nobeep"
n=0
for line; do
  n=$((n + 1))
  zpty -w z "__out=$out.$n; : >\$__out"
  wait_for $out.$n || { print -u2 "zsh did not answer"; exit 1; }
  zpty -n -w z "$line"$'\t'
  wait_for $out.$n.done || { print -u2 "completion of '$line' did not finish"; exit 1; }
  zpty -w z $'\C-u'
done
zpty -d z
EOF
  cd "$T"
  timeout 60 zsh -f "$T/zcap.zsh" "$T/root/completions/zsh" "$T/hits" 'demo ' 'demo token ' \
    'demo --dir issue token ' 'demo token issue --' 'demo --color ' 'demo token issue --ttl '
  zcomp() { sort -u "$T/hits.$1"; }
  [ "$(zcomp 1)" = "$(words issue verify token)" ]
  [ "$(zcomp 2)" = "$(words issue verify)" ]
  [ "$(zcomp 3)" = "$(words issue verify)" ]
  [ "$(zcomp 4)" = "$(words --ttl --alg --help --dir --color --quiet)" ]
  [ "$(zcomp 5)" = "$(words auto always never)" ]
  [ -z "$(zcomp 6)" ]
}

@test "fish completion: subcommands, nested subcommands and option values" {
  command -v fish >/dev/null || skip "fish is not installed"
  gen
  fish -n "$T/root/completions/fish/demo.fish"
  fcomp() {
    fish -c "source $T/root/completions/fish/demo.fish; complete -C '$1'" | cut -f1 | sort
  }
  cd "$T"
  [ "$(fcomp 'demo ')" = "$(words issue verify token)" ]
  [ "$(fcomp 'demo token ')" = "$(words issue verify)" ]
  [ "$(fcomp 'demo --dir issue token ')" = "$(words issue verify)" ]
  [ "$(fcomp 'demo token issue --')" = "$(words --ttl --alg --help --dir --color --quiet)" ]
  [ "$(fcomp 'demo --color ')" = "$(words auto always never)" ]
  [ -z "$(fcomp 'demo token issue --ttl ')" ]
}

@test "check-docs passes on a complete man page with current completions" {
  gen
  run check_docs
  [ "$output" = "" ]
  [ "$status" -eq 0 ]
}

@test "check-docs fails on a man page missing an option" {
  gen
  sed -i '/ttl/d' "$T/root/man/demo.1"
  run check_docs
  [ "$status" -eq 1 ]
  [ "${lines[0]}" = 'check-docs: man/demo.1: option --ttl of `demo token issue` is not mentioned' ]
  [ "${lines[1]}" = "check-docs: 1 problem(s)" ]
  [ "${#lines[@]}" -eq 2 ]
}

@test "check-docs reports sections, synopsis, exit codes, warren(7) and stale completions" {
  gen
  sed -i -e '/^\.SH FILES$/,/^None\.$/d' -e 's/ 75 77 78,/ 77,/' \
    -e 's/^\\fBdemo issue \\-\\-csr.*$/demo issue FILE NAME/' \
    -e '/^\.SH SEE ALSO/,$s/warren/warren-tunnel/' "$T/root/man/demo.1"
  echo "# edited by hand" >>"$T/root/completions/fish/demo.fish"
  rm "$T/root/completions/zsh/_demo"
  run check_docs
  [ "$status" -eq 1 ]
  echo "$output"
  [[ "$output" == *"check-docs: man/demo.1: missing section FILES"* ]]
  [[ "$output" == *'check-docs: man/demo.1: SYNOPSIS lacks "demo issue --csr FILE NAME"'* ]]
  [[ "$output" == *"check-docs: man/demo.1: EXIT STATUS does not list 75 78"* ]]
  [[ "$output" == *"check-docs: man/demo.1: SEE ALSO does not reference warren(7)"* ]]
  [[ "$output" == *"check-docs: completions/zsh/_demo: missing"* ]]
  [[ "$output" == *"check-docs: completions/fish/demo.fish: out of date"* ]]
  [[ "$output" == *"check-docs: 6 problem(s)" ]]
}

@test "check-docs fails when a program has no man page or a --help that fails" {
  gen
  rm "$T/root/man/demo.1"
  sed -i 's/^if "--help" in args:$/&\n    if args[:2] == ["token", "issue"]: sys.exit(2)/' "$T/bin/demo"
  run check_docs
  [ "$status" -eq 1 ]
  [ "${lines[0]}" = 'check-docs: demo: `demo token issue --help` exited 2' ]
  [ "${lines[1]}" = "check-docs: demo: no man page (expected man/demo.1 or man/demo.8)" ]
  [ "${lines[2]}" = "check-docs: 2 problem(s)" ]
}
