#!/usr/bin/env bats
# edged's access control under attack, end to end: every attack checks the answer edged gives
# (302/400/401/403/429) and that nothing reached the origin, and every class has a positive
# control showing that the legitimate request still works and does reach the origin.
# Classes: one normalised path for routing, rules and forwarding (dot segments, encoded dots,
# doubled slashes, absolute-form; encoded slash/backslash, ';', NUL and overlong UTF-8 refused
# on every route); method case; identity headers, assertions, share-token headers and the
# session cookie from clients (also in chunked trailers) on public, routes-file and protected
# routes; the portal of a path-prefixed resource; Basic with a TOTP user's password, API keys
# of disabled users, one-time codes under concurrency, password rotation; lockout that a
# success, a restart or a spoofed X-Forwarded-For cannot reset; open redirects and logout
# CSRF; HSTS on proxied HTTPS answers; chunk extensions, absolute-form host mismatch and
# lowercase methods in the HTTP/1.1 parser.
#
# Requests with non-canonical spellings are sent as raw bytes ($T/a.py req). Several attacks
# run per test; each failed check is noted and the test fails at its end with all of them
# listed, so one run shows every hole at once.

load edged-common

PY=/usr/bin/python3

# ---- helpers ----------------------------------------------------------------------------------

write_attack_helper() {
  cat >"$T/a.py" <<'PY'
import socket, ssl, sys, threading, time

def hostport(s):
    h, p = s.rsplit(':', 1)
    return h, int(p)

def unescape(s):
    return s.encode('latin-1').decode('unicode_escape').encode('latin-1')

def read_head(f):
    lines = []
    while True:
        line = f.readline()
        if not line:
            return None
        if line in (b'\r\n', b'\n'):
            return lines
        lines.append(line.decode('latin-1').rstrip('\r\n'))

def hdrs(head):
    out = {}
    for l in head[1:]:
        if ':' in l:
            k, v = l.split(':', 1)
            out.setdefault(k.strip().lower(), v.strip())
    return out

def read_raw_body(f, head, response=False):
    # The body exactly as framed on the wire (chunk sizes, extensions and trailers included).
    h = hdrs(head)
    if h.get('transfer-encoding', '').lower().endswith('chunked'):
        out = b''
        while True:
            line = f.readline()
            if not line:
                return out
            out += line
            n = int(line.split(b';')[0].strip() or b'0', 16)
            if n == 0:
                while True:
                    t = f.readline()
                    out += t
                    if t in (b'\r\n', b'\n', b''):
                        return out
            out += f.read(n + 2)
    if 'content-length' in h:
        n = int(h['content-length'] or 0)
        return f.read(n) if n else b''
    return f.read() if response else b''

def origin(name, log):
    # Logs each request line to LOG and the whole request (head and raw body, trailers
    # included) to LOG.raw; answers 200 with that same text as the body.
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(('127.0.0.1', 0))
    srv.listen(128)
    print('127.0.0.1:%d' % srv.getsockname()[1], flush=True)
    lock = threading.Lock()
    def conn(c):
        f = c.makefile('rb')
        try:
            while True:
                head = read_head(f)
                if head is None:
                    return
                with lock:
                    with open(log, 'a') as lf:
                        lf.write(head[0] + '\n')
                body = read_raw_body(f, head)
                out = ('\n'.join(head) + '\n\n').encode('latin-1') + body
                with lock:
                    with open(log + '.raw', 'ab') as rf:
                        rf.write(out + b'\n----\n')
                c.sendall(b'HTTP/1.1 200 OK\r\nX-Origin: ' + name.encode() +
                          b'\r\nContent-Type: text/plain\r\nContent-Length: ' +
                          str(len(out)).encode() + b'\r\n\r\n' + out)
        except Exception:
            pass
        finally:
            c.close()
    while True:
        c, _ = srv.accept()
        threading.Thread(target=conn, args=(c,), daemon=True).start()

def one(addr, data, tls_name=None, cafile=None):
    # One request (raw bytes), one answer: prints its head and body, or NORESPONSE.
    s = socket.create_connection(hostport(addr), timeout=5)
    if tls_name:
        ctx = ssl.create_default_context(cafile=cafile)
        s = ctx.wrap_socket(s, server_hostname=tls_name)
    try:
        s.sendall(data)
        f = s.makefile('rb')
        head = read_head(f)
        if not head:
            return 'NORESPONSE\n'
        body = b''
        if not head[0].split(' ')[1].startswith(('1', '204', '304')):
            body = read_raw_body(f, head, response=True)
        return '\n'.join(head) + '\n\n' + body.decode('latin-1')
    except (socket.timeout, ConnectionError, OSError):
        return 'NORESPONSE\n'
    finally:
        s.close()

def burst(addr, n, data):
    # N connections, the same request sent on all of them at once; one status per line.
    socks = [socket.create_connection(hostport(addr), timeout=20) for _ in range(n)]
    go = threading.Barrier(n)
    res = [''] * n
    def run(i):
        s = socks[i]
        go.wait()
        try:
            s.sendall(data)
            f = s.makefile('rb')
            head = read_head(f)
            if not head:
                res[i] = 'NORESPONSE'
                return
            cookie = any(l.lower().startswith('set-cookie:') and 'session=' in l and
                         'Max-Age=0' not in l for l in head)
            res[i] = head[0].split(' ')[1] + (' cookie' if cookie else '')
        except (socket.timeout, ConnectionError, OSError):
            res[i] = 'NORESPONSE'
        finally:
            s.close()
    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print('\n'.join(res))

cmd = sys.argv[1]
if cmd == 'origin':
    origin(sys.argv[2], sys.argv[3])
elif cmd == 'req':
    sys.stdout.write(one(sys.argv[2], unescape(sys.argv[3])))
elif cmd == 'treq':
    sys.stdout.write(one(sys.argv[2], unescape(sys.argv[3]), sys.argv[4], sys.argv[5]))
elif cmd == 'burst':
    burst(sys.argv[2], int(sys.argv[3]), unescape(sys.argv[4]))
PY
}

# atk_setup [TOP-LEVEL TOML] [[auth] TOML] — the recording origin ($ORIGIN, log $T/origin.log,
# whole requests in $T/origin.log.raw) and $T/edged.toml.
atk_setup() {
  write_attack_helper
  : >"$T/origin.log"
  start origin $PY "$T/a.py" origin e1 "$T/origin.log"
  ORIGIN=$ADDR
  cat >"$T/sendmail" <<EOF
#!/bin/sh
cat >>"$T/mail.txt"
EOF
  chmod +x "$T/sendmail"
  cat >"$T/edged.toml" <<EOF
threads = 2
${1:-}
[http]
listen = ["127.0.0.1:0"]
[reload]
store_poll = "100ms"
file_poll = "100ms"
[auth]
audit_log = "audit.log"
mail_command = "$T/sendmail"
mail_from = "warren@edge.test"
${2:-}
EOF
  FAILS=""
  MARKS=""
}

# res NAME HOST PATH [peerctl resource auth options...] — a store resource in front of the
# origin (public without options).
res() {
  local name=$1 host=$2 path=$3
  shift 3
  peerctl --dir "$T" resource add "$name" --host "$host" --path "$path" --target "$ORIGIN" >/dev/null
  if [ $# -gt 0 ]; then peerctl --dir "$T" resource auth "$name" "$@" >/dev/null; fi
}

# password NAME SECRET — sets a resource's password.
password() {
  printf '%s\n' "$2" | peerctl --dir "$T" resource auth "$1" --password-file - >/dev/null
}

# send RAW — one raw request (with \r\n escapes) to edged's HTTP listener; sets STATUS, RESP,
# LOC (Location) and SETCOOKIE (first Set-Cookie "name=value").
send() {
  RESP=$($PY "$T/a.py" req "$HTTP" "$1")
  parse_resp
}

parse_resp() {
  STATUS=$(printf '%s\n' "$RESP" | head -1 | cut -d' ' -f2)
  local head
  head=$(printf '%s\n' "$RESP" | sed '/^$/q')
  LOC=$(printf '%s\n' "$head" | sed -n 's/^[Ll]ocation: //p' | head -1)
  SETCOOKIE=$(printf '%s\n' "$head" | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -1)
}

# get HOST TARGET [HEADER LINES, each ending in \r\n] — a GET with Connection: close.
get() {
  send "GET $2 HTTP/1.1\r\nHost: $1\r\n${3:-}Connection: close\r\n\r\n"
}

# note TEXT — records a failed check (the test fails at done_checks with all of them).
note() {
  FAILS="$FAILS
  - $*"
}

# want DESC CODES — $STATUS must be one of CODES ("302|401").
want() {
  case "|$2|" in
  *"|$STATUS|"*) ;;
  *) note "$1: got ${STATUS:-no answer} (want $2)" ;;
  esac
}

