#!/bin/sh
# scripts/bench/cactl.sh — how fast cactl issues certificates and signs a large CRL.
#
#   sh scripts/bench/cactl.sh            (from the repo root; BUILD=build by default)
#   BUILD=build-foo N=1000 M=100 R=100000 sh scripts/bench/cactl.sh
#
# In one run, in a temporary WARREN_DIR (removed on exit):
#   (a) N ECDSA P-256 server certificates from one `cactl issue --batch` (names on stdin, key
#       generated, written as PEM), against a CA whose keys are encrypted with a passphrase;
#   (b) a shell loop of `openssl req -new -newkey ec ...` + `openssl x509 -req -copy_extensions
#       copy` for M certificates against a CA key made with openssl (the rate is what counts);
#   (c) a table of certs/s for both and the ratio, with the goals marked PASS or MISS;
#   (d) R certificates issued and revoked in one batch each, then `cactl crl` timed, its size
#       reported and its entries counted with `openssl crl -text`.
# Timed commands run under `taskset -c 0` when taskset exists. Wall time suffers when other
# work shares that core, so CPU time (user+sys) and the load average are printed as well.
# The temporary directory is made under $TMPDIR (default /tmp), and the file system matters:
# on ext4, creating the 3 files per certificate costs about as much CPU as making them.
# The goals are printed, not enforced: the exit status is 0 unless a step fails outright.
set -eu

prog=cactl.sh
N=${N:-1000}
M=${M:-100}
R=${R:-100000}
BUILD=${BUILD:-build}

die() {
	echo "$prog: $*" >&2
	exit 1
}
step() { echo "$prog: $*" >&2; } # progress on stderr; the report goes to stdout

for v in N M R; do
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
CACTL=$BUILD/bin/cactl
if [ ! -x "$CACTL" ]; then
	echo "$prog: $CACTL: not found (build it: make BUILD=${BUILD#"$root"/} ${CACTL#"$root"/})" >&2
	exit 66
fi
command -v openssl >/dev/null 2>&1 || { echo "$prog: openssl: not found" >&2; exit 69; }

PIN=
pinned="not pinned (no taskset)"
if command -v taskset >/dev/null 2>&1 && taskset -c 0 true 2>/dev/null; then
	PIN="taskset -c 0"
	pinned="pinned to CPU 0 with taskset"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cactl-bench.XXXXXX")
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
trap 'cleanup; exit 129' HUP
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 141' PIPE # e.g. piped into head
trap 'cleanup; exit 143' TERM

# measure FILE CMD...: runs CMD (redirections apply to it) and writes "wall user sys" seconds
# to FILE. /usr/bin/time when present, else date(1) and the shell's `times`.
seconds_of_times() { # the shell's `times` (saved in FILE) -> total children user and sys
	awk 'END { split($1, u, "m"); split($2, s, "m"); sub("s", "", u[2]); sub("s", "", s[2]);
		printf "%.3f %.3f\n", u[1] * 60 + u[2], s[1] * 60 + s[2] }' "$1"
}
measure() {
	out=$1
	shift
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%e %U %S' -o "$out" "$@"
		return
	fi
	times >"$out.0" # in this shell, not a subshell: children's times accumulate here
	t0=$(date +%s.%N)
	"$@"
	t1=$(date +%s.%N)
	times >"$out.1"
	echo "$t0 $t1 $(seconds_of_times "$out.0") $(seconds_of_times "$out.1")" |
		awk '{ printf "%.3f %.3f %.3f\n", $2 - $1, $5 - $3, $6 - $4 }' >"$out"
}
# field FILE N: the Nth number of a measure file (1 wall, 2 user, 3 sys); cpu FILE: user+sys.
field() { awk -v n="$2" 'END { print $n }' "$1"; }
cpu() { awk 'END { printf "%.2f", $2 + $3 }' "$1"; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "inf" }'; }

