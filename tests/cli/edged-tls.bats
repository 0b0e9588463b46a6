#!/usr/bin/env bats
# edged over TLS with certificates from the real cactl: SNI picks the certificate (exact,
# wildcard, default), ALPN stays http/1.1, sessions resume, HTTP is redirected to HTTPS,
# client certificates per resource (mTLS with CA bundle and CRL, revocation picked up without
# restart), certificates reloaded on file change, and TLS upstreams verified (openssl s_server).

load edged-common

# pki — a CA and certificates in $T/certs (server), $T/clients, $T/chain.pem, $T/crl.pem.
pki() {
  cactl --dir "$T" init --no-passphrase >/dev/null 2>&1
  for n in default.test app.example.test mtls.example.test; do
    cactl --dir "$T" issue "$n" --out-dir "$T/certs" >/dev/null
  done
  cactl --dir "$T" issue wild --san 'DNS:*.wild.test' --out-dir "$T/certs" >/dev/null
  cactl --dir "$T" issue alice --profile client --out-dir "$T/clients" >"$T/alice.serial"
  cactl --dir "$T" export chain --out "$T/chain.pem"
  cactl --dir "$T" crl --out "$T/crl.pem"
}

# tls_config ROUTES — edged.toml with HTTP and HTTPS listeners and the given routes file text.
tls_config() {
  cat >"$T/edged.toml" <<EOF
threads = 2
routes_file = "routes.toml"
store = ""
upstream_ca = "chain.pem"
[http]
listen = ["127.0.0.1:0"]
[https]
listen = ["127.0.0.1:0"]
cert = "certs/default.test.fullchain.pem"
key = "certs/default.test.key"
cert_dir = "certs"
[reload]
file_poll = "200ms"
[timeouts]
upstream_connect = "2s"
upstream_response = "2s"
EOF
  echo "$1" >"$T/routes.toml"
}

# subject SERVERNAME — the subject CN of the certificate edged presents for SERVERNAME.
subject() {
  local sn=(-servername "$1")
  [ "$1" = "-" ] && sn=(-noservername)
  openssl s_client -connect "$HTTPS" "${sn[@]}" </dev/null 2>/dev/null |
    openssl x509 -noout -subject -nameopt multiline | sed -n 's/ *commonName *= //p'
}