# attack DESC CODES MARK RAW — sends RAW, checks the status, remembers MARK (a string in the
# request that must never show up in the origin's log).
attack() {
  send "$4"
  want "$1" "$2"
  MARKS="$MARKS $3"
}

# attack_get DESC CODES MARK HOST TARGET [HEADER LINES]
attack_get() {
  get "$4" "$5" "${6:-}"
  want "$1" "$2"
  MARKS="$MARKS $3"
}

# reached MARK — waits for MARK in the origin's log (positive controls).
reached() {
  wait_for grep -qF -- "$1" "$T/origin.log" || note "control $1 never reached the origin"
}

# origin_clean — none of the attack marks is in the origin's log. Called after a positive
# control was seen there, so whatever edged forwarded before it has been logged too.
origin_clean() {
  local m
  for m in $MARKS; do
    if grep -qF -- "$m" "$T/origin.log"; then
      note "$m reached the origin as: $(grep -F -- "$m" "$T/origin.log" | head -1)"
    fi
  done
}

# done_checks — fails the test when any check failed, listing them.
done_checks() {
  if [ -n "$FAILS" ]; then
    printf 'failed checks:%s\n' "$FAILS"
    return 1
  fi
}


# portal_login HOST PATH FORM — signs in the way a browser does: GET PATH, follow the redirect
# to the login page, post FORM to that page's form action. Sets LOGIN and COOKIE.
portal_login() {
  local host=$1 action
  get "$host" "$2"
  get "$host" "${LOC#http://$host}"
  action=$(printf '%s' "$RESP" | grep -o '<form method="post" action="[^"]*"' | head -1 | sed 's/.*action="//; s/"$//')
  [ -n "$action" ] || action=/.warren/auth/login
  send "POST $action HTTP/1.1\r\nHost: $host\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${#3}\r\nConnection: close\r\n\r\n$3"
  LOGIN=$STATUS
  COOKIE=$SETCOOKIE
}

# totp SECRET — the current code.
totp() {
  $PY -c 'import base64,hmac,hashlib,struct,sys,time
k=base64.b32decode(sys.argv[1]+"="*(-len(sys.argv[1])%8)); c=int(time.time())//30
h=hmac.new(k,struct.pack(">Q",c),hashlib.sha1).digest(); o=h[-1]&15
print("%06d"%((struct.unpack(">I",h[o:o+4])[0]&0x7fffffff)%1000000))' "$1"
}

# fresh_step — returns once at least 5 s of the current 30 s TOTP step are left.
fresh_step() {
  local i
  for i in $(seq 1 200); do
    [ $(($(date +%s) % 30)) -lt 25 ] && return 0
    sleep 0.05
  done
}

