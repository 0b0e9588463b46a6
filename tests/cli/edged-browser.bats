#!/usr/bin/env bats
# edged access control in a real browser: headless Chromium (Debian `chromium`, installed by
# scripts/install-deps), driven over the DevTools protocol by tests/cli/cdp.py, opens a
# password-protected resource, is redirected to edged's portal, has the login page screenshotted,
# submits the password form and lands on the origin's page with an HttpOnly session cookie.
# Chromium runs as root in CI, hence --no-sandbox; app.test resolves to 127.0.0.1 through
# --host-resolver-rules. Chromium runs in its own process group, stopped in teardown.

load edged-common

PY=/usr/bin/python3

# edged-common's teardown, kept under another name so ours can stop Chromium first.
eval "$(declare -f teardown | sed '1s/^teardown/edged_teardown/')"

teardown() {
  if [ -n "${CHROME_PID:-}" ]; then
    kill -TERM -- "-$CHROME_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 40); do
      kill -0 -- "-$CHROME_PID" 2>/dev/null || break
      sleep 0.05
    done
    kill -KILL -- "-$CHROME_PID" 2>/dev/null || true
    wait "$CHROME_PID" 2>/dev/null || true
  fi
  edged_teardown
}

# chrome_start — headless Chromium with a DevTools port (written to $T/chrome/DevToolsActivePort).
chrome_start() {
  if ! command -v chromium >/dev/null 2>&1; then
    "$REPO/scripts/install-deps" -q >/dev/null 2>&1 || true
    command -v chromium >/dev/null 2>&1 || skip "chromium is not installed and could not be (scripts/install-deps)"
  fi
  mkdir -p "$T/chrome"
  # setsid: Chromium and its helper processes get their own process group (pgid = CHROME_PID).
  setsid chromium --headless=new --no-sandbox --remote-debugging-port=0 \
    --user-data-dir="$T/chrome" --host-resolver-rules="MAP app.test 127.0.0.1" \
    --no-proxy-server --no-first-run --no-default-browser-check --disable-gpu \
    --disable-extensions --disable-dev-shm-usage --disable-background-networking \
    --disable-features=HttpsUpgrades,Translate about:blank >"$T/chrome.out" 2>"$T/chrome.err" &
  CHROME_PID=$!
}

@test "chromium: a protected URL sends the browser to the portal; a password login reaches the origin" {
  chrome_start # starts while edged and the origin come up
  cactl --dir "$T" init --no-passphrase >/dev/null 2>&1
  start echo $PY "$T/h.py" echo-origin browser-origin "$T/origin.log"
  ORIGIN=$ADDR
  printf 'threads = 2\n[http]\nlisten = ["127.0.0.1:0"]\n[reload]\nstore_poll = "100ms"\n' >"$T/edged.toml"
  peerctl --dir "$T" resource add app --host app.test --target "$ORIGIN" >/dev/null
  printf 'correct horse battery\n' | peerctl --dir "$T" resource auth app --password-file - >/dev/null
  edged_start
  PORT=${HTTP##*:}
  URL="http://app.test:$PORT/docs/page?x=1"

  run timeout 30 $PY "$REPO/tests/cli/cdp.py" portal-login "$T/chrome/DevToolsActivePort" "$URL" \
    'correct horse battery' "$T/login.png"
  echo "$output"
  [ "$status" -eq 0 ]
  # sent to the portal on the same host, with the return URL
  [[ "$output" == *"portal: http://app.test:$PORT/.warren/auth/login?rd=%2Fdocs%2Fpage%3Fx%3D1"* ]]
  [[ "$output" == *"title: Sign in to app"* ]]
  # the screenshot of the login page is a PNG of non-trivial size
  [ -f "$T/login.png" ]
  [ "$(head -c 8 "$T/login.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
  [ "$(stat -c %s "$T/login.png")" -gt 5000 ]
  # the form post carries the portal's own origin (a Referrer-Policy of no-referrer would make
  # it "null", which edged's login-CSRF check refuses)
  [[ "$output" == *"post-origin: http://app.test:$PORT"* ]]
  # after the login: back at the requested URL, showing the origin's reply (it echoes the request)
  [[ "$output" == *"url: $URL"* ]]
  [[ "$output" == *"text: GET /docs/page?x=1 HTTP/1.1"* ]]
  # the session cookie is HttpOnly (invisible to page script) and is not passed to the origin
  [[ "$output" == *"cookie-visible-to-script: False"* ]]
  [[ "$output" != *warren_session* ]]
  # the session holds: a second visit goes straight to the origin
  [[ "$output" == *"again: $URL"* ]]
  grep -c '^GET /docs/page?x=1 ' "$T/origin.log" | grep -qx 2
}
