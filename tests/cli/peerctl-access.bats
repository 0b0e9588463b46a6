#!/usr/bin/env bats
# peerctl user, role, grant, link, apikey, rule and session against a real store in a temp
# WARREN_DIR: golden listings, JSON validity, exit codes, secrets shown once and only their
# hashes stored, revocations, audit rows.

load peerctl-common

@test "role and user: add, list, show, passwd, roles, set --totp, enable/disable, rm" {
  peerctl role add staff --description "Everyone on staff"
  peerctl role add ops
  printf 'alice-pass-1\n' | peerctl user add Alice@Example.com --name 'Alice A' --password-file - --role staff
  run peerctl user add bob@example.com --totp
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^otpauth://totp/Warren:bob%40example.com\?secret=[A-Z2-7]{32}\& ]]
  secret=$(sed 's/.*secret=\([A-Z2-7]*\).*/\1/' <<<"$output")
  [ "$(db "SELECT totp_secret FROM users WHERE email = 'bob@example.com'")" = "$secret" ]
  [[ "$(db "SELECT password_hash FROM users WHERE email = 'alice@example.com'")" == '$argon2id$'* ]]
  ! db .dump | grep -q alice-pass-1
  run peerctl user list
  [ "$output" = "$(printf '%s\n' \
    'EMAIL              NAME     ENABLED  PASSWORD  TOTP  ROLES' \
    'alice@example.com  Alice A  yes      yes       no    staff' \
    'bob@example.com    -        yes      no        yes   -')" ]
  run peerctl --json user list
  json_lines
  run peerctl user show alice@example.com --json
  [ "$(jq -c '[.email,.name,.roles]' <<<"$output")" = '["alice@example.com","Alice A",["staff"]]' ]
  # passwd from a pipe, and from a file
  printf 'bob-pass-2\n' | peerctl user passwd bob@example.com
  [[ "$(db "SELECT password_hash FROM users WHERE email = 'bob@example.com'")" == '$argon2id$'* ]]
  printf 'bob-pass-3\n' >pw
  peerctl user passwd BOB@example.com --password-file pw
  peerctl user roles bob@example.com --add staff --add ops
  run peerctl user roles bob@example.com
  [ "$output" = "$(printf 'ops\nstaff')" ]
  peerctl user roles bob@example.com --rm ops
  run peerctl role list
  [ "$output" = "$(printf '%s\n' \
    'NAME   USERS  DESCRIPTION' \
    'ops    0      -' \
    'staff  2      Everyone on staff')" ]
  run peerctl user set alice@example.com --name 'Alice B' --totp
  [[ "$output" == otpauth://* ]]
  peerctl user set alice@example.com --no-totp
  [ "$(db "SELECT name || '|' || coalesce(totp_secret, 'none') FROM users WHERE email = 'alice@example.com'")" = "Alice B|none" ]
  peerctl user disable bob@example.com
  [ "$(db "SELECT enabled FROM users WHERE email = 'bob@example.com'")" = 0 ]
  peerctl user enable bob@example.com
  peerctl role rm ops
  peerctl user rm bob@example.com
  [ "$(db "SELECT count(*) FROM users")" = 1 ]
  [ "$(db "SELECT group_concat(action, ' ') FROM audit WHERE object = 'bob@example.com'")" = \
    "user.add user.passwd user.passwd user.role.add user.role.add user.role.rm user.disable user.enable user.rm" ]
}

@test "user and role: bad input (65), duplicates (65), missing (66), usage (64)" {
  peerctl role add staff
  peerctl user add a@example.com
  fails 65 "EMAIL: 'not-an-email': not a valid email address" peerctl user add not-an-email
  fails 65 "EMAIL: 'a@b': not a valid email address (domain)" peerctl user add a@b
  fails 65 "user a@example.com already exists" peerctl user add A@EXAMPLE.COM
  fails 66 "no role nope" peerctl user add c@example.com --role nope
  [ "$(db "SELECT count(*) FROM users")" = 1 ]
  fails 65 "NAME: 'Staff': role names are lower-case ([a-z0-9._-])" peerctl role add Staff
  fails 65 "role staff already exists" peerctl role add staff
  fails 66 "no role nope" peerctl role rm nope
  fails 66 "no user z@example.com" peerctl user passwd z@example.com --password-file /dev/null
  fails 65 "--password-file: the secret is empty" peerctl user passwd a@example.com --password-file /dev/null
  fails 65 "user a@example.com already has role staff" sh -c 'peerctl user roles a@example.com --add staff && peerctl user roles a@example.com --add staff'
  fails 66 "user a@example.com does not have role ops" sh -c 'peerctl role add ops && peerctl user roles a@example.com --rm ops'
  run peerctl user set a@example.com --totp --no-totp
  [ "$status" -eq 64 ]
}

@test "grant add/list/rm by user or role" {
  peerctl role add staff
  peerctl user add a@example.com
  peerctl resource add app --host app.example.com
  peerctl grant add app --role staff
  peerctl grant add app --user A@example.com
  run peerctl grant list
  [ "$output" = "$(printf '%s\n' 'RESOURCE  KIND  WHO' 'app       role  staff' 'app       user  a@example.com')" ]
  run peerctl --json grant list app
  json_lines
  [ "$(printf '%s\n' "$output" | jq -s -c .)" = '[{"resource":"app","role":"staff"},{"resource":"app","user":"a@example.com"}]' ]
  fails 65 "user a@example.com is already granted app" peerctl grant add app --user a@example.com
  fails 66 "no user b@example.com" peerctl grant add app --user b@example.com
  fails 66 "no resource nope" peerctl grant add nope --role staff
  fails 64 "give --user EMAIL or --role ROLE" peerctl grant add app
  peerctl grant rm app --role staff
  fails 66 "role staff has no grant on app" peerctl grant rm app --role staff
  [ "$(db "SELECT count(*) FROM resource_roles")" = 0 ]
  [ "$(db "SELECT count(*) FROM resource_users")" = 1 ]
}

@test "link create prints the URL once; the store keeps only a hash; list; revoke ends sessions" {
  peerctl resource add app --host app.example.com --tls
  peerctl resource auth app --share-links
  peerctl resource add wild --host '*.example.org'
  run peerctl link create app --expires 1d --title 'for bob'
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^https://app\.example\.com/\?warren_token=([A-Za-z0-9_-]{11})\.([A-Za-z0-9_-]{43})$ ]]
  id=${BASH_REMATCH[1]}
  secret=${BASH_REMATCH[2]}
  ! db .dump | grep -q -- "$secret"
  [ "$(db "SELECT token_hash FROM share_links WHERE id = '$id'")" = "$(printf '%s' "$secret" | b2sum -l 256 | cut -d' ' -f1)" ]
  run peerctl --json link create app --path /files --session-ttl 1h
  json_lines
  [[ "$(jq -r .url <<<"$output")" == "https://app.example.com/files?warren_token="* ]]
  [ "$(jq -r .url <<<"$output")" = "https://app.example.com/files?warren_token=$(jq -r .token <<<"$output")" ]
  # a wildcard resource needs --host; the resource does not take links yet: a warning
  fails 64 "resource wild serves *.example.org: give --host NAME for the link's URL" peerctl link create wild
  run peerctl link create wild --host a.example.org
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "peerctl: warning: resource wild does not accept share links yet"* ]]
  [[ "${lines[1]}" == "http://a.example.org/?warren_token="* ]]
  fails 65 "--host: 'a.example.com': resource wild serves *.example.org" peerctl link create wild --host a.example.com
  fails 65 "--expires: 'soon': not a valid duration (e.g. 90s, 15m, 12h, 30d, 1w)" peerctl link create app --expires soon
  fails 65 "--path: 'files': a path prefix must start with '/'" peerctl link create app --path files
  fails 66 "no resource nope" peerctl link create nope
  run peerctl link list app
  [ "${lines[0]}" = "ID           RESOURCE  STATE   EXPIRES               PATH    SESSIONS  TITLE" ]
  # (listed by id: random, so find the line)
  printf '%s\n' "${lines[@]}" | grep -q "^$id  app       active  .*  -       0         for bob\$"
  # a session opened with the link ends with it
  now=$(date +%s)
  db "INSERT INTO sessions (token_hash, resource_id, method, subject, share_link_id, created_at, last_seen, expires_at, ttl) VALUES ('$(printf %064d 7)', 1, 'share_link', '$id', '$id', $now, $now, $((now + 3600)), 3600)"
  run peerctl --json link list app
  json_lines
  [ "$(printf '%s\n' "$output" | jq -r "select(.id==\"$id\") | .sessions")" = 1 ]
  peerctl link revoke "$id"
  [ "$(db "SELECT revoked FROM sessions")" = 1 ]
  [ "$(db "SELECT revoked FROM share_links WHERE id = '$id'")" = 1 ]
  fails 65 "share link $id is already revoked" peerctl link revoke "$id"
  fails 66 "no share link nope" peerctl link revoke nope
  [ "$(db "SELECT detail FROM audit WHERE action = 'link.revoke'")" = "{\"id\":\"$id\",\"sessions\":1}" ]
}

@test "apikey create prints ID:SECRET once (hash stored), scopes, expiry, list, revoke" {
  peerctl resource add api --host api.example.com
  peerctl user add a@example.com
  run peerctl apikey create --user a@example.com --resource api --scope read --scope write:logs --expires 30d
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^(wk_[A-Za-z0-9_-]{16}):([A-Za-z0-9_-]{43})$ ]]
  kid=${BASH_REMATCH[1]}
  secret=${BASH_REMATCH[2]}
  ! db .dump | grep -q -- "$secret"
  [ "$(db "SELECT key_hash FROM api_keys WHERE id = '$kid'")" = "$(printf '%s' "$secret" | b2sum -l 256 | cut -d' ' -f1)" ]
  [ "$(db "SELECT scopes FROM api_keys")" = "read write:logs" ]
  run peerctl --json apikey create
  json_lines
  [ "$(jq -r '.secret | length' <<<"$output")" = 43 ]
  [ "$(jq -r .resource <<<"$output")" = null ]
  run peerctl apikey list
  [ "${lines[0]}" = "ID                   STATE   USER           RESOURCE  SCOPES           EXPIRES               LAST USED" ]
  [[ "$output" == *"$kid  active  a@example.com  api       read,write:logs  "*"  never"* ]]
  [[ "$output" != *"$secret"* ]]
  run peerctl --json apikey list
  json_lines
  fails 65 "--scope: 'Read': not a scope (1-64 of a-z 0-9 : . _ - *)" peerctl apikey create --scope Read
  fails 65 "--expires: '0': not a valid duration (e.g. 90s, 15m, 12h, 30d, 1w)" peerctl apikey create --expires 0
  fails 66 "no user b@example.com" peerctl apikey create --user b@example.com
  fails 66 "no resource nope" peerctl apikey create --resource nope
  peerctl apikey revoke "$kid"
  run peerctl apikey list
  [[ "$output" == *"$kid  revoked"* ]]
  fails 65 "API key $kid is already revoked" peerctl apikey revoke "$kid"
  fails 66 "no API key nope" peerctl apikey revoke nope
}

