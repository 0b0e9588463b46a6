#!/usr/bin/python3
"""A small Chrome DevTools Protocol client (Python standard library only) for the browser tests.

It speaks RFC 6455 WebSocket itself (client handshake, masked text frames, fragmentation,
ping/pong, close) to the browser endpoint named in Chromium's DevToolsActivePort file, opens one
page with Target.createTarget and drives it over a flattened session.

  cdp.py portal-login PORTFILE URL PASSWORD SHOT   opens URL (a protected resource), expects
      to land on the portal, saves a PNG of it to SHOT, submits the password form and prints
      what happened as "key: value" lines (portal, title, shot, post-origin, url,
      cookie-visible-to-script, text, again).

Every wait is bounded (DEADLINE seconds in all); errors print "cdp.py: what: why" and exit 1.
"""
import base64, hashlib, json, os, socket, struct, sys, time

DEADLINE = time.monotonic() + float(os.environ.get('CDP_TIMEOUT', '20'))


class Fail(Exception):
    pass


def left():
    t = DEADLINE - time.monotonic()
    if t <= 0:
        raise Fail('timed out')
    return t


class WebSocket:
    def __init__(self, host, port, path):
        self.s = socket.create_connection((host, port), timeout=left())
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(('GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n'
                        'Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n'
                        'Sec-WebSocket-Version: 13\r\n\r\n' % (path, host, port, key)).encode())
        self.buf = b''
        while b'\r\n\r\n' not in self.buf:
            self.buf += self._recv()
        head, self.buf = self.buf.split(b'\r\n\r\n', 1)
        lines = head.decode('latin-1').split('\r\n')
        if lines[0].split()[1:2] != ['101']:
            raise Fail('websocket handshake: ' + lines[0])
        want = base64.b64encode(hashlib.sha1(
            (key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').encode()).digest()).decode()
        hdrs = {l.split(':', 1)[0].strip().lower(): l.split(':', 1)[1].strip()
                for l in lines[1:] if ':' in l}
        if hdrs.get('sec-websocket-accept') != want:
            raise Fail('websocket handshake: bad Sec-WebSocket-Accept')

    def _recv(self):
        self.s.settimeout(left())
        try:
            d = self.s.recv(1 << 20)
        except socket.timeout:
            raise Fail('timed out')
        if not d:
            raise Fail('websocket: connection closed')
        return d

    def _take(self, n):
        while len(self.buf) < n:
            self.buf += self._recv()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, opcode, data):
        n = len(data)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack('!H', n)
        else:
            head += bytes([0x80 | 127]) + struct.pack('!Q', n)
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.s.sendall(head + mask + body)

    def recv_text(self):
        msg = b''
        while True:
            b0, b1 = self._take(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack('!H', self._take(2))[0]
            elif n == 127:
                n = struct.unpack('!Q', self._take(8))[0]
            mask = self._take(4) if b1 & 0x80 else None
            data = self._take(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            if opcode == 0x8:
                raise Fail('websocket: closed by the browser')
            if opcode == 0x9:
                self.send(0xA, data)
                continue
            if opcode in (0x0, 0x1, 0x2):
                msg += data
                if b0 & 0x80:
                    return msg.decode()


class Cdp:
    def __init__(self, ws):
        self.ws, self.next_id, self.events = ws, 0, []

    def call(self, method, session=None, **params):
        self.next_id += 1
        req = {'id': self.next_id, 'method': method, 'params': params}
        if session:
            req['sessionId'] = session
        self.ws.send(0x1, json.dumps(req).encode())
        while True:
            m = json.loads(self.ws.recv_text())
            if m.get('id') == self.next_id:
                if 'error' in m:
                    raise Fail('%s: %s' % (method, m['error'].get('message')))
                return m.get('result', {})
            if 'method' in m:
                self.events.append(m)

    def wait_event(self, method, session=None):
        while True:
            for i, e in enumerate(self.events):
                if e['method'] == method and e.get('sessionId') == session:
                    return self.events.pop(i)
            self.events.append(json.loads(self.ws.recv_text()))


def connect(portfile):
    while not (os.path.exists(portfile) and open(portfile).read().count('\n') >= 1):
        left()
        time.sleep(0.05)
    port, path = open(portfile).read().split('\n')[:2]
    return Cdp(WebSocket('127.0.0.1', int(port), path))


def evaluate(cdp, session, expr):
    r = cdp.call('Runtime.evaluate', session, expression=expr, returnByValue=True)
    if 'exceptionDetails' in r:
        raise Fail('evaluate %r: %s' % (expr, r['exceptionDetails'].get('text')))
    return r['result'].get('value')


def portal_login(portfile, url, password, shot):
    cdp = connect(portfile)
    target = cdp.call('Target.createTarget', url='about:blank')['targetId']
    s = cdp.call('Target.attachToTarget', targetId=target, flatten=True)['sessionId']
    cdp.call('Page.enable', s)
    cdp.call('Network.enable', s)
    cdp.call('Emulation.setDeviceMetricsOverride', s, width=800, height=600,
             deviceScaleFactor=1, mobile=False)
    cdp.call('Page.navigate', s, url=url)
    cdp.wait_event('Page.loadEventFired', s)
    print('portal: ' + evaluate(cdp, s, 'location.href'))
    print('title: ' + evaluate(cdp, s, 'document.title'))
    png = base64.b64decode(cdp.call('Page.captureScreenshot', s, format='png')['data'])
    with open(shot, 'wb') as f:
        f.write(png)
    print('shot: %d bytes' % len(png))
    # Fill the password form and submit it as a user would (the page itself has no script).
    cdp.events.clear()
    evaluate(cdp, s, """(() => {
        const f = document.querySelector('input[name=method][value=password]').form;
        f.querySelector('input[name=password]').value = %s;
        f.requestSubmit(); return true; })()""" % json.dumps(password))
    cdp.wait_event('Page.loadEventFired', s)
    # The Origin header the browser actually sent with the form post (edged checks it).
    posts = {e['params']['requestId'] for e in cdp.events if e['method'] ==
             'Network.requestWillBeSent' and e['params']['request']['method'] == 'POST'}
    for e in cdp.events:
        if e['method'] == 'Network.requestWillBeSentExtraInfo' and e['params']['requestId'] in posts:
            h = {k.lower(): v for k, v in e['params']['headers'].items()}
            print('post-origin: %s' % h.get('origin', '(none)'))
    print('url: ' + evaluate(cdp, s, 'location.href'))
    print('cookie-visible-to-script: %s' % ('warren_session' in evaluate(cdp, s, 'document.cookie')))
    text = evaluate(cdp, s, 'document.body ? document.body.innerText : ""')
    for line in text.splitlines():
        print('text: ' + line)
    # With the session cookie set, the protected URL now loads without the portal.
    cdp.events.clear()
    cdp.call('Page.navigate', s, url=url)
    cdp.wait_event('Page.loadEventFired', s)
    print('again: ' + evaluate(cdp, s, 'location.href'))
    cdp.call('Target.closeTarget', targetId=target)


def main():
    try:
        if len(sys.argv) == 6 and sys.argv[1] == 'portal-login':
            portal_login(*sys.argv[2:])
        else:
            print('usage: cdp.py portal-login PORTFILE URL PASSWORD SHOT', file=sys.stderr)
            return 64
    except (Fail, OSError, ValueError, KeyError) as e:
        print('cdp.py: %s: %s' % (type(e).__name__, e), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