# seen_store — adds a probe resource and waits until edged routes it: every store change made
# before has then been picked up too.
seen_store() {
  PROBE=probe$RANDOM
  peerctl --dir "$T" resource add "$PROBE" --host "$PROBE.test" --target "$ORIGIN" >/dev/null
  wait_for probe_routed
}
probe_routed() { [ "$(code_of "http://$HTTP/$PROBE" -H "Host: $PROBE.test")" = 200 ]; }

# ---- 1. one normalised path ------------------------------------------------------------------

# pub_admin — h.test: "pub" public at /, "admin" with a password at /admin.
pub_admin() {
  atk_setup
  res pub h.test / --public
  res admin h.test /admin
  password admin admin-pass-1
}

@test "paths: dot segments, encoded dots, doubled slashes and absolute-form do not reach a protected prefix through its public neighbour" {
  pub_admin
  edged_start
  local c='302|401|400'
  attack_get "/pub/../admin" "$c" mk01x h.test '/pub/../admin/mk01x'
  attack_get "/%2e%2e/admin" "$c" mk02x h.test '/%2e%2e/admin/mk02x'
  attack_get "/%2E%2E/admin" "$c" mk03x h.test '/%2E%2E/admin/mk03x'
  attack_get "/./admin" "$c" mk04x h.test '/./admin/mk04x'
  attack_get "//admin" "$c" mk05x h.test '//admin/mk05x'
  attack_get "///admin" "$c" mk06x h.test '///admin/mk06x'
  attack_get "/pub/.%2e/admin" "$c" mk07x h.test '/pub/.%2e/admin/mk07x'
  attack_get "/pub/%2e./admin" "$c" mk08x h.test '/pub/%2e./admin/mk08x'
  attack_get "/%2e/admin" "$c" mk09x h.test '/%2e/admin/mk09x'
  attack_get "/%61dmin (a encoded)" "$c" mk10x h.test '/%61dmin/mk10x'
  attack_get "/adm%69n" "$c" mk11x h.test '/adm%69n/mk11x'
  attack_get "/pub/..//admin" "$c" mk12x h.test '/pub/..//admin/mk12x'
  attack_get "/admin/../admin" "$c" mk13x h.test '/admin/../admin/mk13x'
  attack_get "/pub/a/b/../../../admin" "$c" mk14x h.test '/pub/a/b/../../../admin/mk14x'
  attack_get "/../admin (above the root)" "$c" mk15x h.test '/../admin/mk15x'
  attack_get "/pub#/../admin (fragment)" "$c" mk16x h.test '/pub#/../admin/mk16x'
  attack_get "/admin/mk17x?x=/../pub" "$c" mk17x h.test '/admin/mk17x?x=/../pub'
  attack "absolute-form http://h.test/pub/../admin" "$c" mk18x \
    'GET http://h.test/pub/../admin/mk18x HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n'
  attack "absolute-form http://h.test//admin" "$c" mk19x \
    'GET http://h.test//admin/mk19x HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n'
  attack "absolute-form HTTP://H.TEST/%2e%2e/admin" "$c" mk20x \
    'GET HTTP://H.TEST/%2e%2e/admin/mk20x HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n'
  attack "POST /pub/../admin" '401|400' mk21x \
    'POST /pub/../admin/mk21x HTTP/1.1\r\nHost: h.test\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi'
  attack "PUT //admin" '401|400' mk22x \
    'PUT //admin/mk22x HTTP/1.1\r\nHost: h.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'

  # controls: the public neighbour, in normalised form; /ADMIN is another path (case matters)
  get h.test '/ADMIN/ok-upper'
  want "/ADMIN goes to the public resource" 200
  reached 'GET /ADMIN/ok-upper HTTP/1.1'
  get h.test '/pub/./a/../ok-dots'
  want "/pub/./a/../ok-dots" 200
  reached 'GET /pub/ok-dots HTTP/1.1'
  grep -qF '/pub/./a/../ok-dots' "$T/origin.log" && note "the origin got the dot segments as sent"
  get h.test '/%41bc/ok-pct'
  want "/%41bc" 200
  reached 'GET /Abc/ok-pct HTTP/1.1'
  get h.test '//pub//ok-slashes'
  want "//pub//ok-slashes" 200
  reached 'GET /pub/ok-slashes HTTP/1.1'
  send 'GET http://h.test/pub/ok-abs HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n'
  want "absolute-form to the public path" 200
  reached 'GET /pub/ok-abs HTTP/1.1'
  # the password opens /admin
  portal_login h.test /admin/ok-in 'method=password&password=admin-pass-1&rd=%2Fadmin%2Fok-in'
  [ "$LOGIN" = 303 ] || note "login with the password (through the portal the redirect names): $LOGIN"
  get h.test '/admin/ok-in' "Cookie: $COOKIE\r\n"
  want "/admin with the session" 200
  reached 'GET /admin/ok-in HTTP/1.1'
  origin_clean
  done_checks
}

@test "paths: encoded slash or backslash, ';', NUL, fragments of control bytes and overlong UTF-8 are 400 on every route, public ones too" {
  pub_admin
  printf '[[route]]\nname = "rf"\nhost = "rf.test"\ntargets = ["%s"]\n' "$ORIGIN" >"$T/routes.toml"
  sed -i '1a routes_file = "routes.toml"' "$T/edged.toml"
  edged_start
  attack_get "/admin%2Fsecret" 400 mk01x h.test '/admin%2Fmk01x'
  attack_get "/admin%2fsecret" 400 mk02x h.test '/admin%2fmk02x'
  attack_get "/pub%2F..%2Fadmin" 400 mk03x h.test '/pub%2F..%2Fadmin/mk03x'
  attack_get "/pub/x%2Fpublic" 400 mk04x h.test '/pub/x%2Fmk04x'
  attack_get "/admin%5csecret" 400 mk05x h.test '/admin%5cmk05x'
  attack_get "/pub%5C..%5Cadmin" 400 mk06x h.test '/pub%5C..%5Cadmin/mk06x'
  attack_get "raw backslash /pub\\..\\admin" 400 mk07x h.test '/pub\\..\\admin\\mk07x'
  attack_get "/admin;x=1/secret" 400 mk08x h.test '/admin;x=1/mk08x'
  attack_get "/pub;/../admin" 400 mk09x h.test '/pub;/../admin/mk09x'
  attack_get "/pub/..;/admin" 400 mk10x h.test '/pub/..;/admin/mk10x'
  attack_get "/pub;jsessionid=1 (public)" 400 mk11x h.test '/pub;jsessionid=mk11x'
  attack_get "/admin%00" 400 mk12x h.test '/admin%00/mk12x'
  attack_get "/pub%00.html (public)" 400 mk13x h.test '/pub/mk13x%00.html'
  attack_get "/%c0%ae%c0%ae/admin (overlong)" 400 mk14x h.test '/%c0%ae%c0%ae/admin/mk14x'
  attack_get "/pub/%c0%af (overlong /)" 400 mk15x h.test '/pub/%c0%afmk15x'
  attack_get "/pub/%e0%80%ae (3-byte overlong)" 400 mk16x h.test '/pub/%e0%80%ae/mk16x'
  attack_get "/pub/%c0%ae (public, overlong .)" 400 mk17x h.test '/pub/%c0%ae/mk17x'
  attack_get "/pub/%ff (not UTF-8)" 400 mk18x h.test '/pub/%ffmk18x'
  attack_get "/pub/%0a (encoded LF)" 400 mk19x h.test '/pub/%0amk19x'
  attack_get "/pub/%zz (bad escape)" 400 mk20x h.test '/pub/%zzmk20x'
  attack_get "routes file: /x%2Fy" 400 mk21x rf.test '/x%2Fmk21x'
  attack_get "routes file: /x%5Cy" 400 mk22x rf.test '/x%5Cmk22x'
  attack_get "routes file: /x;y" 400 mk23x rf.test '/x;mk23x'
  attack_get "routes file: /x%00" 400 mk24x rf.test '/x%00mk24x'
  attack_get "routes file: /%c0%ae%c0%ae/" 400 mk25x rf.test '/%c0%ae%c0%ae/mk25x'

  # controls: valid UTF-8 and ordinary escapes pass, on the store resource and the routes file
  get h.test '/pub/%C3%A9t%C3%A9-ok-utf8'
  want "/pub/%C3%A9t%C3%A9" 200
  reached 'ok-utf8'
  get h.test '/pub/a%20b-ok-space?q=a;b'
  want "/pub/a%20b?q=a;b (';' in the query is fine)" 200
  reached 'ok-space'
  get rf.test '/ok-routes-file'
  want "routes file route" 200
  reached 'GET /ok-routes-file HTTP/1.1'
  origin_clean
  done_checks
}

@test "rules: a DROP on /admin/** cannot be dodged with spellings; a DROP on DELETE catches every case of it" {
  atk_setup
  res ruled r.test / --public
  peerctl --dir "$T" rule add ruled --action DROP --priority 10 --path '/admin/**' >/dev/null
  peerctl --dir "$T" rule add ruled --action DROP --priority 20 --method DELETE >/dev/null
  edged_start
  local c='403|400'
  attack_get "/admin/x" 403 mk01x r.test '/admin/mk01x'
  attack_get "/pub/../admin/x" "$c" mk02x r.test '/pub/../admin/mk02x'
  attack_get "//admin/x" "$c" mk03x r.test '//admin/mk03x'
  attack_get "/./admin/x" "$c" mk04x r.test '/./admin/mk04x'
  attack_get "/%61dmin/x" "$c" mk05x r.test '/%61dmin/mk05x'
  attack_get "/%2e%2e/admin/x" "$c" mk06x r.test '/%2e%2e/admin/mk06x'
  attack_get "/admin//x" "$c" mk07x r.test '/admin//mk07x'
  attack_get "/admin/./x" "$c" mk08x r.test '/admin/./mk08x'
  attack_get "/admin;a/x" 400 mk09x r.test '/admin;a/mk09x'
  attack_get "/admin%2Fx" 400 mk10x r.test '/admin%2Fmk10x'
  attack "absolute-form /x/../admin/" "$c" mk11x \
    'GET http://r.test/x/../admin/mk11x HTTP/1.1\r\nHost: r.test\r\nConnection: close\r\n\r\n'
  attack "DELETE" 403 mk12x 'DELETE /mk12x HTTP/1.1\r\nHost: r.test\r\nConnection: close\r\n\r\n'
  attack "delete" 400 mk13x 'delete /mk13x HTTP/1.1\r\nHost: r.test\r\nConnection: close\r\n\r\n'
  attack "DeLeTe" 400 mk14x 'DeLeTe /mk14x HTTP/1.1\r\nHost: r.test\r\nConnection: close\r\n\r\n'
  attack "Delete" 400 mk15x 'Delete /mk15x HTTP/1.1\r\nHost: r.test\r\nConnection: close\r\n\r\n'
  attack "deletE on /admin" 400 mk16x 'deletE /admin/mk16x HTTP/1.1\r\nHost: r.test\r\nConnection: close\r\n\r\n'

  # controls
  get r.test '/ok-public'
  want "GET /ok-public" 200
  reached 'GET /ok-public HTTP/1.1'
  get r.test '/ADMIN/ok-upper'
  want "GET /ADMIN (another path)" 200
  reached 'GET /ADMIN/ok-upper HTTP/1.1'
  get r.test '/administrator/ok-prefix'
  want "GET /administrator (not under /admin/)" 200
  reached 'GET /administrator/ok-prefix HTTP/1.1'
  send 'PUT /ok-put HTTP/1.1\r\nHost: r.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
  want "PUT (not DELETE)" 200
  reached 'PUT /ok-put HTTP/1.1'
  origin_clean
  wait_for grep -q '"reason":"rule_drop"' "$T/audit.log" || note "no rule_drop in the audit log"
  done_checks
}

@test "rules: a resource with no access settings still enforces its rules, whatever the spelling" {
  atk_setup
  res bare b.test /
  peerctl --dir "$T" rule add bare --action DROP --priority 10 --path '/admin/**' >/dev/null
  edged_start
  local c='403|400'
  attack_get "/admin/x" 403 mk41x b.test '/admin/mk41x'
  attack_get "//admin/x" "$c" mk42x b.test '//admin/mk42x'
  attack_get "/%61dmin/x" "$c" mk43x b.test '/%61dmin/mk43x'
  attack_get "/pub/../admin/x" "$c" mk44x b.test '/pub/../admin/mk44x'
  attack "absolute-form" "$c" mk45x \
    'GET http://b.test/admin/mk45x HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n'
  attack "Host twice" "$c" mk46x \
    'GET /admin/mk46x HTTP/1.1\r\nHost: other.test\r\nHost: b.test\r\nConnection: close\r\n\r\n'
  # A rule added while edged runs applies at the next reload, still with no settings row.
  peerctl --dir "$T" rule add bare --action DROP --priority 20 --path '/late/**' >/dev/null
  for _ in $(seq 1 50); do
    get b.test '/late/probe'
    [ "$STATUS" = 403 ] && break
    sleep 0.1
  done
  want "rule added at run time" 403
  attack_get "/late/x" 403 mk47x b.test '/late/mk47x'
  # controls
  get b.test '/ok-bare'
  want "GET /ok-bare" 200
  reached 'GET /ok-bare HTTP/1.1'
  origin_clean
  done_checks
}

# ---- 2. identity comes only from edged --------------------------------------------------------

# forged_headers — header lines a client might send to pose as someone.
forged_headers() {
  printf '%s' 'Remote-User: EVIL01\r\nRemote-Email: EVIL02@x\r\nRemote-Groups: EVIL03\r\n'
  printf '%s' 'Remote-Name: EVIL04\r\nRemote-Role: EVIL05\r\nremote-user: EVIL06\r\n'
  printf '%s' 'Remote_User: EVIL07\r\nREMOTE-ROLE: EVIL08\r\nRemote-Anything: EVIL09\r\n'
  printf '%s' 'Warren-Jwt-Assertion: EVIL10\r\nWarren_Jwt_Assertion: EVIL11\r\n'
  printf '%s' 'Warren-Token-Id: EVIL12\r\nWarren-Token: EVIL13\r\n'
  printf '%s' 'Cookie: warren_session=EVIL14; keep=ok-cookie\r\n'
  printf '%s' 'Cookie: __Host-warren_session=EVIL15\r\n'
}

# no_forgery DESC — the answer in $RESP (the head the origin got, echoed back) holds none of
# the forged values and came from the origin.
no_forgery() {
  local ev
  printf '%s' "$RESP" | grep -q '^X-Origin: e1' || note "$1: not answered by the origin ($STATUS)"
  for ev in $(printf '%s' "$RESP" | grep -o 'EVIL[0-9][0-9]' | sort -u); do
    note "$1: the origin got $(printf '%s\n' "$RESP" | grep -m1 "$ev" | tr -d '\r')"
  done
}

@test "identity: Remote-*, the assertion, share-token headers and the session cookie from clients never reach the origin, on public, routes-file and protected routes" {
  atk_setup
  res pub pub.test / --public
  res api api.test / --basic
  printf 'erin-pass-1\n' | peerctl --dir "$T" user add erin@example.com --name Erin --password-file - >/dev/null
  res app app.test /
  password app app-pass-1
  printf '[[route]]\nname = "rf"\nhost = "rf.test"\ntargets = ["%s"]\n' "$ORIGIN" >"$T/routes.toml"
  sed -i '1a routes_file = "routes.toml"' "$T/edged.toml"
  edged_start
  login app.test 'method=password&password=app-pass-1'
  [ "$LOGIN" = 303 ] || note "login: $LOGIN"
  session=$COOKIE
  basic="Authorization: Basic $(printf 'erin@example.com:erin-pass-1' | base64 -w0)\r\n"
  forged=$(forged_headers)

  get pub.test /ok-pub "$forged"
  want "public store resource" 200
  no_forgery "public store resource"
  [[ "$RESP" == *"keep=ok-cookie"* ]] || note "public: other cookies are not passed on"
  get rf.test /ok-rf "$forged"
  want "routes-file route" 200
  no_forgery "routes-file route"
  get api.test /ok-api "$basic$forged"
  want "Basic" 200
  no_forgery "Basic-protected resource"
  [ "$(printf '%s' "$RESP" | grep -ci '^remote-user:')" = 1 ] || note "Basic: not exactly one Remote-User"
  [[ "$RESP" == *"Remote-User: erin@example.com"* ]] || note "Basic: no Remote-User from edged"
  get app.test /ok-app "$forged""Cookie: $session\r\n"
  want "session" 200
  no_forgery "password-protected resource"
  [[ "$RESP" != *"${session#*=}"* ]] || note "session: the real session cookie reached the origin"
  [[ "$RESP" == *"keep=ok-cookie"* ]] || note "session: other cookies are not passed on"

  # the same in chunked trailers
  local body='5\r\nhello\r\n0\r\n'
  local trailers='Remote-User: EVIL21\r\nRemote-Role: EVIL22\r\nWarren-Jwt-Assertion: EVIL23\r\nWarren-Token-Id: EVIL24\r\nCookie: warren_session=EVIL25\r\n\r\n'
  local te='Transfer-Encoding: chunked\r\nConnection: close\r\n'
  for target in "pub.test|" "rf.test|" "api.test|$basic" "app.test|Cookie: $session\r\n"; do
    h=${target%%|*}
    send "POST /ok-trailer HTTP/1.1\r\nHost: $h\r\n${target#*|}$te\r\n$body$trailers"
    want "chunked POST with trailers to $h" 200
    no_forgery "trailers, $h"
    [[ "$RESP" == *hello* ]] || note "trailers, $h: the body did not arrive"
  done
  done_checks
}

@test "identity: configured header names (and the default Remote-*) are removed from clients too" {
  atk_setup "" '[auth.headers]
user = "X-Auth-User"
email = "X-Auth-Email"
name = "X-Auth-Name"
role = "X-Auth-Role"
assertion = "X-Warren-Assertion"'
  res pub pub.test / --public
  res api api.test / --basic
  printf 'erin-pass-1\n' | peerctl --dir "$T" user add erin@example.com --password-file - >/dev/null
  printf '[[route]]\nname = "rf"\nhost = "rf.test"\ntargets = ["%s"]\n' "$ORIGIN" >"$T/routes.toml"
  sed -i '1a routes_file = "routes.toml"' "$T/edged.toml"
  edged_start
  forged='X-Auth-User: EVIL01\r\nX_Auth_User: EVIL02\r\nX-Auth-Email: EVIL03\r\nX-Auth-Role: EVIL04\r\n'
  forged+='X-Warren-Assertion: EVIL05\r\nX-Auth-Name: EVIL06\r\nRemote-User: EVIL07\r\nRemote-Groups: EVIL08\r\n'
  for h in pub.test rf.test; do
    get $h /ok "$forged"
    want "$h" 200
    no_forgery "$h"
  done
  get api.test /ok "Authorization: Basic $(printf 'erin@example.com:erin-pass-1' | base64 -w0)\r\n$forged"
  want "api.test with Basic" 200
  no_forgery "api.test"
  [[ "$RESP" == *"X-Auth-User: erin@example.com"* ]] || note "no X-Auth-User from edged"
  done_checks
}

# ---- 3. the portal of a path-prefixed resource ------------------------------------------------

@test "portal: the login page and login post of a path-prefixed resource are answered by edged, never by the public neighbour's origin" {
  pub_admin
  edged_start
  get h.test '/admin/ok-target?x=1'
  want "GET /admin/ok-target without a session" 302
  login_url=$LOC
  case "$login_url" in
  /[!/\\]* | http://h.test/*) ;;
  *) note "login redirect is not on the host: $login_url" ;;
  esac
  # the page the redirect names is edged's login form
  get h.test "${login_url#http://h.test}"
  want "GET $login_url" 200
  [[ "$RESP" == *'name="password"'* ]] || note "GET $login_url: not the login form"
  [[ "$RESP" != *"X-Origin: e1"* ]] || note "GET $login_url: answered by the neighbour's origin"
  action=$(printf '%s' "$RESP" | grep -o '<form method="post" action="[^"]*"' | head -1 | sed 's/.*action="//; s/"$//')
  [ -n "$action" ] || action=/.warren/auth/login
  # a post with the wrong password, then the right one, to the form's action
  send "POST $action HTTP/1.1\r\nHost: h.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 40\r\nConnection: close\r\n\r\nmethod=password&password=wrong-pass-xx&a"
  want "POST $action (wrong password)" 401
  [[ "$RESP" != *"X-Origin: e1"* ]] || note "POST $action: answered by the neighbour's origin"
  form='method=password&password=admin-pass-1&rd=%2Fadmin%2Fok-target%3Fx%3D1'
  send "POST $action HTTP/1.1\r\nHost: h.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${#form}\r\nConnection: close\r\n\r\n$form"
  want "POST $action (password)" 303
  [[ "$RESP" != *"X-Origin: e1"* ]] || note "POST $action: answered by the neighbour's origin"
  [[ "$SETCOOKIE" == *warren_session=* ]] || note "POST $action: no session cookie"
  cookie=$SETCOOKIE
  # the portal's spellings under the resource's prefix and at the host's root: edged or a
  # redirect, never the neighbour's origin
  for p in /admin/.warren/auth/login /.warren/auth/login /.warren/auth/ /.warren/auth/jwks.json; do
    get h.test "$p"
    case "$STATUS" in 200 | 302 | 404) ;; *) note "GET $p: $STATUS" ;; esac
    [[ "$RESP" != *"X-Origin: e1"* ]] || note "GET $p: proxied to the neighbour's origin"
  done
  form='method=password&password=admin-pass-1'
  for p in /.warren/auth/login /admin/.warren/auth/login; do
    send "POST $p HTTP/1.1\r\nHost: h.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${#form}\r\nConnection: close\r\n\r\n$form"
    [[ "$RESP" != *"X-Origin: e1"* ]] || note "POST $p (with the password): proxied to the neighbour's origin"
  done
  grep -q 'warren\|password' "$T/origin.log.raw" 2>/dev/null && note "the origin saw: $(grep -m1 'warren\|password' "$T/origin.log.raw")"

  # control: the session opens the resource
  get h.test '/admin/ok-target?x=1' "Cookie: $cookie\r\n"
  want "GET /admin/ok-target with the session" 200
  reached 'GET /admin/ok-target?x=1 HTTP/1.1'
  [ "$(grep -c . "$T/origin.log")" = 1 ] || note "the origin saw more than the control: $(cat "$T/origin.log")"
  done_checks
}

