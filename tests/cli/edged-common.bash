# Shared set-up for the edged*.bats suites (loaded with `load edged-common`): a temp
# WARREN_DIR, background processes stopped by PID, starting edged and origins on port 0, and a
# Python helper (written to $T/h.py) for what curl cannot do: raw bytes on a socket, a slow
# client, a WebSocket-style Upgrade client, an origin that echoes the request head, and a
# stand-in for tunneld's `dial` op. The stand-in speaks exactly the documented peer protocol
# (one JSON request line, one JSON reply line, then the raw stream); it is a test peer, not a
# mock of edged.

setup() {
  REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
  case ${BUILD:-build} in
  /*) BIN=${BUILD}/bin ;;
  *) BIN=$REPO/${BUILD:-build}/bin ;;
  esac
  export PATH="$BIN:$PATH"
  T=$(mktemp -d "${TMPDIR:-/tmp}/warren-edged-test.XXXXXX")
  export WARREN_DIR=$T
  PIDS=""
  write_helper
}

teardown() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}

# start NAME CMD... — runs CMD in the background; waits (<= 5 s) for its first stdout line.
start() {
  local name=$1
  shift
  "$@" >"$T/$name.out" 2>"$T/$name.err" &
  LASTPID=$!
  PIDS="$PIDS $LASTPID"
  local i
  for i in $(seq 1 100); do
    [ -s "$T/$name.out" ] && break
    sleep 0.05
  done
  ADDR=$(head -1 "$T/$name.out")
  [ -n "$ADDR" ] || { cat "$T/$name.err" >&2; return 1; }
}

# origin NAME [netbench serve options] — a netbench origin; sets ADDR.
origin() {
  local name=$1
  shift
  start "$name" netbench serve --listen 127.0.0.1:0 -d 60s "$@"
}

# edged_start — starts edged with $T/edged.toml; sets HTTP, HTTPS, METRICS, EDGED_PID.
edged_start() {
  start edged edged --dir "$T" -c "$T/edged.toml" "$@"
  EDGED_PID=$LASTPID
  local i
  for i in $(seq 1 40); do
    [ -S "$T/run/edged.sock" ] && break
    sleep 0.05
  done
  HTTP=$(sed -n 's/^http //p' "$T/edged.out" | head -1)
  HTTPS=$(sed -n 's/^https //p' "$T/edged.out" | head -1)
  METRICS=$(sed -n 's/^metrics //p' "$T/edged.out" | head -1)
}

# ctl JSON — one request on edged's control socket; prints the reply line.
ctl() {
  python3 "$T/h.py" ctl "$T/run/edged.sock" "$1"
}

# jget JSON EXPR — evaluates EXPR over the parsed JSON text d.
jget() {
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

# code_of URL [curl args...] — the HTTP status.
code_of() {
  local url=$1
  shift
  curl -s -o /dev/null -w '%{http_code}' "$@" "$url"
}

# login HOST FORM [PORTAL] — posts the portal's login form (PORTAL default /.warren/auth);
# sets LOGIN (status), COOKIE ("name=value" or ""), LOCATION; the head is in $T/login.hdr.
login() {
  local out
  out=$(curl -s -D - -o "$T/login.html" -H "Host: $1" --data "$2" "http://$HTTP${3:-/.warren/auth}/login")
  printf '%s' "$out" >"$T/login.hdr"
  LOGIN=$(printf '%s' "$out" | head -1 | cut -d' ' -f2)
  COOKIE=$(printf '%s' "$out" | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -1)
  LOCATION=$(printf '%s' "$out" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p' | head -1)
}

# wait_for CMD... — retries CMD (quietly) for up to 5 s.
wait_for() {
  local i
  for i in $(seq 1 100); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  return 1
}

write_helper() {
  cat >"$T/h.py" <<'PY'
import json, os, socket, sys, threading, time

def hostport(s):
    h, p = s.rsplit(':', 1)
    return h, int(p)

def read_head(f):
    lines = []
    while True:
        line = f.readline()
        if not line:
            return None
        if line in (b'\r\n', b'\n'):
            return lines
        lines.append(line.decode('latin-1').rstrip('\r\n'))

def read_body(f, headers):
    h = {k.lower(): v for k, v in (l.split(':', 1) for l in headers[1:])}
    if h.get('transfer-encoding', '').strip().lower() == 'chunked':
        out = b''
        while True:
            n = int(f.readline().split(b';')[0], 16)
            if n == 0:
                while f.readline() not in (b'\r\n', b''):
                    pass
                return out
            out += f.read(n)
            f.readline()
    n = int(h.get('content-length', '0').strip() or 0)
    return f.read(n) if n else b''

def echo_origin(name, log):
    # Answers every request with its own head (and body) so tests can see what edged sent.
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('127.0.0.1', 0))
    srv.listen(64)
    print('127.0.0.1:%d' % srv.getsockname()[1], flush=True)
    def conn(c):
        f = c.makefile('rb')
        try:
            while True:
                head = read_head(f)
                if head is None:
                    return
                with open(log, 'a') as lf:
                    lf.write(head[0] + '\n')
                if any(l.lower().startswith('upgrade:') for l in head):
                    c.sendall(b'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n'
                              b'Upgrade: websocket\r\n\r\n')
                    while True:
                        d = c.recv(65536)
                        if not d:
                            return
                        c.sendall(d)
                body = read_body(f, head)
                out = ('\n'.join(head) + '\n\n').encode('latin-1') + body
                c.sendall(b'HTTP/1.1 200 OK\r\nX-Origin: ' + name.encode() +
                          b'\r\nContent-Length: ' + str(len(out)).encode() + b'\r\n\r\n' + out)
        except Exception:
            pass
        finally:
            c.close()
    while True:
        c, _ = srv.accept()
        threading.Thread(target=conn, args=(c,), daemon=True).start()

def raw(addr, data, wait=3.0):
    # Sends bytes, prints everything received until the server closes (or `wait` passes),
    # then CLOSED or OPEN.
    s = socket.create_connection(hostport(addr), timeout=wait)
    s.sendall(data)
    out = b''
    state = 'OPEN'
    end = time.time() + wait
    try:
        while time.time() < end:
            d = s.recv(65536)
            if not d:
                state = 'CLOSED'
                break
            out += d
    except socket.timeout:
        pass
    except ConnectionResetError:
        state = 'CLOSED'
    sys.stdout.write(out.decode('latin-1'))
    print('\n' + state)

def slow(addr):
    s = socket.create_connection(hostport(addr), timeout=10)
    t0 = time.time()
    s.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n')
    out = b''
    try:
        for i in range(100):
            s.sendall(b'X-Slow: %d\r\n' % i)
            time.sleep(0.2)
            s.setblocking(False)
            try:
                d = s.recv(65536)
                if not d:
                    break
                out += d
            except BlockingIOError:
                pass
            finally:
                s.setblocking(True)
    except (BrokenPipeError, ConnectionResetError):
        pass
    print('%.1f %s' % (time.time() - t0, out.split(b'\r\n')[0].decode()))

def ws(addr, host, rounds, trigger=None):
    # An Upgrade handshake through edged, then messages echoed back. With a trigger file it
    # prints READY after the first round and waits for the file before the next rounds.
    s = socket.create_connection(hostport(addr), timeout=10)
    s.sendall(('GET /ws HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n'
               'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'
               % host).encode())
    f = s.makefile('rb')
    head = read_head(f)
    print(head[0])
    for i in range(int(rounds)):
        if trigger and i == 1:
            print('READY', flush=True)
            for _ in range(200):
                if os.path.exists(trigger):
                    break
                time.sleep(0.05)
        msg = b'message %d' % i
        s.sendall(msg)
        got = f.read(len(msg))
        print(got.decode())
    print('DONE', flush=True)

def fake_tunneld(path, log):
    # tunneld's dial contract: {"op":"dial","site":S,"target":"h:p"} -> {"ok":true} + stream;
    # and its status op (many per connection), with one site, homelab, online.
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(16)
    print(path, flush=True)
    def pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    def conn(c):
        while True:
            line = b''
            while not line.endswith(b'\n'):
                d = c.recv(1)
                if not d:
                    return
                line += d
            req = json.loads(line)
            if req.get('op') != 'status':
                break
            # edged polls status while targets are behind sites: homelab is online.
            c.sendall(json.dumps({'ok': True, 'role': 'edge', 'sites': [
                {'name': 'homelab', 'enabled': True, 'online': True}]}).encode() + b'\n')
        with open(log, 'a') as lf:
            lf.write(json.dumps(req, sort_keys=True) + '\n')
        if req.get('op') != 'dial' or req.get('site') != 'homelab':
            c.sendall(json.dumps({'ok': False, 'error': 'site "%s" is not connected' %
                                  req.get('site')}).encode() + b'\n')
            c.close()
            return
        try:
            t = socket.create_connection(hostport(req['target']), timeout=5)
        except OSError as e:
            c.sendall(json.dumps({'ok': False, 'error': str(e)}).encode() + b'\n')
            c.close()
            return
        c.sendall(b'{"ok":true}\n')
        threading.Thread(target=pipe, args=(c, t), daemon=True).start()
        pipe(t, c)
    while True:
        c, _ = srv.accept()
        threading.Thread(target=conn, args=(c,), daemon=True).start()

def keepalive(addr, pause):
    # Two requests on one connection with a pause between (idle connections get parked).
    s = socket.create_connection(hostport(addr), timeout=10)
    f = s.makefile('rb')
    for i in range(2):
        if i:
            time.sleep(float(pause))
        s.sendall(b'GET /%d HTTP/1.1\r\nHost: x\r\n\r\n' % i)
        head = read_head(f)
        body = read_body(f, head)
        print(head[0], body.decode().strip())

def ctl(path, req):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    s.sendall(req.encode() + b'\n')
    out = b''
    while not out.endswith(b'\n'):
        d = s.recv(1 << 20)
        if not d:
            break
        out += d
    print(out.decode().strip())

cmd = sys.argv[1]
if cmd == 'echo-origin':
    echo_origin(sys.argv[2], sys.argv[3])
elif cmd == 'raw':
    raw(sys.argv[2], sys.argv[3].encode('latin-1').decode('unicode_escape').encode('latin-1'))
elif cmd == 'slow':
    slow(sys.argv[2])
elif cmd == 'ws':
    ws(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else None)
elif cmd == 'fake-tunneld':
    fake_tunneld(sys.argv[2], sys.argv[3])
elif cmd == 'keepalive':
    keepalive(sys.argv[2], sys.argv[3])
elif cmd == 'ctl':
    ctl(sys.argv[2], sys.argv[3])
PY
}
