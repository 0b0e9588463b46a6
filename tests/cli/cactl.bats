#!/usr/bin/env bats
# cactl end to end: the real binary, a real store in a temp WARREN_DIR, and real peers
# (openssl verify/crl/s_server/s_client/pkcs12, PyJWT) checking what it produces.

setup_file() {
  export BATS_CA=$(mktemp -d /tmp/warren-cactl.XXXXXX)
  export WARREN_DIR=$BATS_CA
  printf 'correct horse battery\n' > "$BATS_CA/pass"
  export CACTL_PASSPHRASE_FILE=$BATS_CA/pass
  cactl init --permit-dns example.com --permit-dns localhost --permit-ip 127.0.0.0/8 \
    --permit-ip ::1/128 >/dev/null
}

teardown_file() {
  rm -rf "$BATS_CA"
}

setup() {
  export WARREN_DIR=$BATS_CA
  export CACTL_PASSPHRASE_FILE=$BATS_CA/pass
  cd "$BATS_CA"
  PY=/usr/bin/python3
}

free_port() {
  $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_listen() {
  for i in $(seq 1 100); do
    ss -Hltn "sport = :$1" | grep -q LISTEN && return 0
    sleep 0.05
  done
  return 1
}

@test "help, version and usage errors follow the house format" {
  run cactl --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"Usage:"* ]]
  [[ "$output" == *"cactl [--dir DIR] [--passphrase-file FILE] [--json] [-q] [-v] COMMAND [ARGS]"* ]]
  run cactl --version
  [ "$status" -eq 0 ]
  [[ "$output" == cactl\ * ]]
  run cactl --no-such-flag
  [ "$status" -eq 64 ]
  [[ "${lines[0]}" == "cactl: "* ]]
  run cactl issue
  [ "$status" -eq 64 ]
  [[ "$output" == *"cactl: issue: give NAME or --batch"* ]]
  run cactl
  [ "$status" -eq 64 ]
}

@test "help output matches the golden files (update them with the CLI)" {
  g=$BATS_TEST_DIRNAME/golden
  diff -u "$g/cactl-help.txt" <(cactl --help)
  diff -u "$g/cactl-issue-help.txt" <(cactl issue --help)
}

@test "init wrote encrypted CA keys 0600 and refuses to run twice" {
  [ "$(stat -c %a ca/intermediate.key)" = 600 ]
  [ "$(stat -c %a ca/root.key)" = 600 ]
  grep -q 'BEGIN ENCRYPTED PRIVATE KEY' ca/intermediate.key
  openssl verify -CAfile ca/root.crt ca/intermediate.crt
  openssl x509 -in ca/intermediate.crt -noout -text | grep -q 'Name Constraints: critical'
  run cactl init
  [ "$status" -eq 1 ]
  [[ "$output" == "cactl: "*"a CA already exists"* ]]
}

@test "missing or wrong passphrase is 77, missing CA is 66" {
  run env -u CACTL_PASSPHRASE_FILE cactl issue nopass.example.com </dev/null
  [ "$status" -eq 77 ]
  [[ "$output" == "cactl: passphrase required"* ]]
  echo wrong > wrongpass
  run cactl --passphrase-file wrongpass issue nopass.example.com
  [ "$status" -eq 77 ]
  [[ "$output" == *"wrong passphrase"* ]]
  [ ! -e nopass.example.com.crt ]
  run cactl --dir "$BATS_CA/nowhere" list
  [ "$status" -eq 66 ]
  [[ "$output" == "cactl: "*"no CA here"* ]]
}

