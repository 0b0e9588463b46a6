#!/usr/bin/env bats
# A running edged honours what peerctl writes, without a restart: a resource protected with
# HTTP Basic and an API key, an added request header, a DROP rule, disable/enable, and an API
# key revocation. The origin echoes the request edged sent. Skipped until edged reads access
# control from the store.

load edged-common

PY=/usr/bin/python3

code_of() { # code_of URL [curl args...] — the HTTP status
  local url=$1
  shift
  curl -s -o /dev/null -w '%{http_code}' "$@" "$url"
}

@test "edged serves and protects a resource made with peerctl, and follows its changes" {
  start echo $PY "$T/h.py" echo-origin e1 "$T/origin.log"
  ORIGIN=$ADDR
  cat >"$T/edged.toml" <<EOF
threads = 1
[http]
listen = ["127.0.0.1:0"]
[reload]
store_poll = "100ms"
EOF
  peerctl resource add api --host api.test --target "$ORIGIN" --header 'X-Via: peerctl' --auth basic
  key=$(peerctl apikey create --resource api)
  edged_start
  [ "$(code_of "http://$HTTP/v1" -H 'Host: api.test')" = 401 ]
  run curl -s -u "$key" -H 'Host: api.test' "http://$HTTP/v1"
  [[ "$output" == "GET /v1 HTTP/1.1"* ]]
  [[ "$output" == *"X-Via: peerctl"* ]]
  # a rule, a disable and a revocation reach the running edged
  peerctl rule add api --action DROP --path '/admin/**'
  dropped() { [ "$(code_of "http://$HTTP/admin/x" -u "$key" -H 'Host: api.test')" = 403 ]; }
  wait_for dropped
  peerctl resource disable api
  gone() { [ "$(code_of "http://$HTTP/v1" -u "$key" -H 'Host: api.test')" = 404 ]; }
  wait_for gone
  peerctl resource enable api
  back() { [ "$(code_of "http://$HTTP/v1" -u "$key" -H 'Host: api.test')" = 200 ]; }
  wait_for back
  peerctl apikey revoke "${key%%:*}"
  denied() { [ "$(code_of "http://$HTTP/v1" -u "$key" -H 'Host: api.test')" = 401 ]; }
  wait_for denied
  # and edged's decisions are in the audit log peerctl reads
  run peerctl --json audit --actor edged --object api --limit 0
  [ "$status" -eq 0 ]
  [ -n "$output" ]
  printf '%s\n' "$output" | jq -e -s 'length > 0 and all(.action | startswith("access."))' >/dev/null
}
