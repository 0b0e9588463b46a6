#!/usr/bin/env bats
# peerctl resource and target against a real store in a temp WARREN_DIR: golden listings, JSON
# validity, exit codes for bad input per field (65), duplicates (65, naming the existing
# object), missing objects (66), secrets never stored in the clear, an audit row per change.

load peerctl-common

@test "resource add/list/show: golden table, JSON, audit rows" {
  run peerctl resource add web --host App.Example.com --tls --redirect-https \
    --target 127.0.0.1:8080 --target '[::1]:8081' --header 'X-Env: prod'
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  peerctl resource add api --host '*.example.com' --path /api/
  peerctl resource add any --host '*' --path /x --disabled
  run peerctl resource list
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '%s\n' \
    'NAME  TYPE  ENABLED  SERVES                     TARGETS                                  AUTH' \
    'any   http  no       http://*/x                 -                                        public' \
    'api   http  yes      http://*.example.com/api/  -                                        public' \
    'web   http  yes      https://app.example.com/   http://127.0.0.1:8080,http://[::1]:8081  public')" ]
  run peerctl resource list --json
  json_lines
  [ "$(printf '%s\n' "$output" | jq -r 'select(.name=="web") | .targets[1].host')" = "::1" ]
  run peerctl resource show web
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "name:           web" ]
  [ "${lines[3]}" = "serves:         https://app.example.com/" ]
  [ "${lines[4]}" = "redirect https: yes" ]
  [ "${lines[5]}" = "hsts:           365d" ]
  [ "${lines[6]}" = "header:         X-Env: prod" ]
  [ "${lines[7]}" = "target 1:       http://127.0.0.1:8080 weight 1" ]
  run peerctl --json resource show web
  json_lines
  [ "$(jq -r .host <<<"$output")" = "app.example.com" ]
  [ "$(jq -r .tls <<<"$output")" = "true" ]
  [ "$(db "SELECT count(*) FROM audit WHERE action = 'resource.add'")" = 3 ]
  [ "$(db "SELECT count(*) FROM audit WHERE action = 'target.add' AND object = 'web'")" = 2 ]
  [ "$(db "SELECT actor FROM audit LIMIT 1")" = "peerctl:$(id -un)" ]
}

@test "resource: bad input names the field (65), duplicates name the holder (65), missing is 66" {
  peerctl resource add web --host app.example.com
  fails 65 "--host: 'a..b': not a valid hostname" peerctl resource add x --host a..b
  fails 65 "NAME: 'a/b': not a valid name (use A-Z a-z 0-9 . _ -)" peerctl resource add a/b --host h.example.com
  fails 65 "--path: 'nope': a path prefix must start with '/'" peerctl resource add x --host h.example.com --path nope
  fails 65 "--header: 'X-A': not a header (want 'Name: value')" peerctl resource add x --host h.example.com --header X-A
  fails 65 "--header: 'Host: evil': this header is set by edged" peerctl resource add x --host h.example.com --header 'Host: evil'
  fails 65 "--target: '10.0.0.1': not a valid address (want host:port or [v6]:port)" peerctl resource add x --host h.example.com --target 10.0.0.1
  fails 65 "--tcp: '0': not a valid port (1-65535)" peerctl resource add x --tcp 0 --site s --to a:1
  fails 65 "resource web already exists" peerctl resource add web --host other.example.com
  fails 65 "resource web already serves app.example.com/" peerctl resource add web2 --host APP.example.com
  fails 66 "no resource nope" peerctl resource show nope
  fails 66 "no resource nope" peerctl resource rm nope
  fails 66 "no site homelab" peerctl resource add ssh --tcp 2222 --site homelab --to 10.0.0.1:22
  fails 66 "--target: no site homelab" peerctl resource add x --host h.example.com --target homelab:10.0.0.1:80
  run peerctl resource add x
  [ "$status" -eq 64 ]
  run peerctl resource add x --tcp 22 --udp 22 --site s --to a:1
  [ "$status" -eq 64 ]
  # nothing half-written: a failing add with targets leaves no resource
  [ "$(db "SELECT count(*) FROM resources")" = 1 ]
  [ "$(db "SELECT count(*) FROM targets")" = 0 ]
}