@test "issue: openssl verify accepts the chain; key is 0600; no silent overwrite" {
  run cactl issue web.example.com --san 127.0.0.1 --san DNS:api.example.com
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^[0-9a-f]{32}$'\t'web.example.com$ ]]
  [ "$(stat -c %a web.example.com.key)" = 600 ]
  openssl verify -CAfile ca/root.crt -untrusted ca/intermediate.crt web.example.com.crt
  openssl verify -CAfile ca/root.crt -untrusted web.example.com.fullchain.pem web.example.com.crt
  san=$(openssl x509 -in web.example.com.crt -noout -ext subjectAltName)
  [[ "$san" == *"DNS:web.example.com"* && "$san" == *"IP Address:127.0.0.1"* && "$san" == *"DNS:api.example.com"* ]]
  openssl x509 -in web.example.com.crt -noout -ext extendedKeyUsage | grep -q 'TLS Web Server Authentication'
  # The key matches the certificate.
  [ "$(openssl pkey -in web.example.com.key -pubout)" = "$(openssl x509 -in web.example.com.crt -pubkey -noout)" ]
  run cactl issue web.example.com
  [ "$status" -eq 1 ]
  [[ "$output" == *"file exists (use --force to replace)"* ]]
  run cactl issue web.example.com --force
  [ "$status" -eq 0 ]
}

@test "issue: Ed25519 and RSA-3072 leaves verify too" {
  cactl issue ed.example.com --key-type ed25519 >/dev/null
  openssl verify -CAfile ca/root.crt -untrusted ca/intermediate.crt ed.example.com.crt
  openssl pkey -in ed.example.com.key -noout -text | grep -q ED25519
  cactl issue rsa.example.com --key-type rsa3072 >/dev/null
  openssl verify -CAfile ca/root.crt -untrusted ca/intermediate.crt rsa.example.com.crt
  openssl x509 -in rsa.example.com.crt -noout -text | grep -q '3072 bit'
}

@test "name constraints: SANs outside are refused with 65 and nothing is recorded" {
  before=$(cactl list --json | wc -l)
  run cactl issue evil.org
  [ "$status" -eq 65 ]
  [[ "$output" == "cactl: issue evil.org: SAN DNS:evil.org is outside the CA's name constraints" ]]
  run cactl issue ok.example.com --san 10.1.1.1
  [ "$status" -eq 65 ]
  [ "$(cactl list --json | wc -l)" -eq "$before" ]
  [ ! -e ok.example.com.key ]
}

@test "bad input: unknown profile 64, bad SAN 65, bad days 64" {
  run cactl issue x.example.com --profile bogus
  [ "$status" -eq 64 ]
  [[ "$output" == *'unknown profile "bogus"'* ]]
  run cactl issue x.example.com --san 'IP:999.1.1.1'
  [ "$status" -eq 65 ]
  run cactl issue x.example.com --days 0
  [ "$status" -eq 64 ]
}

@test "sign: a CSR from openssl req on stdin becomes a verifiable chain" {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout csr.key \
    -subj /CN=svc.example.com -addext subjectAltName=DNS:svc.example.com,IP:127.0.0.2 \
    -out svc.csr 2>/dev/null
  cactl sign - < svc.csr > svc.pem
  openssl verify -CAfile ca/root.crt -untrusted svc.pem svc.pem
  openssl x509 -in svc.pem -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.2'
  [ "$(openssl pkey -in csr.key -pubout)" = "$(openssl x509 -in svc.pem -pubkey -noout)" ]
  # A CSR asking for a name outside the constraints is refused.
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -subj /CN=bad.org -addext subjectAltName=DNS:bad.org -out bad.csr 2>/dev/null
  run cactl sign bad.csr
  [ "$status" -eq 65 ]
}

@test "sign: malformed CSR is 65, missing file is 66" {
  printf -- '-----BEGIN CERTIFICATE REQUEST-----\nnot base64 at all\n-----END CERTIFICATE REQUEST-----\n' > junk.csr
  run cactl sign junk.csr
  [ "$status" -eq 65 ]
  [[ "$output" == "cactl: junk.csr: not a certificate signing request (PEM or DER)"* ]]
  run cactl sign does-not-exist.csr
  [ "$status" -eq 66 ]
  [[ "$output" == "cactl: does-not-exist.csr: No such file or directory" ]]
  run cactl sign - < /dev/null
  [ "$status" -eq 65 ]
}

