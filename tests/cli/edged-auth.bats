#!/usr/bin/env bats
# edged access control, end to end with curl: the portal (password, PIN, users with roles and
# TOTP, emailed codes through a sendmail stand-in), share links (query token stripped by a
# redirect, header pair, path limit, revocation), HTTP Basic (API keys, users), mTLS with
# cactl certificates, rules (ACCEPT/DROP/PASS by IP, path, method), brute-force lockout, the
# rate limit, cookie tampering and cookies of another resource, identity headers and the JWT
# assertion (verified with PyJWT against the published JWKS), logout and revocation, bad form
# posts and open redirects, the audit trail, and a store that stops answering (503, never
# allow). Resources and secrets are set with peerctl; the origin echoes what edged sent.

load edged-common

PY=/usr/bin/python3

auth_setup() {
  cactl --dir "$T" init --no-passphrase >/dev/null 2>&1
  start echo $PY "$T/h.py" echo-origin e1 "$T/origin.log"
  ORIGIN=$ADDR
  cat >"$T/sendmail" <<EOF
#!/bin/sh
cat >>"$T/mail.txt"
EOF
  chmod +x "$T/sendmail"
  cat >"$T/edged.toml" <<EOF
threads = 2
$1
[http]
listen = ["127.0.0.1:0"]
[reload]
store_poll = "100ms"
[auth]
audit_log = "audit.log"
mail_command = "$T/sendmail"
mail_from = "warren@edge.test"
$2
EOF
}