@test "SNI picks the certificate: exact, wildcard, default; ALPN http/1.1; X-Forwarded-Proto https" {
  pki
  start echo python3 "$T/h.py" echo-origin e1 "$T/origin.log"
  tls_config "[[route]]
name = \"app\"
host = \"app.example.test\"
targets = [\"$ADDR\"]"
  edged_start
  [[ "$HTTPS" == 127.0.0.1:* ]]
  [ "$(subject app.example.test)" = "app.example.test" ]
  [ "$(subject x.wild.test)" = "wild" ]
  [ "$(subject unknown.test)" = "default.test" ]
  [ "$(subject -)" = "default.test" ]
  port=${HTTPS##*:}
  run curl -sS --http2 -w '\n%{http_version}' --cacert "$T/chain.pem" \
    --resolve "app.example.test:$port:127.0.0.1" "https://app.example.test:$port/x"
  [[ "$output" == "GET /x HTTP/1.1"* ]]
  [[ "$output" == *"X-Forwarded-Proto: https"* ]]
  [[ "$output" == *$'\n1.1' ]]
  r=$(ctl '{"op":"status"}')
  [ "$(jget "$r" '"*.wild.test" in d["certificates"]')" = "True" ]
}

@test "TLS sessions resume" {
  pki
  origin o1
  tls_config "[[route]]
name = \"app\"
host = \"*\"
targets = [\"$ADDR\"]"
  edged_start
  req='GET / HTTP/1.1\r\nHost: app.example.test\r\nConnection: close\r\n\r\n'
  printf "$req" | openssl s_client -connect "$HTTPS" -servername app.example.test \
    -sess_out "$T/sess" -ign_eof >"$T/first.txt" 2>&1
  grep -q '^New,' "$T/first.txt"
  printf "$req" | openssl s_client -connect "$HTTPS" -servername app.example.test \
    -sess_in "$T/sess" -ign_eof >"$T/second.txt" 2>&1
  grep -q '^Reused,' "$T/second.txt"
  grep -q 'hello' "$T/second.txt"
  text=$(jget "$(ctl '{"op":"metrics"}')" 'd["text"]')
  [ "$(echo "$text" | sed -n 's/^edged_tls_resumed_total //p')" -ge 1 ]
}

@test "HTTP requests for a redirect_https route get a 308 to the HTTPS listener" {
  pki
  origin o1
  tls_config "[[route]]
name = \"app\"
host = \"app.example.test\"
redirect_https = true
targets = [\"$ADDR\"]"
  edged_start
  port=${HTTPS##*:}
  run curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: app.example.test' "http://$HTTP/a/b?c=1"
  [ "$output" = "308 https://app.example.test:$port/a/b?c=1" ]
  run curl -sS -L --cacert "$T/chain.pem" --resolve "app.example.test:$port:127.0.0.1" \
    --resolve "app.example.test:${HTTP##*:}:127.0.0.1" "http://app.example.test:${HTTP##*:}/"
  [ "$output" = "hello" ]
}

@test "mTLS: a client certificate is required, verified against the CA and its CRL" {
  pki
  origin o1
  tls_config "[[route]]
name = \"private\"
host = \"mtls.example.test\"
mtls = \"required\"
client_ca = \"$T/chain.pem\"
client_crl = \"$T/crl.pem\"
targets = [\"$ADDR\"]
[[route]]
name = \"public\"
host = \"app.example.test\"
targets = [\"$ADDR\"]"
  edged_start
  port=${HTTPS##*:}
  res=(--resolve "mtls.example.test:$port:127.0.0.1" --resolve "app.example.test:$port:127.0.0.1")
  run curl -sS --cacert "$T/chain.pem" "${res[@]}" "https://mtls.example.test:$port/"
  [ "$status" -ne 0 ]
  [[ "$output" != *hello* ]]
  run curl -sS --cacert "$T/chain.pem" "${res[@]}" --cert "$T/clients/alice.fullchain.pem" \
    --key "$T/clients/alice.key" "https://mtls.example.test:$port/"
  [ "$status" -eq 0 ]
  [ "$output" = "hello" ]
  # The certificate-free host cannot be used to reach the mTLS route through its Host header.
  run curl -sS -w '%{http_code}' --cacert "$T/chain.pem" "${res[@]}" -H 'Host: mtls.example.test' \
    "https://app.example.test:$port/"
  [[ "$output" == *"client certificate is required"*"403" ]]
  # Revoke alice: the new CRL is picked up without a restart.
  cactl --dir "$T" revoke "$(cut -f1 "$T/alice.serial")" >/dev/null
  sleep 1.1  # a new CRL must have a different mtime second on coarse filesystems
  cactl --dir "$T" crl --out "$T/crl.pem"
  refused() {
    ! curl -sS --cacert "$T/chain.pem" "${res[@]}" --cert "$T/clients/alice.fullchain.pem" \
      --key "$T/clients/alice.key" "https://mtls.example.test:$port/"
  }
  wait_for refused
}

@test "certificates are reloaded when their files change" {
  pki
  origin o1
  tls_config "[[route]]
name = \"app\"
host = \"*\"
targets = [\"$ADDR\"]"
  edged_start
  serial() {
    openssl s_client -connect "$HTTPS" -servername app.example.test </dev/null 2>/dev/null |
      openssl x509 -noout -serial | cut -d= -f2 | tr A-F a-f
  }
  old=$(serial)
  new=$(cactl --dir "$T" issue app.example.test --out-dir "$T/certs" --force | cut -f1)
  [ "$old" != "$new" ]
  is_new() { [ "$(serial)" = "$new" ]; }
  wait_for is_new
  # Broken files are refused and the old certificates stay in use.
  echo garbage >"$T/certs/app.example.test.fullchain.pem"
  wait_for grep -q 'event=cert_reload_failed' "$T/edged.err"
  [ "$(serial)" = "$new" ]
}

@test "TLS upstreams: verified against upstream_ca, name checked, verification optional" {
  pki
  cactl --dir "$T" issue localhost --san DNS:localhost --san IP:127.0.0.1 --out-dir "$T/up" >/dev/null
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  openssl s_server -accept "127.0.0.1:$port" -cert "$T/up/localhost.fullchain.pem" \
    -key "$T/up/localhost.key" -www -quiet >"$T/s_server.out" 2>&1 &
  PIDS="$PIDS $!"
  wait_for python3 -c "import socket; socket.create_connection(('127.0.0.1', $port))"
  tls_config "[[route]]
name = \"ok\"
host = \"ok.test\"
targets = [\"https://127.0.0.1:$port\"]
[[route]]
name = \"wrongname\"
host = \"wrong.test\"
tls_sni = \"wrong.example\"
targets = [\"https://127.0.0.1:$port\"]
[[route]]
name = \"noverify\"
host = \"noverify.test\"
tls_sni = \"wrong.example\"
tls_verify = false
targets = [\"https://127.0.0.1:$port\"]"
  edged_start
  run curl -sS -w '%{http_code}' -H 'Host: ok.test' "http://$HTTP/"
  [[ "$output" == *"s_server"*"200" ]]
  run curl -sS -w '%{http_code}' -H 'Host: wrong.test' "http://$HTTP/"
  [[ "$output" == *"certificate verify failed"*"502" ]]
  run curl -sS -w '%{http_code}' -H 'Host: noverify.test' "http://$HTTP/"
  [[ "$output" == *"s_server"*"200" ]]
}