@test "resource set/enable/disable/rm, and raw TCP/UDP forwards at a site" {
  peerctl site add homelab --edge edge.example.com:7443 >/dev/null
  peerctl resource add web --host app.example.com --target 10.0.0.5:80
  peerctl resource set web --rename www --host www.example.com --path /app --tls --header 'X-A: 1'
  run peerctl --json resource show www
  [ "$(jq -r '[.host,.path,.tls,.headers[0]] | join(" ")' <<<"$output")" = "www.example.com /app true X-A: 1" ]
  peerctl resource set www --no-tls --clear-headers
  [ "$(db "SELECT tls || '|' || headers FROM resources WHERE name = 'www'")" = "0|" ]
  peerctl resource disable www
  [ "$(db "SELECT enabled FROM resources WHERE name = 'www'")" = 0 ]
  peerctl resource enable www
  [ "$(db "SELECT enabled FROM resources WHERE name = 'www'")" = 1 ]
  peerctl resource add ssh --tcp 2222 --site homelab --to 192.168.1.10:22
  peerctl resource add dns --udp 5353 --site homelab --to 192.168.1.1:53
  [ "$(db "SELECT protocol, listen_port, site, target, name FROM forwards ORDER BY protocol")" = \
    "$(printf 'tcp|2222|homelab|192.168.1.10:22|ssh\nudp|5353|homelab|192.168.1.1:53|dns')" ]
  run peerctl resource list
  [ "$output" = "$(printf '%s\n' \
    'NAME  TYPE  ENABLED  SERVES                      TARGETS                  AUTH' \
    'dns   udp   yes      :5353                       homelab:192.168.1.1:53   -' \
    'ssh   tcp   yes      :2222                       homelab:192.168.1.10:22  -' \
    'www   http  yes      http://www.example.com/app  http://10.0.0.5:80       public')" ]
  fails 65 "resource ssh already forwards tcp port 2222" peerctl resource add ssh2 --tcp 2222 --site homelab --to 192.168.1.10:23
  run peerctl resource set ssh --host x.example.com
  [ "$status" -eq 64 ]
  peerctl resource set ssh --port 2223 --to 192.168.1.11:22
  [ "$(db "SELECT listen_port || ' ' || target FROM forwards WHERE name = 'ssh'")" = "2223 192.168.1.11:22" ]
  peerctl resource disable ssh
  [ "$(db "SELECT enabled FROM forwards WHERE name = 'ssh'")" = 0 ]
  # the site's own listing sees the forward peerctl resource made
  run peerctl site show homelab
  [[ "$output" == *"forward:        tcp 2223 -> 192.168.1.11:22 (disabled)"* ]]
  peerctl resource rm ssh
  peerctl resource rm www
  [ "$(db "SELECT count(*) FROM forwards")" = 1 ]
  [ "$(db "SELECT count(*) FROM resources")" = 0 ]
  [ "$(db "SELECT count(*) FROM targets")" = 0 ]
  [ "$(db "SELECT group_concat(action, ' ') FROM audit WHERE object IN ('www', 'ssh') AND action LIKE 'resource.%'")" = \
    "resource.set resource.set resource.disable resource.enable resource.add resource.set resource.disable resource.rm resource.rm" ]
}

@test "resource auth: methods, secrets from stdin or files as argon2id, checks, show" {
  peerctl role add staff
  peerctl resource add app --host app.example.com
  printf 'hunter2\n' | peerctl resource auth app --password-file - --share-links
  [[ "$(db "SELECT password_hash FROM resource_auth")" == '$argon2id$'* ]]
  ! db .dump | grep -q hunter2
  printf '4821\n' >pin.txt
  peerctl resource auth app --pin-file pin.txt --pin-digits 4 --email-allow Bob@Example.com \
    --email-allow @corp.example --role staff --session-ttl 12h --rate 10/s --burst 20
  run peerctl resource auth app
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '%s\n' \
    'auth:           users,password,pin,email,share-links' \
    'rate:           10/s burst 20' \
    'password:       set' \
    'pin:            set, 4 digits' \
    'email allow:    @corp.example bob@example.com' \
    'roles:          staff' \
    'session ttl:    12h')" ]
  run peerctl --json resource auth app
  json_lines
  [ "$(jq -c .methods <<<"$output")" = '["users","password","pin","email","share-links"]' ]
  [ "$(jq -r .password_set <<<"$output")" = true ]
  [[ "$output" != *argon2* ]]
  # --auth sets exactly these; the stored password stays
  peerctl resource auth app --auth password,basic
  [ "$(db "SELECT m_users || m_password || m_pin || m_email || m_share_links || m_basic FROM resource_auth")" = 010001 ]
  peerctl resource auth app --public --rate 5/s --burst 8
  [ "$(db "SELECT public || ' ' || rate_per_sec || ' ' || rate_burst FROM resource_auth")" = "1 5 8" ]
  run peerctl resource auth app
  [ "$output" = "$(printf '%s\n' 'auth:           public' 'rate:           5/s burst 8')" ]
  fails 64 "--public excludes the method options" peerctl resource auth app --public --basic
  fails 65 "--password-file: needs a secret (FILE, or - for stdin)" peerctl resource auth app --auth password </dev/null
  fails 65 "--pin-file: the PIN must be 6 digits" peerctl resource auth app --pin-file pin.txt
  fails 65 "--auth: 'magic': not a method (users, password, pin, email, share-links, basic, mtls)" peerctl resource auth app --auth magic
  fails 65 "--email-allow: 'not-an-email': not a valid email address" peerctl resource auth app --email-allow not-an-email
  fails 65 "--session-ttl: 'forever': not a valid duration (e.g. 90s, 15m, 12h, 30d, 1w)" peerctl resource auth app --session-ttl forever --basic
  fails 66 "--role: no role nobody" peerctl resource auth app --role nobody
  fails 65 "--mtls: resource app has no client CA (peerctl resource set app --client-ca FILE)" peerctl resource auth app --mtls
  fails 64 "--pin-file: stdin is already read by --password-file; use a file" peerctl resource auth app --password-file - --pin-file -
  fails 65 "--password-file: the secret is empty" peerctl resource auth app --password-file /dev/null
  # the same options on add, in the same transaction
  printf 'pw\n' | peerctl resource add app2 --host app2.example.com --auth password --password-file -
  [ "$(db "SELECT r.name FROM resource_auth a JOIN resources r ON r.id = a.resource_id WHERE a.m_password = 1")" = app2 ]
  [ "$(db "SELECT count(*) FROM audit WHERE action = 'resource.auth'")" -ge 4 ]
}