# resource NAME HOST [peerctl resource auth options...]
resource() {
  local name=$1 host=$2
  shift 2
  peerctl --dir "$T" resource add "$name" --host "$host" --target "$ORIGIN" >/dev/null
  if [ $# -gt 0 ]; then peerctl --dir "$T" resource auth "$name" "$@" >/dev/null; fi
}


@test "password: a browser is sent to the portal, logs in, reaches the origin with a session" {
  auth_setup
  resource app app.test
  printf 'hunter2-correct\n' | peerctl --dir "$T" resource auth app --password-file - >/dev/null
  edged_start
  run curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: app.test' "http://$HTTP/docs/a?b=1"
  [ "$output" = "302 http://$HTTP/.warren/auth/login?rd=%2Fdocs%2Fa%3Fb%3D1" ]
  # the page offers the password form, carries the return URL and the security headers
  run curl -s -D - -H 'Host: app.test' "http://$HTTP/.warren/auth/login?rd=%2Fdocs%2Fa%3Fb%3D1"
  [[ "$output" == *'name="password"'* ]]
  [[ "$output" == *'value="/docs/a?b=1"'* ]]
  [[ "$output" == *"Content-Security-Policy: default-src 'none'"*"frame-ancestors 'none'"* ]]
  [[ "$output" != *'name="pin"'* ]]
  login app.test 'method=password&password=wrong&rd=/docs/a'
  [ "$LOGIN" = 401 ]
  [ -z "$COOKIE" ]
  grep -q 'role="alert"' "$T/login.html"
  login app.test 'method=password&password=hunter2-correct&rd=/docs/a'
  [ "$LOGIN" = 303 ]
  [ "$LOCATION" = /docs/a ]
  [[ "$COOKIE" == warren_session=* ]]
  run curl -s -H 'Host: app.test' -H "Cookie: $COOKIE" "http://$HTTP/docs/a"
  [[ "$output" == "GET /docs/a HTTP/1.1"* ]]
  # the session cookie is not passed on to the origin
  [[ "$output" != *warren_session* ]]
  # the cookie is HttpOnly, SameSite=Lax, host-only (no Domain)
  run curl -s -D - -o /dev/null -H 'Host: app.test' --data 'method=password&password=hunter2-correct' "http://$HTTP/.warren/auth/login"
  [[ "$output" == *"HttpOnly"*"SameSite=Lax"* ]]
  [[ "$output" != *"Domain="* ]]
}

@test "PIN with its digit count; users with roles and TOTP; a user without the role is refused" {
  auth_setup
  resource pinned pin.test
  printf '4821\n' | peerctl --dir "$T" resource auth pinned --pin-file - --pin-digits 4 >/dev/null
  peerctl --dir "$T" role add staff >/dev/null
  resource team team.test --users --role staff
  printf 'alice-pass-1\n' | peerctl --dir "$T" user add alice@example.com --name 'Alice A' --role staff --password-file - >/dev/null
  printf 'bob-pass-1\n' | peerctl --dir "$T" user add bob@example.com --password-file - >/dev/null
  edged_start
  login pin.test 'method=pin&pin=1234'
  [ "$LOGIN" = 401 ]
  login pin.test 'method=pin&pin=48211'
  [ "$LOGIN" = 401 ]
  login pin.test 'method=pin&pin=4821'
  [ "$LOGIN" = 303 ]
  [ "$(code_of "http://$HTTP/" -H 'Host: pin.test' -H "Cookie: $COOKIE")" = 200 ]

  login team.test 'method=users&email=bob%40example.com&password=bob-pass-1'
  [ "$LOGIN" = 403 ] || [ "$LOGIN" = 401 ]
  login team.test 'method=users&email=alice%40example.com&password=wrong'
  [ "$LOGIN" = 401 ]
  login team.test 'method=users&email=ALICE%40example.com&password=alice-pass-1'
  [ "$LOGIN" = 303 ]
  run curl -s -H 'Host: team.test' -H "Cookie: $COOKIE" "http://$HTTP/"
  [[ "$output" == *"Remote-User: alice@example.com"* ]]
  [[ "$output" == *"Remote-Email: alice@example.com"* ]]
  [[ "$output" == *"Remote-Name: Alice A"* ]]
  [[ "$output" == *"Remote-Role: staff"* ]]

  # TOTP: enrolled, a login needs the current code
  uri=$(peerctl --dir "$T" user set alice@example.com --totp | grep -o 'otpauth://[^ ]*')
  secret=$(printf '%s' "$uri" | sed 's/.*secret=\([A-Z2-7]*\).*/\1/')
  login team.test 'method=users&email=alice%40example.com&password=alice-pass-1'
  [ "$LOGIN" = 401 ]
  code=$($PY -c 'import base64,hmac,hashlib,struct,sys,time
k=base64.b32decode(sys.argv[1]+"="*(-len(sys.argv[1])%8)); c=int(time.time())//30
h=hmac.new(k,struct.pack(">Q",c),hashlib.sha1).digest(); o=h[-1]&15
print("%06d"%((struct.unpack(">I",h[o:o+4])[0]&0x7fffffff)%1000000))' "$secret")
  login team.test "method=users&email=alice%40example.com&password=alice-pass-1&totp=$code"
  [ "$LOGIN" = 303 ]
  # the same code is not accepted twice
  login team.test "method=users&email=alice%40example.com&password=alice-pass-1&totp=$code"
  [ "$LOGIN" = 401 ]
}

@test "emailed code: delivered through the mail command, 8 characters, once, allow-listed only" {
  auth_setup
  resource mail mail.test --email-allow @example.com --email-allow carol@other.test
  edged_start
  run curl -s -H 'Host: mail.test' --data 'email=mallory%40evil.test' "http://$HTTP/.warren/auth/email"
  [[ "$output" == *"If the address may sign in here"* ]]
  sleep 0.3
  [ ! -s "$T/mail.txt" ]
  run curl -s -H 'Host: mail.test' --data 'email=dave%40example.com&rd=/inbox' "http://$HTTP/.warren/auth/email"
  [[ "$output" == *"If the address may sign in here"* ]]
  wait_for grep -q '^To: dave@example.com' "$T/mail.txt"
  grep -q '^From: warren@edge.test' "$T/mail.txt"
  grep -q '^Subject: ' "$T/mail.txt"
  code=$(grep -Eo '\b[A-Z0-9]{4}-?[A-Z0-9]{4}\b' "$T/mail.txt" | tail -1)
  [ -n "$code" ]
  [ "$(printf '%s' "$code" | tr -d '-' | wc -c)" = 8 ]
  login mail.test 'method=email&email=dave%40example.com&code=WRONG123'
  [ "$LOGIN" = 401 ]
  login mail.test "method=email&email=dave%40example.com&code=$code&rd=/inbox"
  [ "$LOGIN" = 303 ]
  [ "$LOCATION" = /inbox ]
  run curl -s -H 'Host: mail.test' -H "Cookie: $COOKIE" "http://$HTTP/inbox"
  [[ "$output" == *"Remote-Email: dave@example.com"* ]]
  login mail.test "method=email&email=dave%40example.com&code=$code"
  [ "$LOGIN" = 401 ]
}

@test "share links: the query token becomes a cookie and leaves the URL; header pair; path limit; revoke" {
  auth_setup
  resource shared share.test --share-links
  edged_start
  url=$(peerctl --dir "$T" link create shared --path /files | grep -o 'http[^ ]*warren_token=[^ &]*')
  tok=${url##*warren_token=}
  # the URL carries the port edged listens on (published in the store when edged starts)
  [[ "$url" == "http://share.test:${HTTP##*:}/files?warren_token="* ]]
  run curl -s -D - -o /dev/null -H 'Host: share.test' "http://$HTTP/files/a.txt?x=1&warren_token=$tok"
  [[ "$output" == "HTTP/1.1 302"* ]]
  [[ "$output" == *"Location: /files/a.txt?x=1"* ]]
  cookie=$(printf '%s' "$output" | tr -d '\r' | sed -n 's/^Set-Cookie: \([^;]*\).*/\1/p')
  [ -n "$cookie" ]
  run curl -s -H 'Host: share.test' -H "Cookie: $cookie" "http://$HTTP/files/a.txt?x=1"
  [[ "$output" == "GET /files/a.txt?x=1 HTTP/1.1"* ]]
  # limited to /files
  [ "$(code_of "http://$HTTP/other" -H 'Host: share.test' -H "Cookie: $cookie")" = 401 ]
  # machines: the header pair, no cookie, and the headers never reach the origin
  id=${tok%%.*}
  sec=${tok#*.}
  run curl -s -H 'Host: share.test' -H "Warren-Token-Id: $id" -H "Warren-Token: $sec" "http://$HTTP/files/b"
  [[ "$output" == "GET /files/b HTTP/1.1"* ]]
  [[ "$output" != *"Warren-Token"* ]]
  [ "$(code_of "http://$HTTP/files/b" -H 'Host: share.test' -H "Warren-Token-Id: $id" -H 'Warren-Token: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')" = 401 ]
  # revoking the link ends its sessions too
  peerctl --dir "$T" link revoke "$id" >/dev/null
  revoked() { [ "$(code_of "http://$HTTP/files/a.txt" -H 'Host: share.test' -H "Cookie: $cookie")" = 401 ]; }
  wait_for revoked
}

@test "Basic: API keys and users for machines; wrong credentials get 401 with a challenge" {
  auth_setup
  resource api api.test --basic
  printf 'erin-pass-1\n' | peerctl --dir "$T" user add erin@example.com --password-file - >/dev/null
  edged_start
  key=$(peerctl --dir "$T" apikey create --resource api --json)
  kid=$(jget "$key" 'd["id"]')
  ksec=$(jget "$key" 'd["secret"]')
  run curl -s -u "$kid:$ksec" -H 'Host: api.test' "http://$HTTP/v1"
  [[ "$output" == "GET /v1 HTTP/1.1"* ]]
  [[ "$output" != *"Authorization:"* ]]
  run curl -s -u 'erin@example.com:erin-pass-1' -H 'Host: api.test' "http://$HTTP/v1"
  [[ "$output" == *"Remote-User: erin@example.com"* ]]
  run curl -s -D - -o /dev/null -u "$kid:nope" -H 'Host: api.test' "http://$HTTP/v1"
  [[ "$output" == "HTTP/1.1 401"* ]]
  [[ "$output" == *'WWW-Authenticate: Basic realm="api"'* ]]
  [ "$(code_of "http://$HTTP/v1" -H 'Host: api.test' -H 'Authorization: Basic !!!')" = 400 ]
  peerctl --dir "$T" apikey revoke "$kid" >/dev/null
  gone() { [ "$(code_of "http://$HTTP/v1" -u "$kid:$ksec" -H 'Host: api.test')" = 401 ]; }
  wait_for gone
}

@test "rules: ACCEPT skips auth, DROP denies, PASS goes on; by CIDR, path glob and method" {
  auth_setup
  resource ruled rules.test --basic
  peerctl --dir "$T" rule add ruled --action ACCEPT --priority 10 --path '/public/**' >/dev/null
  peerctl --dir "$T" rule add ruled --action DROP --priority 20 --method DELETE >/dev/null
  peerctl --dir "$T" rule add ruled --action DROP --priority 30 --ip 10.0.0.0/8 >/dev/null
  peerctl --dir "$T" rule add ruled --action PASS --priority 40 --ip 127.0.0.0/8 >/dev/null
  edged_start
  [ "$(code_of "http://$HTTP/public/x/y.css" -H 'Host: rules.test')" = 200 ]
  [ "$(code_of "http://$HTTP/public/../private" -H 'Host: rules.test')" = 401 ]
  [ "$(code_of "http://$HTTP/public/a" -X DELETE -H 'Host: rules.test')" = 200 ]
  [ "$(code_of "http://$HTTP/x" -X DELETE -H 'Host: rules.test')" = 403 ]
  [ "$(code_of "http://$HTTP/x" -H 'Host: rules.test')" = 401 ]
  wait_for grep -q '"reason":"rule_drop"' "$T/audit.log"
  wait_for grep -q '"reason":"rule_accept"' "$T/audit.log"
}

@test "brute force backs off and locks out; the rate limit answers 429 with Retry-After" {
  # The 4th failure locks out (for 15 minutes, not a 1 s wait that a slow machine could miss).
  auth_setup "" 'max_failures = 4'
  resource locked lock.test
  printf 'right-pass-9\n' | peerctl --dir "$T" resource auth locked --password-file - >/dev/null
  resource limited rate.test --public --rate 5 --burst 5
  edged_start
  for i in 1 2 3; do
    login lock.test 'method=password&password=bad'
    [ "$LOGIN" = 401 ]
  done
  login lock.test 'method=password&password=bad'
  login lock.test 'method=password&password=right-pass-9'
  [ "$LOGIN" = 429 ]
  grep -q '^Retry-After: [0-9]' "$T/login.hdr"
  # (kept in the store by edged's writer thread, a moment later)
  wait_for sh -c "sqlite3 '$T/warren.db' 'SELECT failures FROM auth_failures' | grep -q '^[4-9]\$'"
  # 20 requests on one connection, faster than 5/s refills
  codes=" $(curl -s -o "$T/r#1" -w '%{http_code} ' -H 'Host: rate.test' "http://$HTTP/[1-20]")"
  [[ "$codes" == *" 200"* ]]
  [[ "$codes" == *" 429"* ]]
  for i in $(seq 1 20); do
    curl -s -D "$T/rate.hdr" -o /dev/null -H 'Host: rate.test' "http://$HTTP/"
    head -1 "$T/rate.hdr" | grep -q 429 && break
  done
  head -1 "$T/rate.hdr" | grep -q 429
  grep -q '^Retry-After: [1-9]' "$T/rate.hdr"
}

@test "tampered cookies and cookies of another resource count as no session" {
  auth_setup
  resource one one.test
  printf 'pass-one-1\n' | peerctl --dir "$T" resource auth one --password-file - >/dev/null
  resource two two.test
  printf 'pass-two-2\n' | peerctl --dir "$T" resource auth two --password-file - >/dev/null
  edged_start
  login one.test 'method=password&password=pass-one-1'
  [ "$LOGIN" = 303 ]
  good=$COOKIE
  [ "$(code_of "http://$HTTP/" -H 'Host: one.test' -H "Cookie: $good")" = 200 ]
  [ "$(code_of "http://$HTTP/" -H 'Host: two.test' -H "Cookie: $good")" = 302 ]
  flipped=$(printf '%s' "$good" | sed 's/.$/A/')
  [ "$flipped" != "$good" ] || flipped=$(printf '%s' "$good" | sed 's/.$/B/')
  [ "$(code_of "http://$HTTP/" -H 'Host: one.test' -H "Cookie: $flipped")" = 302 ]
  [ "$(code_of "http://$HTTP/" -H 'Host: one.test' -H "Cookie: ${good}xx")" = 302 ]
  [ "$(code_of "http://$HTTP/" -H 'Host: one.test' -H 'Cookie: warren_session=')" = 302 ]
  # logout ends it; revocation from the store ends the others within a second
  [ "$(code_of "http://$HTTP/.warren/auth/logout" -H 'Host: one.test' -H "Cookie: $good" -X POST)" = 303 ]
  [ "$(code_of "http://$HTTP/" -H 'Host: one.test' -H "Cookie: $good")" = 302 ]
  login one.test 'method=password&password=pass-one-1'
  again=$COOKIE
  [ "$(code_of "http://$HTTP/" -H 'Host: one.test' -H "Cookie: $again")" = 200 ]
  peerctl --dir "$T" session revoke --resource one >/dev/null
  out() { [ "$(code_of "http://$HTTP/" -H 'Host: one.test' -H "Cookie: $again")" = 302 ]; }
  wait_for out
}

@test "identity headers from clients are stripped; the JWT assertion verifies with PyJWT" {
  auth_setup "" "assertion_key = \"assert.pem\"
assertion_audience = \"app.internal\""
  cactl --dir "$T" token key --alg EdDSA --private >"$T/assert.pem" 2>/dev/null ||
    openssl genpkey -algorithm ed25519 -out "$T/assert.pem"
  resource app app.test --basic
  printf 'frank-pass-1\n' | peerctl --dir "$T" user add frank@example.com --name Frank --password-file - >/dev/null
  edged_start
  run curl -s -u 'frank@example.com:frank-pass-1' -H 'Host: app.test' -H 'Remote-User: admin' \
    -H 'Remote_Role: admin' -H 'Warren-Jwt-Assertion: forged' "http://$HTTP/"
  [[ "$output" == *"Remote-User: frank@example.com"* ]]
  [[ "$output" != *"Remote-User: admin"* ]]
  [[ "$output" != *"Remote_Role"* ]]
  [[ "$output" != *"forged"* ]]
  jwt=$(printf '%s\n' "$output" | tr -d '\r' | sed -n 's/^Warren-Jwt-Assertion: //p')
  [ -n "$jwt" ]
  curl -s -H 'Host: app.test' "http://$HTTP/.warren/auth/jwks.json" >"$T/jwks.json"
  run $PY - "$T/jwks.json" "$jwt" <<'EOF'
import json, sys, jwt
keys = json.load(open(sys.argv[1]))["keys"]
tok = sys.argv[2]
kid = jwt.get_unverified_header(tok)["kid"]
k = [k for k in keys if k["kid"] == kid][0]
pub = jwt.PyJWK(k).key
c = jwt.decode(tok, pub, algorithms=["EdDSA"], audience="app.internal", issuer="warren-edged")
print(c["sub"], c["email"], c["name"], ",".join(c["amr"]))
EOF
  [ "$status" -eq 0 ]
  [ "$output" = "frank@example.com frank@example.com Frank basic" ]
}

@test "mTLS: a cactl client certificate is enough; none or a foreign one is not" {
  auth_setup "" ""
  cactl --dir "$T" issue edge.test --out-dir "$T" >/dev/null 2>&1
  cactl --dir "$T" issue robot@example.com --profile client --out-dir "$T" >/dev/null 2>&1
  cat >>"$T/edged.toml" <<EOF
[https]
listen = ["127.0.0.1:0"]
cert = "edge.test.fullchain.pem"
key = "edge.test.key"
EOF
  peerctl --dir "$T" resource add secure --host edge.test --target "$ORIGIN" \
    --client-ca "$T/ca/chain.pem" --mtls-mode optional >/dev/null
  peerctl --dir "$T" resource auth secure --mtls >/dev/null
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=stranger \
    -keyout "$T/stranger.key" -out "$T/stranger.crt" -days 1 2>/dev/null
  edged_start
  port=${HTTPS##*:}
  pin=(--resolve "edge.test:$port:127.0.0.1" --cacert "$T/ca/root.crt")
  run curl -s "${pin[@]}" --cert "$T/robot@example.com.crt" --key "$T/robot@example.com.key" \
    "https://edge.test:$port/m"
  [[ "$output" == "GET /m HTTP/1.1"* ]]
  [[ "$output" == *"Remote-User: "*robot@example.com* ]]
  [ "$(code_of "https://edge.test:$port/m" "${pin[@]}")" = 401 ]
  run curl -s -o /dev/null -w '%{http_code}' "${pin[@]}" --cert "$T/stranger.crt" \
    --key "$T/stranger.key" "https://edge.test:$port/m"
  [ "$output" != 200 ]
}

@test "bad posts are 400/413, cross-site posts 403, return URLs stay on the host" {
  auth_setup
  resource app app.test
  printf 'good-pass-7\n' | peerctl --dir "$T" resource auth app --password-file - >/dev/null
  edged_start
  [ "$(code_of "http://$HTTP/.warren/auth/login" -H 'Host: app.test' --data 'method=password&password=%zz')" = 400 ]
  head -c 9000 /dev/zero | tr '\0' a >"$T/big"
  [ "$(code_of "http://$HTTP/.warren/auth/login" -H 'Host: app.test' --data-binary "@$T/big")" = 413 ]
  [ "$(code_of "http://$HTTP/.warren/auth/login" -H 'Host: app.test' -H 'Origin: https://evil.test' --data 'method=password&password=good-pass-7')" = 403 ]
  # a body that arrives after the head (Expect: 100-continue), from the same origin
  run curl -s -o /dev/null -w '%{http_code}' -H 'Host: app.test' -H 'Expect: 100-continue' \
    -H 'Origin: http://app.test' --data 'method=password&password=good-pass-7&rd=/after' \
    "http://$HTTP/.warren/auth/login"
  [ "$output" = 303 ]
  login app.test 'method=password&password=good-pass-7&rd=https%3A%2F%2Fevil.test%2F'
  [ "$LOGIN" = 303 ]
  [ "$LOCATION" = / ]
  login app.test 'method=password&password=good-pass-7&rd=%2F%2Fevil.test%2Fx'
  [ "$LOCATION" = / ]
  run curl -s -H 'Host: app.test' "http://$HTTP/.warren/auth/login?rd=https://evil.test/"
  [[ "$output" == *'name="rd" value="/"'* ]]
  [ "$(code_of "http://$HTTP/a/%2e%2e%2f..%2fetc" -H 'Host: app.test')" = 400 ]
}

@test "every decision is audited (log line and store row); a store that fails means 503" {
  auth_setup
  resource app app.test
  printf 'audit-pass-1\n' | peerctl --dir "$T" resource auth app --password-file - >/dev/null
  edged_start
  code_of "http://$HTTP/x" -H 'Host: app.test' >/dev/null
  login app.test 'method=password&password=nope'
  login app.test 'method=password&password=audit-pass-1'
  code_of "http://$HTTP/y" -H 'Host: app.test' -H "Cookie: $COOKIE" >/dev/null
  # the audit log is written in batches (at most 100 ms later)
  wait_for grep -q '"outcome":"allow","status":200,"reason":"session","method":"password"' "$T/audit.log"
  grep -q '"outcome":"redirect","status":302,"reason":"login_required"' "$T/audit.log"
  grep -q '"reason":"bad_password"' "$T/audit.log"
  grep -q '"outcome":"issue_session"' "$T/audit.log"
  rows() { [ "$(sqlite3 "$T/warren.db" "SELECT count(*) FROM audit WHERE actor = 'edged' AND action LIKE 'access.%'")" -ge 3 ]; }
  wait_for rows
  sqlite3 "$T/warren.db" "SELECT detail FROM audit WHERE action = 'access.issue_session'" | grep -q '"client":"127.0.0.1"'
  # the store stops answering session lookups: an unknown cookie cannot be checked -> 503,
  # never allow; once it answers again, the same request goes to the portal
  unknown=warren_session=$(printf 'Q%.0s' $(seq 43))
  sqlite3 "$T/warren.db" 'ALTER TABLE sessions RENAME TO sessions_away'
  [ "$(code_of "http://$HTTP/z" -H 'Host: app.test' -H "Cookie: $unknown")" = 503 ]
  sqlite3 "$T/warren.db" 'ALTER TABLE sessions_away RENAME TO sessions'
  back() { [ "$(code_of "http://$HTTP/z" -H 'Host: app.test' -H "Cookie: $unknown")" = 302 ]; }
  wait_for back
}

@test "resources from peerctl: added request headers and target weights are honoured" {
  auth_setup
  peerctl --dir "$T" resource add hdr --host hdr.test --target "$ORIGIN" --header 'X-Env: prod' >/dev/null
  origin a --reply A
  A=$ADDR
  origin b --reply B
  B=$ADDR
  peerctl --dir "$T" resource add weighted --host w.test >/dev/null
  peerctl --dir "$T" target add weighted "$A" --weight 3 >/dev/null
  peerctl --dir "$T" target add weighted "$B" --weight 1 >/dev/null
  edged_start
  run curl -s -H 'Host: hdr.test' "http://$HTTP/"
  [[ "$output" == *"X-Env: prod"* ]]
  got=""
  for i in $(seq 1 8); do got="$got$(curl -s -H 'Host: w.test' "http://$HTTP/")"; done
  [ "$(printf '%s' "$got" | tr -cd A | wc -c)" = 6 ]
  [ "$(printf '%s' "$got" | tr -cd B | wc -c)" = 2 ]
  # weight 0 drains a target
  id=$(peerctl --dir "$T" target list weighted --json | $PY -c 'import json,sys; t=[json.loads(l) for l in sys.stdin if l.strip()]; print([x["id"] for x in t if str(x.get("port",""))==sys.argv[1] or str(x.get("target","")).endswith(":"+sys.argv[1])][0])' "${A##*:}")
  peerctl --dir "$T" target set "$id" --weight 0 >/dev/null
  drained() { [ "$(curl -s -H 'Host: w.test' "http://$HTTP/")$(curl -s -H 'Host: w.test' "http://$HTTP/")" = BB ]; }
  wait_for drained
}

@test "country rules use the configured MaxMind database; unknown addresses match no country" {
  auth_setup "" "geoip_db = \"geo.mmdb\""
  $PY "$BATS_TEST_DIRNAME/mmdb.py" "$T/geo.mmdb" 127.0.0.0/8=NL 10.0.0.0/8=DE
  resource nl nl.test --basic
  peerctl --dir "$T" rule add nl --action DROP --country NL >/dev/null
  resource de de.test --basic
  peerctl --dir "$T" rule add de --action DROP --country DE >/dev/null
  edged_start
  [ "$(code_of "http://$HTTP/" -H 'Host: nl.test')" = 403 ]
  [ "$(code_of "http://$HTTP/" -H 'Host: de.test')" = 401 ]
  wait_for grep -q '"country":"NL"' "$T/audit.log"
  # a database that is not one refuses the config
  printf 'junk' >"$T/bad.mmdb"
  sed -i 's/geo.mmdb/bad.mmdb/' "$T/edged.toml"
  run edged --check-config --config "$T/edged.toml" --dir "$T"
  [ "$status" -eq 78 ]
  [[ "$output" == *"geoip_db"* ]]
}