@test "list, show and the JSON listing agree" {
  run cactl list
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "SERIAL"*"STATUS"*"PROFILE"*"NOT AFTER"*"NAME" ]]
  serial=$(cactl list --json | $PY -c 'import json,sys
for l in sys.stdin:
    o=json.loads(l)
    if o["name"]=="web.example.com": print(o["serial"]); break')
  [ -n "$serial" ]
  cactl show "$serial" --json | $PY -c 'import json,sys; o=json.load(sys.stdin); assert o["status"]=="valid" and o["profile"]=="server", o'
  run cactl show "${serial:0:8}"
  [ "$status" -eq 0 ]
  [[ "$output" == *"name:        web.example.com"* ]]
  cactl show "$serial" --pem | openssl x509 -noout -serial | grep -qi "$serial"
  run cactl show ffffffffffffffffffff
  [ "$status" -eq 66 ]
  run cactl show xyz
  [ "$status" -eq 64 ]
  run cactl show "${serial:0:3}"
  [ "$status" -eq 64 ]
  [[ "$output" == *"too short (give at least 6 hex digits)"* ]]
}

@test "batch issue: names on stdin, one transaction, all or nothing" {
  mkdir -p batch
  printf 'b1.example.com\n# comment\n\nb2.example.com 127.0.0.9\nb3.example.com\n' | cactl issue --batch --out-dir batch > batch.out
  [ "$(wc -l < batch.out)" -eq 3 ]
  for n in b1 b2 b3; do openssl verify -CAfile ca/root.crt -untrusted ca/intermediate.crt batch/$n.example.com.crt; done
  openssl x509 -in batch/b2.example.com.crt -noout -ext subjectAltName | grep -q 127.0.0.9
  before=$(cactl list --json | wc -l)
  run sh -c 'printf "b4.example.com\nb5.evil.org\n" | cactl issue --batch --out-dir batch'
  [ "$status" -eq 65 ]
  [ "$(cactl list --json | wc -l)" -eq "$before" ]
  [ ! -e batch/b4.example.com.crt ]
}

@test "revoke + crl: openssl verifies the CRL, lists the serial and rejects the cert" {
  cactl issue gone.example.com >/dev/null
  serial=$(openssl x509 -in gone.example.com.crt -noout -serial | cut -d= -f2 | tr A-F a-f)
  run cactl revoke "$serial" --reason keyCompromise
  [ "$status" -eq 0 ]
  [[ "$output" == "$serial	revoked	keyCompromise" ]]
  run cactl revoke "$serial"
  [ "$status" -eq 1 ]
  run cactl revoke "$serial" --reason notAReason
  [ "$status" -eq 64 ]
  cactl crl > crl.pem
  openssl crl -in crl.pem -CAfile ca/chain.pem -noout 2>&1 | grep -q 'verify OK'
  openssl crl -in crl.pem -noout -text | grep -qi "serial number: $serial"
  openssl crl -in crl.pem -noout -text | grep -q 'Key Compromise'
  run openssl verify -crl_check -CRLfile crl.pem -CAfile ca/root.crt -untrusted ca/intermediate.crt gone.example.com.crt
  [ "$status" -ne 0 ]
  [[ "$output" == *"certificate revoked"* ]]
  openssl verify -crl_check -CRLfile crl.pem -CAfile ca/root.crt -untrusted ca/intermediate.crt web.example.com.crt
  # CRL numbers increase; DER output parses.
  n1=$(openssl crl -in crl.pem -noout -crlnumber | cut -d= -f2)
  cactl crl --der --days 2 > crl.der
  n2=$(openssl crl -inform DER -in crl.der -noout -crlnumber | cut -d= -f2)
  [ $((n2)) -gt $((n1)) ]
  cactl list --revoked --json | grep -q "$serial"
}