# ---- 4. credentials ---------------------------------------------------------------------------

@test "credentials: Basic with a TOTP user's password is refused; API keys of disabled users are refused" {
  atk_setup
  res api api.test / --basic
  res api2 api2.test / --basic
  printf 'alice-pass-1\n' | peerctl --dir "$T" user add alice@example.com --password-file - >/dev/null
  peerctl --dir "$T" user set alice@example.com --totp >/dev/null
  printf 'bob-pass-1\n' | peerctl --dir "$T" user add bob@example.com --password-file - >/dev/null
  printf 'carol-pass-1\n' | peerctl --dir "$T" user add carol@example.com --password-file - >/dev/null
  printf 'dave-pass-1\n' | peerctl --dir "$T" user add dave@example.com --password-file - >/dev/null
  ckey=$(peerctl --dir "$T" apikey create --user carol@example.com --resource api2 --json)
  dkey=$(peerctl --dir "$T" apikey create --user dave@example.com --resource api2 --json)
  peerctl --dir "$T" user disable dave@example.com >/dev/null
  edged_start
  b64() { printf '%s' "$1" | base64 -w0; }
  attack_get "Basic, TOTP user's password alone" 401 mk01x api.test /mk01x \
    "Authorization: Basic $(b64 alice@example.com:alice-pass-1)\r\n"
  attack_get "API key of a user disabled before start" 401 mk02x api2.test /mk02x \
    "Authorization: Basic $(b64 "$(jget "$dkey" 'd["id"]'):$(jget "$dkey" 'd["secret"]')")\r\n"
  # controls: a user without TOTP, and carol's key while she is enabled
  get api.test /ok-bob "Authorization: Basic $(b64 bob@example.com:bob-pass-1)\r\n"
  want "Basic, user without TOTP" 200
  reached 'GET /ok-bob HTTP/1.1'
  ck="Authorization: Basic $(b64 "$(jget "$ckey" 'd["id"]'):$(jget "$ckey" 'd["secret"]')")\r\n"
  get api2.test /ok-carol "$ck"
  want "API key of an enabled user" 200
  reached 'GET /ok-carol HTTP/1.1'
  # disabling carol ends her key (no polling with the key: that would count failures)
  peerctl --dir "$T" user disable carol@example.com >/dev/null
  seen_store
  attack_get "API key of a user disabled while edged runs" 401 mk03x api2.test /mk03x "$ck"
  # ... and `apikey list` says so
  cid=$(jget "$ckey" 'd["id"]')
  state=$(peerctl --dir "$T" apikey list --json | $PY -c 'import json,sys; print([json.loads(l)["state"] for l in sys.stdin if json.loads(l)["id"] == sys.argv[1]][0])' "$cid")
  [ "$state" = "user disabled" ] || note "apikey list shows carol's key as '$state'"
  peerctl --dir "$T" apikey list | grep -q "^$cid *user disabled" || note "apikey list table: $(peerctl --dir "$T" apikey list)"
  get api.test /ok-bob-2 "Authorization: Basic $(b64 bob@example.com:bob-pass-1)\r\n"
  reached 'GET /ok-bob-2 HTTP/1.1'
  origin_clean
  done_checks
}