@test "rule add/list/rm: normalised, checked like edged, ordered by priority" {
  peerctl resource add app --host app.example.com
  peerctl rule add app --action drop --ip 10.0.0.0/8 --ip 2001:DB8::1 --path '/admin/**' --method get --country de --priority 20
  run peerctl --json rule add app --action ACCEPT --priority 10 --path '/public/*'
  json_lines
  [ "$(jq -r .id <<<"$output")" = 2 ]
  peerctl rule add app --action PASS
  run peerctl rule list app
  [ "$output" = "$(printf '%s\n' \
    'ID  RESOURCE  PRIORITY  ACTION  IPS                     PATH       METHODS  COUNTRIES  ENABLED' \
    '2   app       10        ACCEPT  *                       /public/*  *        *          yes' \
    '1   app       20        DROP    10.0.0.0/8,2001:db8::1  /admin/**  GET      DE         yes' \
    '3   app       100       PASS    *                       *          *        *          yes')" ]
  [ "$(db "SELECT ips || '|' || methods || '|' || countries FROM rules WHERE id = 1")" = "10.0.0.0/8 2001:db8::1|GET|DE" ]
  run peerctl --json rule list
  json_lines
  fails 65 "--action: 'ALLOW': ACCEPT, DROP or PASS" peerctl rule add app --action ALLOW
  fails 65 "--ip: '10.0.0.1/8': not a valid IP address or CIDR" peerctl rule add app --action DROP --ip 10.0.0.1/8
  fails 65 "--country: 'DEU': not an ISO 3166 code (e.g. DE)" peerctl rule add app --action DROP --country DEU
  fails 65 "--method: 'G3T': not an HTTP method" peerctl rule add app --action DROP --method G3T
  fails 65 "--path: 'admin': not a path glob (e.g. /api/**)" peerctl rule add app --action DROP --path admin
  fails 66 "no resource nope" peerctl rule add nope --action DROP
  run peerctl rule add app
  [ "$status" -eq 64 ]
  peerctl rule rm 1
  fails 66 "no rule 1" peerctl rule rm 1
  [ "$(db "SELECT count(*) FROM rules")" = 2 ]
  [ "$(db "SELECT group_concat(action, ' ') FROM audit WHERE action LIKE 'rule.%'")" = "rule.add rule.add rule.add rule.rm" ]
}