@test "verify: OK for a good cert, 1 for a revoked one, and against a CRL file" {
  run cactl verify web.example.com.crt
  [ "$status" -eq 0 ]
  [ "$output" = "web.example.com.crt: OK" ]
  run cactl verify gone.example.com.crt
  [ "$status" -eq 1 ]
  [[ "$output" == "cactl: gone.example.com.crt: certificate revoked (keyCompromise)" ]]
  run cactl verify --crl crl.pem gone.example.com.crt
  [ "$status" -eq 1 ]
  run cactl verify - < web.example.com.fullchain.pem
  [ "$status" -eq 0 ]
  run cactl verify ca/root.crt.nope
  [ "$status" -eq 66 ]
  echo "garbage" > g.pem
  run cactl verify g.pem
  [ "$status" -eq 65 ]
}

start_mtls_server() { # PORT OUT: an s_server that requires a client cert from our CA and echoes lines reversed
  openssl s_server -accept "127.0.0.1:$1" -cert localhost.crt -key localhost.key \
    -cert_chain ca/intermediate.crt -CAfile ca/chain.pem -Verify 2 -verify_return_error \
    -naccept 1 -rev > "$2" 2>&1 &
  spid=$!
  wait_listen "$1"
}

@test "mTLS: openssl s_server with an issued server cert accepts an issued client cert" {
  cactl issue localhost --san 127.0.0.1 >/dev/null
  cactl issue alice@example.com --profile client --out-dir . >/dev/null
  port=$(free_port)
  start_mtls_server "$port" server.out
  run sh -c "(printf 'hello-mtls\n'; sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:$port \
    -servername localhost -cert alice@example.com.crt -key alice@example.com.key \
    -CAfile ca/root.crt -verify_return_error -brief 2>&1"
  kill $spid 2>/dev/null || true; wait $spid 2>/dev/null || true
  [ "$status" -eq 0 ]
  [[ "$output" == *"Verification: OK"* ]]
  [[ "$output" == *"sltm-olleh"* ]]
}

@test "mTLS: a server-only cert or a foreign CA's cert is refused as a client cert" {
  port=$(free_port)
  start_mtls_server "$port" server2.out
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout foreign.key \
    -subj /CN=mallory -days 1 -out foreign.crt 2>/dev/null
  run sh -c "(printf 'hello-mtls\n'; sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:$port \
    -cert foreign.crt -key foreign.key -CAfile ca/root.crt -brief 2>&1"
  kill $spid 2>/dev/null || true; wait $spid 2>/dev/null || true
  [[ "$output" != *"sltm-olleh"* ]]
  port=$(free_port)
  start_mtls_server "$port" server3.out
  run sh -c "(printf 'hello-mtls\n'; sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:$port \
    -cert localhost.crt -key localhost.key -CAfile ca/root.crt -brief 2>&1"
  kill $spid 2>/dev/null || true; wait $spid 2>/dev/null || true
  [[ "$output" != *"sltm-olleh"* ]]
  grep -q 'unsuitable certificate purpose' server3.out
}

@test "renew keeps or replaces the key and links to the old serial" {
  old=$(cactl issue renew.example.com --days 10 | cut -f1)
  oldpub=$(openssl x509 -in renew.example.com.crt -pubkey -noout)
  new=$(cactl renew "$old" | cut -f1)
  [ "$new" != "$old" ]
  [ "$(openssl x509 -in renew.example.com.crt -pubkey -noout)" = "$oldpub" ]
  cactl show "$new" --json | $PY -c "import json,sys; o=json.load(sys.stdin); assert o['renewed_from']=='$old'"
  new2=$(cactl renew "$new" --new-key --revoke-old | cut -f1)
  [ "$(openssl x509 -in renew.example.com.crt -pubkey -noout)" != "$oldpub" ]
  [ "$(openssl pkey -in renew.example.com.key -pubout)" = "$(openssl x509 -in renew.example.com.crt -pubkey -noout)" ]
  cactl show "$new" --json | grep -q '"status":"revoked"'
  openssl verify -CAfile ca/root.crt -untrusted ca/intermediate.crt renew.example.com.crt
}