@test "credentials: one TOTP code and one emailed code open at most one session, even in concurrent logins" {
  atk_setup
  peerctl --dir "$T" role add staff >/dev/null
  res team team.test / --users --role staff
  printf 'alice-pass-1\n' | peerctl --dir "$T" user add alice@example.com --role staff --password-file - >/dev/null
  uri=$(peerctl --dir "$T" user set alice@example.com --totp | grep -o 'otpauth://[^ ]*')
  secret=$(printf '%s' "$uri" | sed 's/.*secret=\([A-Z2-7]*\).*/\1/')
  res mail mail.test / --email-allow @example.com
  res mail2 mail2.test / --email-allow @example.com
  edged_start
  fresh_step
  code=$(totp "$secret")
  form="method=users&email=alice%40example.com&password=alice-pass-1&totp=$code"
  run $PY "$T/a.py" burst "$HTTP" 6 "POST /.warren/auth/login HTTP/1.1\r\nHost: team.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${#form}\r\nConnection: close\r\n\r\n$form"
  ok=$(printf '%s\n' "$output" | grep -c '^303 cookie' || true)
  [ "$ok" = 1 ] || note "6 concurrent logins with one TOTP code: $ok sessions ($(echo $output))"

  curl -s -H 'Host: mail.test' --data 'email=dave%40example.com' "http://$HTTP/.warren/auth/email" >/dev/null
  wait_for grep -q '^To: dave@example.com' "$T/mail.txt"
  mcode=$(grep -Eo '\b[A-Z0-9]{4}-?[A-Z0-9]{4}\b' "$T/mail.txt" | tail -1)
  form="method=email&email=dave%40example.com&code=$mcode"
  run $PY "$T/a.py" burst "$HTTP" 6 "POST /.warren/auth/login HTTP/1.1\r\nHost: mail.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${#form}\r\nConnection: close\r\n\r\n$form"
  ok=$(printf '%s\n' "$output" | grep -c '^303 cookie' || true)
  [ "$ok" = 1 ] || note "6 concurrent logins with one emailed code: $ok sessions ($(echo $output))"
  login mail.test "method=email&email=dave%40example.com&code=$mcode"
  [ "$LOGIN" != 303 ] || note "the emailed code worked once more afterwards"
  [ ! -s "$T/origin.log" ] || note "logins reached the origin: $(cat "$T/origin.log")"
  # control: a fresh code on another resource (this one's failure count is high now)
  curl -s -H 'Host: mail2.test' --data 'email=erin%40example.com' "http://$HTTP/.warren/auth/email" >/dev/null
  wait_for grep -q '^To: erin@example.com' "$T/mail.txt"
  ecode=$(grep -Eo '\b[A-Z0-9]{4}-?[A-Z0-9]{4}\b' "$T/mail.txt" | tail -1)
  login mail2.test "method=email&email=erin%40example.com&code=$ecode"
  [ "$LOGIN" = 303 ] || note "a fresh emailed code: $LOGIN"
  get mail2.test /ok-mail "Cookie: $COOKIE\r\n"
  want "the emailed-code session" 200
  reached 'GET /ok-mail HTTP/1.1'
  done_checks
}

@test "credentials: rotating a resource's password ends the sessions opened with the old one" {
  atk_setup
  res app app.test /
  password app old-pass-1
  edged_start
  login app.test 'method=password&password=old-pass-1'
  [ "$LOGIN" = 303 ] || note "login with the old password: $LOGIN"
  old=$COOKIE
  get app.test /ok-before "Cookie: $old\r\n"
  want "the old session before the rotation" 200
  reached 'GET /ok-before HTTP/1.1'
  password app new-pass-2
  seen_store
  attack_get "the old session after the rotation" '302|401' mk01x app.test /mk01x "Cookie: $old\r\n"
  login app.test 'method=password&password=old-pass-1'
  [ "$LOGIN" = 401 ] || note "login with the old password after the rotation: $LOGIN"
  [ -z "$COOKIE" ] || note "the old password got a cookie"
  # control: the new password works
  login app.test 'method=password&password=new-pass-2'
  [ "$LOGIN" = 303 ] || note "login with the new password: $LOGIN"
  get app.test /ok-after "Cookie: $COOKIE\r\n"
  want "the new session" 200
  reached 'GET /ok-after HTTP/1.1'
  attack_get "the old session, once more" '302|401' mk02x app.test /mk02x "Cookie: $old\r\n"
  origin_clean
  done_checks
}

