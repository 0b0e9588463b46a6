#!/usr/bin/env bats
# peerctl site add|list|show|remove|rotate-key against a real store in a temp WARREN_DIR: the
# printed configurations pass `tunneld --check-config`, keys match what the store holds, bad
# input gets the documented exit codes, every change leaves an audit row.

setup() {
  REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
  case ${BUILD:-build} in
  /*) BIN=${BUILD}/bin ;;
  *) BIN=$REPO/${BUILD:-build}/bin ;;
  esac
  export PATH="$BIN:$PATH"
  T=$(mktemp -d "${TMPDIR:-/tmp}/warren-peerctl-site.XXXXXX")
  export WARREN_DIR=$T/edge
  mkdir -p "$WARREN_DIR"
  cd "$T"
}

teardown() {
  rm -rf "$T"
}

# pubkey FILE: the public key tunneld logs for the private key in a site config.
check_site_config() { # FILE
  tunneld --config "$1" --check-config
}

@test "help lists the site verbs; usage errors are 64" {
  run peerctl --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"peerctl [--dir DIR] [--json] [-q] [-v] NOUN VERB [ARGS]"* ]]
  [[ "$output" == *"site"* ]]
  run peerctl site --help
  [ "$status" -eq 0 ]
  for v in add list show remove rotate-key; do [[ "$output" == *"$v"* ]]; done
  run peerctl
  [ "$status" -eq 64 ]
  run peerctl site
  [ "$status" -eq 64 ]
  run peerctl site add
  [ "$status" -eq 64 ]
  [[ "${lines[0]}" == "peerctl: "* ]]
  run peerctl site add x --lanes 0 --edge e:1
  [ "$status" -eq 64 ]
}

@test "add prints a site config that tunneld accepts; the store keeps only the public key" {
  run peerctl site add homelab --edge edge.example.com:7443 --lanes 3 \
    --allow 192.168.1.0/24 --allow nas.lan:443
  [ "$status" -eq 0 ]
  echo "$output" > site.toml
  grep -q '^\[site\]$' site.toml
  grep -q '^name = "homelab"$' site.toml
  grep -q '^edge = "edge.example.com:7443"$' site.toml
  grep -q '^lanes = 3$' site.toml
  grep -q '^allow = \["192.168.1.0/24", "nas.lan:443"\]$' site.toml
  check_site_config site.toml
  priv=$(sed -n 's/^private_key = "\(.*\)"$/\1/p' site.toml)
  [ ${#priv} -eq 44 ]
  # The edge key was created (0600) and its public half is in the config and the store.
  [ "$(stat -c %a "$WARREN_DIR/tunneld-edge.key")" = 600 ]
  edgepub=$(sqlite3 "$WARREN_DIR/warren.db" "SELECT value FROM meta WHERE key='tunnel.edge_public_key'")
  grep -q "^edge_public_key = \"$edgepub\"$" site.toml
  # The private key is nowhere in the store.
  ! sqlite3 "$WARREN_DIR/warren.db" .dump | grep -qF "$priv"
  run sqlite3 "$WARREN_DIR/warren.db" "SELECT name, enabled FROM sites"
  [ "$output" = "homelab|1" ]
  run sqlite3 "$WARREN_DIR/warren.db" "SELECT action, object FROM audit"
  [ "$output" = "site.add|homelab" ]
}

@test "the edge address comes from the store when the edge published it" {
  run peerctl site add a
  [ "$status" -eq 64 ]
  [[ "$output" == *"no edge address: give --edge HOST:PORT"* ]]
  run sqlite3 "$WARREN_DIR/warren.db" "SELECT count(*) FROM sites"
  [ "$output" = 0 ]
  sqlite3 "$WARREN_DIR/warren.db" \
    "INSERT INTO meta (key, value) VALUES ('tunnel.edge_endpoint', 'tunnel.example.net:443')"
  run peerctl site add a
  [ "$status" -eq 0 ]
  [[ "$output" == *'edge = "tunnel.example.net:443"'* ]]
}

@test "bad names, duplicates, addresses and allow rules are refused with 65" {
  peerctl site add homelab --edge e.example:1 > /dev/null
  run peerctl site add homelab --edge e.example:1
  [ "$status" -eq 65 ]
  [ "$output" = "peerctl: site homelab already exists" ]
  run peerctl site add "bad name" --edge e.example:1
  [ "$status" -eq 65 ]
  [[ "$output" == "peerctl: bad site name"* ]]
  run peerctl site add "$(printf 'x%.0s' $(seq 1 65))" --edge e.example:1
  [ "$status" -eq 65 ]
  run peerctl site add ok --edge "no port"
  [ "$status" -eq 65 ]
  [[ "$output" == "peerctl: --edge: bad address"* ]]
  run peerctl site add ok --edge e.example:0
  [ "$status" -eq 65 ]
  run peerctl site add ok --edge e.example:1 --allow 10.0.0.0/40
  [ "$status" -eq 65 ]
  [[ "$output" == "peerctl: --allow: bad allow rule \"10.0.0.0/40\""* ]]
  run sqlite3 "$WARREN_DIR/warren.db" "SELECT group_concat(name) FROM sites"
  [ "$output" = "homelab" ]
}

@test "--key-out writes a 0600 key file the config points to; --command is one line" {
  run peerctl site add s1 --edge e.example:7443 --key-out s1.key
  [ "$status" -eq 0 ]
  [ "$(stat -c %a s1.key)" = 600 ]
  echo "$output" > s1.toml
  grep -q "^private_key_file = \"$T/s1.key\"$" s1.toml
  ! grep -q '^private_key = ' s1.toml
  check_site_config s1.toml
  run peerctl site add s2 --edge e.example:7443 --key-out s1.key
  [ "$status" -eq 1 ]
  [[ "$output" == *"s1.key already exists"* ]]
  run peerctl site add s3 --edge e.example:7443 --key-out -
  [ "$status" -eq 64 ]

  run peerctl site add s4 --edge e.example:7443 --command
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 1 ]
  [[ "$output" == "umask 077 && echo "*" | base64 -d > tunneld.toml && tunneld --config tunneld.toml" ]]
  mkdir run4 && cd run4
  # Run the command without starting tunneld: write the file, then check it.
  eval "${output% && tunneld --config tunneld.toml}"
  [ "$(stat -c %a tunneld.toml)" = 600 ]
  grep -q '^name = "s4"$' tunneld.toml
  check_site_config tunneld.toml
}

@test "list and show, as text and JSON" {
  WARREN_FAKE_NOW=1800000000 peerctl site add homelab --edge e.example:7443 > /dev/null
  peerctl site add office --edge e.example:7443 --disabled > /dev/null
  sqlite3 "$WARREN_DIR/warren.db" "INSERT INTO forwards (protocol, listen_port, site, target, created_at) \
    VALUES ('tcp', 2222, 'homelab', '192.168.1.5:22', 0)"
  run peerctl site list
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "NAME"*"ENABLED"*"ONLINE"*"CREATED"*"PUBLIC KEY" ]]
  [[ "${lines[1]}" == "homelab "*"yes"*"-"*"2027-01-15T08:00:00Z"* ]]
  [[ "${lines[2]}" == "office "*"no"* ]]
  run peerctl site list --json
  [ "${#lines[@]}" -eq 2 ]
  echo "${lines[0]}" | jq -e '.name == "homelab" and .enabled == true and .online == null and (.public_key | length) == 44 and .key_rotated_at == null'
  echo "${lines[1]}" | jq -e '.name == "office" and .enabled == false'
  run peerctl site show homelab
  [ "$status" -eq 0 ]
  [[ "$output" == *"name:           homelab"* ]]
  [[ "$output" == *"online:         unknown (tunneld is not running here)"* ]]
  [[ "$output" == *"forward:        tcp 2222 -> 192.168.1.5:22"* ]]
  run peerctl site show homelab --json
  echo "$output" | jq -e '.forwards[0].port == 2222 and .forwards[0].target == "192.168.1.5:22" and .live == null'
  run peerctl site show nope
  [ "$status" -eq 66 ]
  [ "$output" = "peerctl: no site nope" ]
}

@test "rotate-key changes the stored key and prints a new config; remove deletes" {
  peerctl site add homelab --edge e.example:7443 > old.toml
  old=$(sqlite3 "$WARREN_DIR/warren.db" "SELECT public_key FROM sites WHERE name='homelab'")
  WARREN_FAKE_NOW=1800000000 run peerctl site rotate-key homelab --edge e.example:7443 --json
  [ "$status" -eq 0 ]
  new=$(echo "$output" | jq -r .public_key)
  [ "$new" != "$old" ]
  [ "$(sqlite3 "$WARREN_DIR/warren.db" "SELECT public_key FROM sites WHERE name='homelab'")" = "$new" ]
  echo "$output" | jq -r .config > new.toml
  check_site_config new.toml
  ! cmp -s <(grep private_key old.toml) <(grep private_key new.toml)
  peerctl site show homelab --json | jq -e '.key_rotated_at == "2027-01-15T08:00:00Z"'
  run peerctl site rotate-key nope --edge e.example:1
  [ "$status" -eq 66 ]

  sqlite3 "$WARREN_DIR/warren.db" "INSERT INTO forwards (protocol, listen_port, site, target, created_at) \
    VALUES ('udp', 53, 'homelab', '192.168.1.1:53', 0)"
  run peerctl site remove homelab
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(sqlite3 "$WARREN_DIR/warren.db" "SELECT count(*) FROM sites")" = 0 ]
  [ "$(sqlite3 "$WARREN_DIR/warren.db" "SELECT count(*) FROM forwards")" = 0 ]
  run peerctl site rm homelab
  [ "$status" -eq 66 ]
  run sqlite3 "$WARREN_DIR/warren.db" "SELECT group_concat(action) FROM audit"
  [ "$output" = "site.add,site.rotate_key,site.remove" ]
}

@test "read-only verbs without a store say so (66) and create nothing" {
  export WARREN_DIR=$T/empty
  run peerctl site list
  [ "$status" -eq 66 ]
  [[ "$output" == *"no store here"* ]]
  [ ! -e "$T/empty/warren.db" ]
}