@test "export: root, intermediate, chain; DER parses; PKCS#12 opens with openssl" {
  cmp <(cactl export root) ca/root.crt
  cactl export intermediate --der | openssl x509 -inform DER -noout -subject | grep -q 'Intermediate'
  [ "$(cactl export chain | grep -c 'BEGIN CERTIFICATE')" -eq 2 ]
  run cactl export chain --der
  [ "$status" -eq 64 ]
  printf 'p12pass\n' > p12pass
  cactl issue bundle.example.com --p12 bundle.p12 --p12-passphrase-file p12pass >/dev/null
  openssl pkcs12 -in bundle.p12 -passin pass:p12pass -nodes 2>/dev/null | grep -q 'BEGIN PRIVATE KEY'
  [ "$(openssl pkcs12 -in bundle.p12 -passin pass:p12pass -nokeys 2>/dev/null | grep -c 'BEGIN CERTIFICATE')" -eq 3 ]
  run openssl pkcs12 -in bundle.p12 -passin pass:wrong -nodes
  [ "$status" -ne 0 ]
}

@test "list filters: --expiring and --expired follow the clock" {
  cactl issue short.example.com --days 3 >/dev/null
  cactl list --expiring 5 --json | grep -q short.example.com
  ! cactl list --expiring 1 --json | grep -q short.example.com
  WARREN_FAKE_NOW=$(( $(date +%s) + 4 * 86400 )) cactl list --expired --json | grep -q short.example.com
  ! cactl list --valid --json | grep -q gone.example.com
  run cactl list --valid --revoked
  [ "$status" -eq 64 ]
}

@test "token: issued JWT verifies with PyJWT through the JWKS" {
  tok=$(cactl token issue --sub alice --aud edge --claim role='"admin"' --claim n=5 --ttl 10m)
  cactl token jwks > jwks.json
  run $PY - "$tok" <<'EOF'
import sys, json, jwt
tok = sys.argv[1]
keys = json.load(open("jwks.json"))["keys"]
kid = jwt.get_unverified_header(tok)["kid"]
k = [k for k in keys if k["kid"] == kid][0]
c = jwt.decode(tok, jwt.PyJWK(k).key, algorithms=["EdDSA"], audience="edge")
assert c["sub"] == "alice" and c["role"] == "admin" and c["n"] == 5, c
print("pyjwt-ok")
EOF
  [ "$status" -eq 0 ]
  [ "$output" = "pyjwt-ok" ]
  es=$(cactl token issue --sub bob --alg ES256)
  $PY -c "
import sys, json, jwt
t=sys.argv[1]; keys=json.load(open('jwks.json'))['keys']; kid=jwt.get_unverified_header(t)['kid']
k=[k for k in keys if k['kid']==kid][0]; assert jwt.decode(t, jwt.PyJWK(k).key, algorithms=['ES256'])['sub']=='bob'" "$es"
}

@test "token: PyJWT-signed token with the exported key verifies with cactl; checks bite" {
  cactl token key --private > tok.pem
  [ "$(cactl token key --alg ES256 | head -1)" = "-----BEGIN PUBLIC KEY-----" ]
  $PY - > py.jwt <<'EOF'
import jwt, time
key = open("tok.pem").read()
print(jwt.encode({"sub": "carol", "aud": "edge", "exp": int(time.time()) + 60, "jti": "py-jti-1"}, key, algorithm="EdDSA"))
EOF
  run cactl token verify - --aud edge < py.jwt
  [ "$status" -eq 0 ]
  [[ "$output" == *'"sub":"carol"'* ]]
  run cactl token verify "$(cat py.jwt)" --aud other
  [ "$status" -eq 1 ]
  [ "$output" = "cactl: token: audience does not match" ]
  $PY - > expired.jwt <<'EOF'
import jwt, time
print(jwt.encode({"sub": "x", "exp": int(time.time()) - 3600}, open("tok.pem").read(), algorithm="EdDSA"))
EOF
  run cactl token verify - < expired.jwt
  [ "$status" -eq 1 ]
  [[ "$output" == "cactl: token: token expired at "* ]]
  # A key we never exported does not verify.
  openssl genpkey -algorithm ed25519 -out other.pem
  $PY -c 'import jwt; print(jwt.encode({"sub":"m"}, open("other.pem").read(), algorithm="EdDSA"))' > other.jwt
  run cactl token verify - < other.jwt
  [ "$status" -eq 1 ]
  # Verification against a JWKS file or a PEM key works without the CA's keys.
  openssl pkey -in tok.pem -pubout > tok.pub
  cactl token verify --key tok.pub - < py.jwt >/dev/null
  cactl token verify --jwks jwks.json - < py.jwt >/dev/null
  run cactl token verify "not.a.jwt"
  [ "$status" -eq 65 ]
}