names() { # names COUNT PREFIX: one host name per line
	awk -v n="$1" -v p="$2" 'BEGIN { for (i = 1; i <= n; i++) print p i ".bench.example" }'
}

export WARREN_DIR="$tmp/warren"
export CACTL_PASSPHRASE_FILE="$tmp/passphrase"
unset NO_COLOR WARREN_FAKE_NOW 2>/dev/null || true
(umask 077 && echo "bench passphrase $$" >"$CACTL_PASSPHRASE_FILE")

echo "cactl benchmark: $CACTL"
echo "N=$N (cactl) M=$M (openssl loop) R=$R (CRL entries); $pinned"
echo "CPUs: $(nproc 2>/dev/null || echo '?'); load average at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo "$(openssl version)"
echo

"$CACTL" -q init --name Bench >/dev/null || die "cactl init failed"
measure "$tmp/t.fixed" $PIN "$CACTL" crl >/dev/null || die "cactl crl failed"

# (a) cactl: N certificates, one process, one transaction.
step "issuing $N certificates with cactl"
names "$N" host >"$tmp/names"
measure "$tmp/t.cactl" $PIN "$CACTL" issue --batch --out-dir "$tmp/out-a" \
	<"$tmp/names" >"$tmp/issued-a" || die "cactl issue --batch failed"
got=$(wc -l <"$tmp/issued-a")
[ "$got" -eq "$N" ] || die "cactl issue --batch printed $got lines, expected $N"
"$CACTL" export chain >"$tmp/chain.pem"
openssl verify -CAfile "$tmp/chain.pem" "$tmp/out-a/host$N.bench.example.crt" >/dev/null ||
	die "openssl verify rejects a certificate from cactl"

# (b) openssl: M certificates, two processes each, against a CA made with openssl.
step "issuing $M certificates with the openssl loop"
mkdir "$tmp/ossl" "$tmp/out-b"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
	-subj "/CN=Bench openssl CA" -keyout "$tmp/ossl/ca.key" -out "$tmp/ossl/ca.crt" 2>/dev/null ||
	die "openssl req -x509 failed"
cat >"$tmp/ossl/loop.sh" <<'EOF'
set -e
ca=$1 out=$2 m=$3
i=1
while [ "$i" -le "$m" ]; do
	n=host$i.bench.example
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$n" \
		-addext "subjectAltName=DNS:$n" -keyout "$out/$n.key" -out "$out/$n.csr" 2>/dev/null
	openssl x509 -req -in "$out/$n.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -days 90 \
		-copy_extensions copy -out "$out/$n.crt" 2>/dev/null
	i=$((i + 1))
done
EOF
measure "$tmp/t.ossl" $PIN sh "$tmp/ossl/loop.sh" "$tmp/ossl" "$tmp/out-b" "$M" ||
	die "the openssl loop failed"
openssl verify -CAfile "$tmp/ossl/ca.crt" "$tmp/out-b/host$M.bench.example.crt" >/dev/null ||
	die "openssl verify rejects a certificate from the openssl loop"