@test "credentials: a new PIN and an address leaving the email allow list end their sessions" {
  atk_setup
  res app app.test / --email-allow @example.com --email-allow carol@other.test
  printf '123456\n' | peerctl --dir "$T" resource auth app --pin-file - >/dev/null
  edged_start
  login app.test 'method=pin&pin=123456'
  [ "$LOGIN" = 303 ] || note "login with the PIN: $LOGIN"
  pin=$COOKIE
  codes() { # ADDRESS — asks for a code and logs in with it; sets COOKIE
    local n
    n=$(grep -c '^To: ' "$T/mail.txt" 2>/dev/null || true)
    curl -s -H 'Host: app.test' --data "email=$1" "http://$HTTP/.warren/auth/email" >/dev/null
    wait_for test "$(grep -c '^To: ' "$T/mail.txt" 2>/dev/null || echo 0)" -gt "${n:-0}"
    local code
    code=$(grep -Eo '\b[A-Z0-9]{4}-?[A-Z0-9]{4}\b' "$T/mail.txt" | tail -1)
    login app.test "method=email&email=$1&code=$code"
  }
  codes 'dave%40example.com'
  [ "$LOGIN" = 303 ] || note "login with dave's code: $LOGIN"
  dave=$COOKIE
  codes 'carol%40other.test'
  [ "$LOGIN" = 303 ] || note "login with carol's code: $LOGIN"
  carol=$COOKIE
  for c in "$pin" "$dave" "$carol"; do
    get app.test /ok-before "Cookie: $c\r\n"
    want "a session before the changes" 200
  done
  printf '567890\n' | peerctl --dir "$T" resource auth app --pin-file - >/dev/null
  peerctl --dir "$T" resource auth app --clear-email-allow --email-allow carol@other.test >/dev/null
  seen_store
  attack_get "the old PIN's session" '302|401' mk01x app.test /mk01x "Cookie: $pin\r\n"
  attack_get "dave's session once @example.com left the list" '302|401' mk02x app.test /mk02x "Cookie: $dave\r\n"
  # control: carol is still on the list
  get app.test /ok-after "Cookie: $carol\r\n"
  want "carol's session after the changes" 200
  reached 'GET /ok-after HTTP/1.1'
  origin_clean
  done_checks
}

@test "limits: emailed codes are rate limited per address and per client; nothing is mailed past the limit" {
  atk_setup
  res app app.test / --email-allow @example.com
  edged_start
  ask() { # ADDRESS — one code request; sets STATUS
    STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: app.test' --data "email=$1" "http://$HTTP/.warren/auth/email")
  }
  # One address: three codes, then 429 (and no fourth mail), whatever the spelling.
  for i in 1 2 3; do
    ask 'eve%40example.com'
    want "code request $i for eve" 200
  done
  ask 'EVE%40Example.COM'
  want "a 4th code for eve, spelled otherwise" 429
  # The same client, another address: one more (its 5th request), then the client's limit
  # ends it, whatever the address.
  ask 'gina%40example.com'
  want "code request for gina" 200
  ask 'henry%40example.com'
  want "code request past the client limit" 429
  ask 'nobody%40elsewhere.test'
  want "code request past the client limit, an address not on the list" 429
  wait_for test "$(grep -c '^To: ' "$T/mail.txt" 2>/dev/null || echo 0)" -eq 4
  [ "$(grep -c '^To: ' "$T/mail.txt")" = 4 ] || note "$(grep -c '^To: ' "$T/mail.txt") mails sent (want 4)"
  [ "$(grep -c '^To: eve@example.com' "$T/mail.txt")" = 3 ] || note "eve got more than 3 codes"
  grep -q '^To: henry' "$T/mail.txt" && note "henry got a code past the limit"
  grep -q '"reason":"email_rate_limited"' "$T/audit.log" || note "no audit line for the limit"
  done_checks
}

# ---- 5. limits that cannot be reset -----------------------------------------------------------

# basic_res NAME HOST — a Basic resource with victim-NAME@example.com (whose password is
# guessed) and an API key of the attacker's own; sets GOOD (its Authorization line).
basic_res() {
  res "$1" "$2" / --basic
  printf 'victim-pass-1\n' | peerctl --dir "$T" user add "victim-$1@example.com" --password-file - >/dev/null 2>&1 || true
  local k
  k=$(peerctl --dir "$T" apikey create --resource "$1" --json)
  GOOD="Authorization: Basic $(printf '%s:%s' "$(jget "$k" 'd["id"]')" "$(jget "$k" 'd["secret"]')" | base64 -w0)\r\n"
}

bad() { # bad NAME N — the Authorization line of the N-th wrong guess
  printf 'Authorization: Basic %s\\r\\n' "$(printf 'victim-%s@example.com:guess-%s' "$1" "$2" | base64 -w0)"
}

@test "lockout: failed Basic attempts lock the client out; a success with another valid credential does not clear it" {
  # The 4th failure locks out for ten minutes (not a 1 s wait): what follows does not depend
  # on how fast the machine is.
  atk_setup "" $'free_failures = 3\nmax_failures = 4\nlockout = "10m"'
  basic_res one one.test
  local g1=$GOOD i
  basic_res two two.test
  edged_start
  # control first: the attacker's own key works
  get one.test /ok-one "$g1"
  want "own API key before" 200
  reached 'GET /ok-one HTTP/1.1'
  for i in 1 2 3 4; do attack_get "wrong guess $i" 401 "mk0${i}x" one.test "/mk0${i}x" "$(bad one $i)"; done
  attack_get "5th guess, right away" 429 mk05x one.test /mk05x "$(bad one 5)"
  attack_get "the own valid key while locked" 429 mk06x one.test /mk06x "$g1"

  # on two.test: 3 wrong guesses, a success with the attacker's own key, then more guesses
  for i in 1 2 3; do attack_get "two: wrong guess $i" 401 "mk1${i}x" two.test "/mk1${i}x" "$(bad two $i)"; done
  get two.test /ok-two "$GOOD"
  want "two: own API key between guesses" 200
  reached 'GET /ok-two HTTP/1.1'
  attack_get "two: 4th wrong guess" '401|429' mk14x two.test /mk14x "$(bad two 4)"
  attack_get "two: 5th guess right away (the success must not have reset the count)" 429 mk15x two.test /mk15x "$(bad two 5)"
  origin_clean
  done_checks
}

@test "lockout: survives a restart of edged" {
  # Three wrong guesses lock the client out for ten minutes (no intermediate waits), so what
  # the restart shows does not depend on how long it takes.
  atk_setup "" $'free_failures = 3\nmax_failures = 3\nlockout = "10m"'
  basic_res one one.test
  edged_start
  get one.test /ok-before "$GOOD"
  want "own key before" 200
  reached 'GET /ok-before HTTP/1.1'
  for i in 1 2 3; do attack_get "wrong guess $i" 401 mk01x one.test /mk01x "$(bad one $i)"; done
  attack_get "locked before the restart" 429 mk02x one.test /mk02x "$GOOD"
  wait_for test "$(sqlite3 "$T/warren.db" 'SELECT max(failures) FROM auth_failures')" -ge 3 ||
    note "auth_failures does not have the three failures"
  kill "$EDGED_PID"
  wait "$EDGED_PID" 2>/dev/null || true
  edged_start
  attack_get "own key right after the restart" 429 mk03x one.test /mk03x "$GOOD"
  attack_get "another guess right after the restart" 429 mk04x one.test /mk04x "$(bad one 99)"
  grep -q 'event=failures_restored' "$T/edged.err" || note "edged did not log the restored failures"
  # control: another resource is not locked
  basic_res other other.test
  seen_store
  get other.test /ok-other "$GOOD"
  want "another resource's key" 200
  reached 'GET /ok-other HTTP/1.1'
  origin_clean
  done_checks
}