@test "token: revocation by jti or by token is honoured" {
  tok=$(cactl token issue --sub dave --ttl 5m)
  cactl token verify "$tok" >/dev/null
  run cactl token revoke - <<< "$tok"
  [ "$status" -eq 0 ]
  run cactl token verify "$tok"
  [ "$status" -eq 1 ]
  [[ "$output" == "cactl: token: revoked at "* ]]
  run cactl token revoke "$tok"
  [ "$status" -eq 1 ]
  run cactl token issue --sub x --claim exp=5
  [ "$status" -eq 64 ]
  run cactl token issue --sub x --ttl forever
  [ "$status" -eq 64 ]
}

@test "every change is in the audit log" {
  run sqlite3 warren.db "SELECT action FROM audit ORDER BY id"
  [[ "$output" == *"ca.init"* && "$output" == *"cert.issue"* && "$output" == *"cert.revoke"* ]]
  [[ "$output" == *"crl.sign"* && "$output" == *"cert.renew"* && "$output" == *"token.issue"* && "$output" == *"token.revoke"* ]]
  run sqlite3 warren.db "DELETE FROM audit"
  [ "$status" -ne 0 ]
}

@test "a store newer than the binary is refused with 78; a locked store is 75" {
  d=$(mktemp -d)
  WARREN_DIR=$d cactl init --no-passphrase >/dev/null 2>&1
  sqlite3 "$d/warren.db" "PRAGMA user_version=999"
  run env WARREN_DIR=$d cactl list
  [ "$status" -eq 78 ]
  [[ "$output" == *"newer than this binary"* ]]
  sqlite3 "$d/warren.db" "PRAGMA user_version=2"
  # Hold the write lock from another process while cactl wants to write.
  ( sqlite3 "$d/warren.db" "BEGIN IMMEDIATE; SELECT 1; " ".shell touch '$d/locked'; sleep 8" "COMMIT;" >/dev/null 2>&1 & )
  for _ in $(seq 1 100); do [ -e "$d/locked" ] && break; sleep 0.05; done
  [ -e "$d/locked" ]
  run env WARREN_DIR=$d cactl revoke --batch <<< "00aa"
  [ "$status" -eq 75 ]
  rm -rf "$d"
}

@test "--no-passphrase warns on stderr and leaves keys readable without a passphrase" {
  d=$(mktemp -d)
  run env -u CACTL_PASSPHRASE_FILE WARREN_DIR=$d cactl init --no-passphrase --key-type ed25519
  [ "$status" -eq 0 ]
  [[ "$output" == *"cactl: warning: CA keys are stored unencrypted"* ]]
  grep -q 'BEGIN PRIVATE KEY' "$d/ca/intermediate.key"
  run env -u CACTL_PASSPHRASE_FILE WARREN_DIR=$d cactl issue --out-dir "$d" a.b.example
  [ "$status" -eq 0 ]
  openssl verify -CAfile "$d/ca/root.crt" -untrusted "$d/ca/intermediate.crt" "$d/a.b.example.crt"
  rm -rf "$d"
}
