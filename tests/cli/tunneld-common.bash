# Shared by the tunneld*.bats suites (loaded with `load tunneld-common`): a free TCP port on
# 127.0.0.1 and waiting for a listener.

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_listen() { # PORT [udp]
  for _ in $(seq 1 100); do
    if [ "${2:-}" = udp ]; then
      ss -Hlun "sport = :$1" | grep -q . && return 0
    else
      ss -Hltn "sport = :$1" | grep -q LISTEN && return 0
    fi
    sleep 0.05
  done
  return 1
}