@test "lockout: behind a trusted proxy the client is the rightmost untrusted X-Forwarded-For entry, over all its header lines" {
  atk_setup 'trusted_proxies = ["127.0.0.1"]' $'free_failures = 3\nmax_failures = 4\nlockout = "10m"'
  basic_res one one.test
  basic_res two two.test
  edged_start
  local i
  # spoofed leftmost entries, the proxy's entry (the real client) rightmost
  for i in 1 2 3 4; do
    attack_get "one: guess $i from 203.0.113.9" 401 "mk0${i}x" one.test "/mk0${i}x" \
      "X-Forwarded-For: 198.51.100.$i, 203.0.113.9\r\n$(bad one $i)"
  done
  attack_get "one: guess 5, new spoofed entry" 429 mk05x one.test /mk05x \
    "X-Forwarded-For: 198.51.100.77, 203.0.113.9\r\n$(bad one 5)"
  # two header lines are one list
  for i in 1 2 3 4; do
    attack_get "two: guess $i from 203.0.113.7 (two XFF lines)" 401 "mk1${i}x" two.test "/mk1${i}x" \
      "X-Forwarded-For: 198.51.100.$i\r\nX-Forwarded-For: 203.0.113.7\r\n$(bad two $i)"
  done
  attack_get "two: guess 5, new spoofed first line" 429 mk15x two.test /mk15x \
    "X-Forwarded-For: 198.51.100.88\r\nX-Forwarded-For: 203.0.113.7\r\n$(bad two 5)"
  attack_get "two: guess 6, no spoofed line" 429 mk16x two.test /mk16x \
    "X-Forwarded-For: 203.0.113.7\r\n$(bad two 6)"
  # controls: another client behind the proxy is not locked and is the one the origin sees
  get two.test /ok-other "X-Forwarded-For: 203.0.113.50\r\n$GOOD"
  want "another client, own key" 200
  reached 'GET /ok-other HTTP/1.1'
  [[ "$RESP" == *"X-Forwarded-For: "*"203.0.113.50"* ]] || note "the origin did not get the client in X-Forwarded-For"
  wait_for grep -q '"client":"203.0.113.9"' "$T/audit.log" || note "audit: no decision for client 203.0.113.9"
  grep -q '"client":"198.51.100' "$T/audit.log" && note "audit: a spoofed address was taken as the client"
  origin_clean
  done_checks
}

@test "lockout: 20 parallel wrong-password posts end in 429, and the right password is refused while locked" {
  atk_setup "" $'free_failures = 3\nmax_failures = 4\nlockout = "10m"'
  res app app.test /
  password app right-pass-1
  res other other.test /
  password other right-pass-1
  edged_start
  form='method=password&password=wrong-pass-x'
  run $PY "$T/a.py" burst "$HTTP" 20 "POST /.warren/auth/login HTTP/1.1\r\nHost: app.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${#form}\r\nConnection: close\r\n\r\n$form"
  printf '%s\n' "$output" | grep -q '^303' && note "a wrong password was accepted: $(echo $output)"
  printf '%s\n' "$output" | grep -qv '^\(401\|429\)$' && note "unexpected answers: $(echo $output)"
  login app.test 'method=password&password=wrong-pass-x'
  [ "$LOGIN" = 429 ] || note "one more wrong password after the burst: $LOGIN"
  login app.test 'method=password&password=right-pass-1'
  [ "$LOGIN" = 429 ] || note "the right password while locked: $LOGIN"
  [ -z "$COOKIE" ] || note "the right password while locked got a cookie"
  [ ! -s "$T/origin.log" ] || note "the origin saw: $(cat "$T/origin.log")"
  # control: the same password on another resource (other counters)
  login other.test 'method=password&password=right-pass-1'
  [ "$LOGIN" = 303 ] || note "another resource: $LOGIN"
  get other.test /ok-other "Cookie: $COOKIE\r\n"
  want "another resource's session" 200
  reached 'GET /ok-other HTTP/1.1'
  done_checks
}

# ---- 6. redirects and CSRF --------------------------------------------------------------------