@test "target add/list/show/set/rm: direct and through a site, weight, health, errors" {
  peerctl site add homelab --edge edge.example.com:7443 >/dev/null
  peerctl resource add web --host app.example.com
  peerctl target add web 10.0.0.5:8080
  run peerctl --json target add web homelab:192.168.1.10:80 --scheme https --weight 3 --no-verify --sni nas.lan
  json_lines
  [ "$(jq -r .target <<<"$output")" = "site+https://homelab/192.168.1.10:80" ]
  peerctl target add web 'homelab:[fd00::10]:80' --health-path /healthz --health-interval 5s
  run peerctl target list web
  [ "$output" = "$(printf '%s\n' \
    'ID  TARGET                                SCHEME  WEIGHT  ENABLED' \
    '1   http://10.0.0.5:8080                  http    1       yes' \
    '2   site+https://homelab/192.168.1.10:80  https   3       yes' \
    '3   site://homelab/[fd00::10]:80          http    1       yes')" ]
  [ "$(db "SELECT health_path || ' ' || health_interval_ms FROM resources")" = "/healthz 5000" ]
  [ "$(db "SELECT site || ' ' || host || ' ' || tls_verify || ' ' || tls_sni || ' ' || weight FROM targets WHERE id = 2")" = "homelab 192.168.1.10 0 nas.lan 3" ]
  peerctl target set 1 --weight 0 --to 10.0.0.6:8081 --disabled
  run peerctl target show 1
  [ "${lines[2]}" = "target:         http://10.0.0.6:8081" ]
  [ "${lines[4]}" = "weight:         0" ]
  [ "${lines[7]}" = "enabled:        no" ]
  run peerctl --json target list web
  json_lines
  [ "$(printf '%s\n' "$output" | wc -l)" = 3 ]
  fails 65 "target 2 of web already goes to site+https://homelab/192.168.1.10:80" peerctl target add web homelab:192.168.1.10:80
  fails 65 "--weight: '1001': 0 to 1000" peerctl target add web 10.0.0.9:80 --weight 1001
  fails 65 "--scheme: 'ftp': http or https" peerctl target add web 10.0.0.9:80 --scheme ftp
  fails 65 "TARGET: 'x:y:z': not a valid port (1-65535)" peerctl target add web x:y:z
  fails 66 "TARGET: no site elsewhere" peerctl target add web elsewhere:10.0.0.1:80
  fails 66 "no resource nope" peerctl target add nope 10.0.0.1:80
  fails 66 "no target 99" peerctl target rm 99
  fails 65 "ID: 'x': not a target id" peerctl target rm x
  fails 65 "--health-interval: 'often': not a valid duration (e.g. 90s, 15m, 12h, 30d, 1w)" peerctl target set 1 --health-interval often
  peerctl target rm 1
  [ "$(db "SELECT count(*) FROM targets")" = 2 ]
  [ "$(db "SELECT group_concat(action, ' ') FROM audit WHERE action LIKE 'target.%'")" = "target.add target.add target.add target.set target.rm" ]
}

@test "a migrated store from before 0050 keeps working (columns added, not replaced)" {
  peerctl resource add web --host app.example.com --target 10.0.0.5:80
  [ "$(db "SELECT weight FROM targets")" = 1 ]
  [ "$(db "PRAGMA user_version")" -ge 50 ]
}