@test "session list and revoke by id, resource, user, all" {
  peerctl resource add app --host app.example.com
  peerctl resource add other --host other.example.com
  peerctl user add a@example.com
  now=$(date +%s)
  ins() { # HASH RESOURCE_ID USER_ID METHOD SUBJECT EXPIRES
    db "INSERT INTO sessions (token_hash, resource_id, user_id, method, subject, created_at, last_seen, expires_at, ttl) VALUES ('$1', $2, $3, '$4', '$5', $now, $now, $6, 3600)"
  }
  ins "$(printf 'a%063d' 1)" 1 1 users a@example.com $((now + 3600))
  ins "$(printf 'b%063d' 2)" 1 NULL password '' $((now + 3600))
  ins "$(printf 'c%063d' 3)" 2 1 users a@example.com $((now + 3600))
  ins "$(printf 'd%063d' 4)" 2 NULL pin '' $((now - 10))
  run peerctl session list
  [ "${#lines[@]}" -eq 4 ]
  [ "${lines[0]}" = "ID                RESOURCE  USER           METHOD    LAST SEEN             EXPIRES" ]
  [[ "${lines[1]}" == "a000000000000000  app       a@example.com  users     "* ]]
  run peerctl --json session list --user a@example.com
  json_lines
  [ "$(printf '%s\n' "$output" | jq -r .resource | tr '\n' ' ')" = "app other " ]
  run peerctl session list --resource app
  [ "${#lines[@]}" -eq 3 ]
  run peerctl session revoke --id a0000000
  [ "$output" = "revoked 1 session" ]
  run peerctl --json session revoke --user a@example.com
  [ "$output" = '{"revoked":1}' ]
  run peerctl session revoke --resource app
  [ "$output" = "revoked 1 session" ]
  run peerctl session revoke --all
  [ "$output" = "revoked 1 sessions" ] || [ "$output" = "revoked 1 session" ]
  run peerctl session list
  [ "${#lines[@]}" -eq 1 ]
  fails 66 "no live session a0000000" peerctl session revoke --id a0000000
  fails 65 "--id: 'xyz': a session id (8-64 lower-case hex characters)" peerctl session revoke --id xyz
  fails 64 "give --id, --resource, --user or --all" peerctl session revoke
  fails 64 "--id and --all exclude the other selectors" peerctl session revoke --all --user a@example.com
  fails 66 "no user z@example.com" peerctl session list --user z@example.com
  [ "$(db "SELECT count(*) FROM audit WHERE action = 'session.revoke'")" = 4 ]
}