# onhost_loc DESC — $LOC, when there is one, is a path on this host (not "//x", not "/\x").
onhost_loc() {
  [ -z "$LOC" ] && return 0
  case "$LOC" in
  //* | /\\* | *://* | \\*) note "$1: Location $LOC" ;;
  /*) ;;
  *) note "$1: Location $LOC" ;;
  esac
  return 0
}

@test "redirects: a share link never redirects scheme-relative or off the host" {
  atk_setup
  res shared share.test / --share-links
  edged_start
  url=$(peerctl --dir "$T" link create shared | grep -o 'http[^ ]*warren_token=[^ &]*')
  tok=${url##*warren_token=}
  [ -n "$tok" ] || note "no share link"
  local t="warren_token=$tok"
  for spec in "mk01x|//evil.test/mk01x?$t" "mk02x|//evil.test/mk02x?a=1&$t" \
    "mk03x|///evil.test/mk03x?$t" "mk04x|/\\\\evil.test/mk04x?$t" "mk05x|/%5Cevil.test/mk05x?$t" \
    "mk06x|/%2F%2Fevil.test/mk06x?$t" "mk07x|/.//evil.test/mk07x?$t" "mk08x|/x/..//evil.test/mk08x?$t" \
    "mk09x|//evil.test%2Fmk09x?$t" "mk10x|/%09/evil.test/mk10x?$t" "mk11x|/\\\\/evil.test/mk11x?$t"; do
    m=${spec%%|*}
    attack_get "share link ${spec#*|}" '302|400' "$m" share.test "${spec#*|}"
    onhost_loc "share link ${spec#*|}"
  done
  attack "share link, absolute-form http://share.test//evil.test" '302|400' mk12x \
    "GET http://share.test//evil.test/mk12x?$t HTTP/1.1\r\nHost: share.test\r\nConnection: close\r\n\r\n"
  onhost_loc "absolute-form //evil.test"
  attack "share link, absolute-form to another host" '400' mk13x \
    "GET http://evil.test/mk13x?$t HTTP/1.1\r\nHost: share.test\r\nConnection: close\r\n\r\n"
  onhost_loc "absolute-form to another host"
  # control: the link's redirect keeps the path and query, sets the cookie, and it works
  get share.test "/files/ok-share?x=1&$t"
  want "share link" 302
  [ "$LOC" = "/files/ok-share?x=1" ] || note "share link: Location $LOC"
  get share.test '/files/ok-share?x=1' "Cookie: $SETCOOKIE\r\n"
  want "share link session" 200
  reached 'GET /files/ok-share?x=1 HTTP/1.1'
  origin_clean
  done_checks
}

@test "redirects: login return URLs to other hosts are not followed, whatever their spelling" {
  atk_setup
  res app app.test /
  password app good-pass-7
  edged_start
  for rd in 'https://evil.test/' 'http://evil.test/' 'HTTPS://EVIL.TEST/' '//evil.test/x' '///evil.test/x' \
    '/\evil.test/x' '\/evil.test/x' '/%5Cevil.test' '/%2F/evil.test' '%2F%2Fevil.test' 'https:evil.test' \
    'https:/evil.test' 'http://app.test@evil.test/' 'http://evil.test#@app.test/' 'http://app.test.evil.test/' \
    'javascript:alert(1)' ' //evil.test' '/%09/evil.test' 'http://evil.test\@app.test/'; do
    enc=$($PY -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$rd")
    login app.test "method=password&password=good-pass-7&rd=$enc"
    [ "$LOGIN" = 303 ] || note "rd=$rd: login $LOGIN"
    case "$LOCATION" in
    //* | /\\* | *evil* | *javascript*) note "rd=$rd: Location $LOCATION" ;;
    /* | http://app.test/*) ;;
    *) note "rd=$rd: Location $LOCATION" ;;
    esac
    page=$(curl -s -H 'Host: app.test' "http://$HTTP/.warren/auth/login?rd=$enc")
    [[ "$page" != *evil* && "$page" != *javascript:* ]] || note "rd=$rd: the login page carries it"
  done
  # control: a path on the host is kept
  login app.test 'method=password&password=good-pass-7&rd=%2Fdocs%2Fok-rd%3Fa%3D1'
  [ "$LOCATION" = '/docs/ok-rd?a=1' ] || note "rd=/docs/ok-rd?a=1: Location $LOCATION"
  get app.test '/docs/ok-rd?a=1' "Cookie: $COOKIE\r\n"
  want "the session" 200
  reached 'GET /docs/ok-rd?a=1 HTTP/1.1'
  [ "$(grep -c . "$T/origin.log")" = 1 ] || note "the origin saw more: $(cat "$T/origin.log")"
  done_checks
}

@test "logout: GET does not log out; a POST from a foreign Origin is refused; a same-origin POST logs out" {
  atk_setup
  res app app.test /
  password app good-pass-7
  edged_start
  login app.test 'method=password&password=good-pass-7'
  [ "$LOGIN" = 303 ] || note "login: $LOGIN"
  s=$COOKIE
  get app.test /.warren/auth/logout "Cookie: $s\r\n"
  case "$STATUS" in 2?? | 3?? | 405) ;; *) note "GET logout: $STATUS" ;; esac
  get app.test /ok-after-get "Cookie: $s\r\n"
  want "the session after GET logout" 200
  reached 'GET /ok-after-get HTTP/1.1'
  for o in 'https://evil.test' 'http://evil.test' 'null' 'http://app.test.evil.test' 'https://app.test'; do
    send "POST /.warren/auth/logout HTTP/1.1\r\nHost: app.test\r\nOrigin: $o\r\nCookie: $s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    want "POST logout with Origin $o" 403
  done
  send "POST /.warren/auth/logout HTTP/1.1\r\nHost: app.test\r\nSec-Fetch-Site: cross-site\r\nCookie: $s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
  want "POST logout with Sec-Fetch-Site: cross-site" 403
  get app.test /ok-after-foreign "Cookie: $s\r\n"
  want "the session after foreign POST logouts" 200
  reached 'GET /ok-after-foreign HTTP/1.1'
  # control: a same-origin POST logs out
  send "POST /.warren/auth/logout HTTP/1.1\r\nHost: app.test\r\nOrigin: http://app.test\r\nCookie: $s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
  want "POST logout, same origin" 303
  attack_get "the session after logout" 302 mk01x app.test /mk01x "Cookie: $s\r\n"
  grep -q 'logout' "$T/origin.log" && note "a logout reached the origin"
  origin_clean
  done_checks
}

# ---- 7. HSTS ----------------------------------------------------------------------------------

@test "HSTS: proxied HTTPS answers of resources carry Strict-Transport-Security, plain HTTP ones do not" {
  atk_setup
  cactl --dir "$T" init --no-passphrase >/dev/null 2>&1
  cactl --dir "$T" issue app.test --out-dir "$T/certs" >/dev/null 2>&1
  cactl --dir "$T" issue pub.test --out-dir "$T/certs" >/dev/null 2>&1
  cat >>"$T/edged.toml" <<EOF
[https]
listen = ["127.0.0.1:0"]
cert = "certs/app.test.fullchain.pem"
key = "certs/app.test.key"
cert_dir = "certs"
EOF
  res pub pub.test / --public
  res app app.test /
  password app tls-pass-1
  edged_start
  port=${HTTPS##*:}
  pin=(--resolve "app.test:$port:127.0.0.1" --resolve "pub.test:$port:127.0.0.1" --cacert "$T/ca/root.crt")
  out=$(curl -s -D - -o /dev/null "${pin[@]}" "https://pub.test:$port/ok-pub-tls" | tr -d '\r')
  [[ "$out" == *"X-Origin: e1"* ]] || note "public over TLS: not proxied ($(echo "$out" | head -1))"
  printf '%s\n' "$out" | grep -qi '^strict-transport-security: max-age=[1-9]' || note "public over TLS: no HSTS"
  reached 'GET /ok-pub-tls HTTP/1.1'
  out=$(curl -s -D - -o /dev/null "${pin[@]}" --data 'method=password&password=tls-pass-1' "https://app.test:$port/.warren/auth/login" | tr -d '\r')
  cookie=$(printf '%s\n' "$out" | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -1)
  [[ "$cookie" == __Host-warren_session=* ]] || note "login over TLS: cookie $cookie"
  out=$(curl -s -D - -o /dev/null "${pin[@]}" -H "Cookie: $cookie" "https://app.test:$port/ok-app-tls" | tr -d '\r')
  [[ "$out" == *"X-Origin: e1"* ]] || note "protected over TLS: not proxied ($(echo "$out" | head -1))"
  printf '%s\n' "$out" | grep -qi '^strict-transport-security: max-age=[1-9]' || note "protected over TLS: no HSTS"
  reached 'GET /ok-app-tls HTTP/1.1'
  # plain HTTP: no HSTS (RFC 6797 8.1)
  out=$(curl -s -D - -o /dev/null -H 'Host: pub.test' "http://$HTTP/ok-pub-plain" | tr -d '\r')
  printf '%s\n' "$out" | grep -qi '^strict-transport-security' && note "plain HTTP answer carries HSTS"
  # per resource: a shorter max-age, or none
  peerctl --dir "$T" resource set pub --hsts 1d >/dev/null
  peerctl --dir "$T" resource set app --hsts 0 >/dev/null
  seen_store
  out=$(curl -s -D - -o /dev/null "${pin[@]}" "https://pub.test:$port/ok-pub-1d" | tr -d '\r')
  printf '%s\n' "$out" | grep -qi '^strict-transport-security: max-age=86400$' || note "pub with --hsts 1d: $(printf '%s\n' "$out" | grep -i strict)"
  out=$(curl -s -D - -o /dev/null "${pin[@]}" -H "Cookie: $cookie" "https://app.test:$port/ok-app-off" | tr -d '\r')
  printf '%s\n' "$out" | grep -qi '^strict-transport-security' && note "app with --hsts 0 still sends HSTS"
  [ "$(peerctl --dir "$T" resource show app --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["hsts"])')" = 0 ] || note "resource show --json: hsts"
  done_checks
}

# ---- 8. the HTTP/1.1 parser -------------------------------------------------------------------

@test "parser: bad chunk extensions, an absolute-form host that is not the Host header, and lowercase methods are 400, never forwarded" {
  atk_setup
  res pub pub.test / --public
  res app app.test /
  password app good-pass-7
  edged_start
  local te='Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n'
  local i=0 ext
  for ext in ';a=b c' ';a=\x01' ';a="unterminated' ';a=b\x7f' ';=b' ';' ';a=b@c' ';a="x\x00y"' \
    ';a=b;' ';a b' ';a=b\tc'; do
    i=$((i + 1))
    m=$(printf 'ck%02dx' "$i")
    attack "chunk extension '$ext'" 400 "$m" "POST /$m HTTP/1.1\r\nHost: pub.test\r\n${te}5${ext}\r\nhello\r\n0\r\n\r\n"
  done
  attack "absolute-form host other than Host" 400 mk01x \
    'GET http://app.test/mk01x HTTP/1.1\r\nHost: pub.test\r\nConnection: close\r\n\r\n'
  attack "absolute-form host other than Host (reverse)" 400 mk02x \
    'GET http://pub.test/mk02x HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n'
  attack "absolute-form host with another port than Host" 400 mk03x \
    'GET http://other.test:81/mk03x HTTP/1.1\r\nHost: pub.test\r\nConnection: close\r\n\r\n'
  attack "get (lowercase)" 400 mk04x 'get /mk04x HTTP/1.1\r\nHost: pub.test\r\nConnection: close\r\n\r\n'
  attack "Get" 400 mk05x 'Get /mk05x HTTP/1.1\r\nHost: pub.test\r\nConnection: close\r\n\r\n'
  attack "post" 400 mk06x 'post /mk06x HTTP/1.1\r\nHost: pub.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
  attack "head" 400 mk07x 'head /mk07x HTTP/1.1\r\nHost: pub.test\r\nConnection: close\r\n\r\n'
  attack "options" 400 mk08x 'options /mk08x HTTP/1.1\r\nHost: pub.test\r\nConnection: close\r\n\r\n'
  attack "get to a protected resource" 400 mk09x 'get /mk09x HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n'

  # controls: valid extensions pass, chunked bodies arrive, absolute-form with the same host
  i=0
  for ext in ';a=b' ';a="quoted value"' ';a' ';a=b;c=d' ' ;a=b'; do
    i=$((i + 1))
    send "POST /ok-ext$i HTTP/1.1\r\nHost: pub.test\r\n${te}5${ext}\r\nhello\r\n0\r\n\r\n"
    want "chunk extension '$ext'" 200
    reached "POST /ok-ext$i HTTP/1.1"
  done
  send 'GET http://pub.test/ok-abs HTTP/1.1\r\nHost: pub.test\r\nConnection: close\r\n\r\n'
  want "absolute-form with the same host" 200
  reached 'GET /ok-abs HTTP/1.1'
  send 'GET http://PUB.TEST/ok-abs2 HTTP/1.1\r\nHost: pub.test\r\nConnection: close\r\n\r\n'
  want "absolute-form with the same host in capitals" 200
  reached 'GET /ok-abs2 HTTP/1.1'
  origin_clean
  done_checks
}