# (c) the table.
cw=$(field "$tmp/t.cactl" 1) cc=$(cpu "$tmp/t.cactl")
ow=$(field "$tmp/t.ossl" 1) oc=$(cpu "$tmp/t.ossl")
crw=$(rate "$N" "$cw") crc=$(rate "$N" "$cc")
orw=$(rate "$M" "$ow") orc=$(rate "$M" "$oc")
ratio() { awk -v n="$1" -v a="$2" -v m="$3" -v b="$4" 'BEGIN { printf "%.1f", (n / a) / (m / b) }'; }
ratio_w=$(ratio "$N" "$cw" "$M" "$ow")
ratio_c=$(ratio "$N" "$cc" "$M" "$oc")
echo "issuance: ECDSA P-256 server certificates, new key each, SAN, PEM files written"
printf '%-28s %7s %9s %9s %14s %14s\n' "" certs "wall s" "cpu s" "certs/s wall" "certs/s cpu"
printf '%-28s %7s %9s %9s %14s %14s\n' "cactl issue --batch" "$N" "$cw" "$cc" "$crw" "$crc"
printf '%-28s %7s %9s %9s %14s %14s\n' "openssl req + x509 loop" "$M" "$ow" "$oc" "$orw" "$orc"
printf '%-28s %7s %9s %9s %14s %14s\n' "ratio cactl / openssl" "" "" "" "${ratio_w}x" "${ratio_c}x"
fw=$(field "$tmp/t.fixed" 1) fc=$(cpu "$tmp/t.fixed")
echo "cactl's times include one start, CA open and passphrase unlock; that fixed cost alone"
echo "(an empty 'cactl crl') is $fw s wall, $fc s cpu; without it cactl makes" \
	"$(rate "$N" "$(awk -v a="$cw" -v b="$fw" 'BEGIN { print a - b }')") certs/s wall," \
	"$(rate "$N" "$(awk -v a="$cc" -v b="$fc" 'BEGIN { print a - b }')") certs/s cpu"
echo
mark() { awk -v v="$1" -v g="$2" 'BEGIN { print (v >= g) ? "PASS" : "MISS" }'; }
echo "goal: >= 20x openssl loop, >= 2000 certs/s on one core"
echo "  >= 20x openssl loop:        ${ratio_w}x wall  $(mark "$ratio_w" 20)   (${ratio_c}x cpu  $(mark "$ratio_c" 20))"
echo "  >= 2000 certs/s on one core: $crw certs/s wall  $(mark "$crw" 2000)   ($crc certs/s cpu  $(mark "$crc" 2000))"
echo

# (d) a CRL with R revoked entries.
step "issuing $R certificates for the CRL"
names "$R" crl >"$tmp/names-d"
measure "$tmp/t.issue-d" $PIN "$CACTL" issue --batch --out-dir "$tmp/out-d" \
	<"$tmp/names-d" >"$tmp/issued-d" || die "cactl issue --batch (R=$R) failed"
cut -f1 "$tmp/issued-d" >"$tmp/serials"
got=$(wc -l <"$tmp/serials")
[ "$got" -eq "$R" ] || die "cactl issue --batch printed $got serials, expected $R"
step "revoking $R certificates"
measure "$tmp/t.revoke" $PIN "$CACTL" revoke --batch --reason cessationOfOperation \
	<"$tmp/serials" >/dev/null || die "cactl revoke --batch failed"
step "signing the CRL"
measure "$tmp/t.crl" $PIN "$CACTL" crl >"$tmp/crl.pem" || die "cactl crl failed"
size=$(wc -c <"$tmp/crl.pem" | tr -d ' ')
# openssl crl exits 0 even when the signature does not verify; it says so on stderr.
openssl crl -in "$tmp/crl.pem" -CAfile "$tmp/chain.pem" -noout 2>&1 | grep -q '^verify OK' ||
	die "openssl crl does not verify the CRL's signature"
entries=$(openssl crl -in "$tmp/crl.pem" -noout -text | grep -c 'Serial Number' || true)
echo "CRL with $R revoked entries (all $R issued and revoked in one batch each)"
line() { printf '  %-22s %s\n' "$1" "$2"; }
line "issue --batch $R:" "$(field "$tmp/t.issue-d" 1) s wall, $(cpu "$tmp/t.issue-d") s cpu"
line "revoke --batch $R:" "$(field "$tmp/t.revoke" 1) s wall, $(cpu "$tmp/t.revoke") s cpu"
line "cactl crl:" "$(field "$tmp/t.crl" 1) s wall, $(cpu "$tmp/t.crl") s cpu, $size bytes PEM"
if [ "$entries" -eq "$R" ]; then
	line "openssl crl -text:" "$entries entries, signature verified  OK"
else
	line "openssl crl -text:" "$entries entries, expected $R  MISMATCH"
	exit 1
fi
