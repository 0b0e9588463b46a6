// One client connection: TLS handshake, then requests one after another (keep-alive): parse
// the head, route, pick a target, reuse or open an upstream connection, stream the request
// body, stream the response back, and tunnel Upgrades. Runs on its worker's thread only.
#include <sys/socket.h>

#include <cstdio>
#include <ctime>
#include <deque>

#include "auth/db.h"
#include "auth/page.h"
#include "auth/portal.h"
#include "auth/session.h"
#include "edge/detail/daemon.h"
#include "enroll/enroll.h"
#include "http/path.h"
#include "http/proxy.h"
#include "log/log.h"

namespace edge::detail {

using namespace asio::experimental::awaitable_operators;

Conn::Conn(Worker& w, int fd, bool tls, std::string peer)
    : w(w), client(w.ctx.get_executor()), tls(tls), peer_ip(std::move(peer)) {
  client.assign(fd);
  client.alarm = &alarm;
  parse_ip(peer_ip, peer_bin);
  w.link(this);
}

Conn::~Conn() {
  w.unlink(this);
}

void Conn::expire() {
  alarm.fired = true;
  client.cancel();
  if (up) up->s.cancel();
}

namespace {

constexpr std::string_view kStickyCookie = "edged_sticky";
constexpr std::string_view kReserved = "/.warren/";  // edged's own paths, never proxied
const std::string kPlainCookie = auth::cookie_name(auth::Policy{}.cookie_base, false);
const std::string kTlsCookie = auth::cookie_name(auth::Policy{}.cookie_base, true);

int64_t now_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

bool trusted(const Config& cfg, const std::array<uint8_t, 16>& ip) {
  for (const auto& c : cfg.trusted_proxies)
    if (c.contains(ip)) return true;
  return false;
}

// The client address as far as trusted proxies vouch for it (edge::client_address over every
// X-Forwarded-For line).
std::string_view real_ip(const Config& cfg, const http::Head& h, std::string_view peer) {
  thread_local std::vector<std::string_view> xff;
  xff.clear();
  for (const auto& f : h.headers)
    if (f.id == http::Hdr::x_forwarded_for) xff.push_back(f.value);
  return client_address(cfg.trusted_proxies, xff, peer);
}

// A portal return URL: `rd` when it stays on `host` (auth::safe_return_url), else "/".
std::string return_url(std::string_view rd, std::string_view host) {
  auto r = rd.empty() ? std::nullopt : auth::safe_return_url(rd, host);
  return r ? *r : std::string("/");
}

// An auth::Request whose views point into its own copies.
struct OwnedRequest {
  explicit OwnedRequest(const auth::Request& a)
      : method(a.method),
        host(a.host),
        target(a.target),
        subject(a.client_cert_subject),
        country(a.country) {
    for (const auto& [n, v] : a.headers) hdrs.emplace_back(n, v);
    for (const auto& [n, v] : hdrs) views.emplace_back(n, v);
    r = a;
    r.method = method;
    r.host = host;
    r.target = target;
    r.client_cert_subject = subject;
    r.country = country;
    r.headers = views;
  }
  OwnedRequest(const OwnedRequest&) = delete;
  std::string method, host, target, subject, country;
  std::vector<std::pair<std::string, std::string>> hdrs;
  std::vector<auth::Header> views;
  auth::Request r;
};

class Session {
 public:
  explicit Session(Conn& c) : c_(c), w_(c.w), m_(c.w.m) {}
  ~Session() {
    in_.begin = in_.end = 0;
    w_.bufs.put(in_);
  }

  asio::awaitable<void> run();

 private:
  asio::awaitable<bool> handle(size_t head_len);
  const AccessSettings& access_settings();
  void forget_elsewhere(const std::string& hash);
  void strip_inbound();
  void strip_inbound(const auth::Policy& p, const auth::Decision& d, std::string_view cname,
                     const auth::HeaderNames& names);
  asio::awaitable<bool> reply(int status, std::string_view detail, bool keep,
                              std::string_view extra = {});
  // Sends out_, a whole response edged made itself, and accounts for it (metrics, access log).
  asio::awaitable<bool> send_out(int status, bool keep, const Route* route = nullptr);
  asio::awaitable<bool> redirect(int status, std::string_view location, bool keep,
                                 std::string_view extra = {}, const Route* route = nullptr);
  asio::awaitable<bool> forward(const Route& route, size_t head_len, bool keep);
  // Access control of a protected route: nullopt when the request may go on to forward();
  // else it was answered here (the value: keep the connection).
  asio::awaitable<std::optional<bool>> access(const Route& route, size_t head_len, bool keep);
  // The decision on this thread from what the worker's session cache knows (no allocation of a
  // coroutine frame): true when the request is allowed and ready for forward(); else access()
  // finishes the job (store lookups on the pool, answers, the portal) from a_.
  bool access_local(const Route& route);
  asio::awaitable<bool> portal(const auth::Policy& p, const auth::Request& ar,
                               std::string_view path, size_t head_len, bool keep);
  asio::awaitable<bool> answer(int status, std::string_view content_type, std::string_view body,
                               bool keep, std::string_view extra);
  asio::awaitable<bool> answer_decision(const auth::Decision& d, bool keep);
  asio::awaitable<int> read_small_body(size_t max, std::string& body);
  asio::awaitable<bool> enroll_site(size_t head_len, bool keep);
  void allow_upstream(const auth::Policy& p, const auth::Decision& d, std::string_view host,
                      int64_t now);
  asio::awaitable<error_code> send_body(Upstream& u, http::Body body, int64_t length,
                                        std::string_view head, bool& body_error);
  asio::awaitable<void> tunnel(Upstream& u);
  asio::awaitable<void> pump(Stream& from, Stream& to, Buffer& buf, bool to_upstream);
  void finish(int status, const Route* route, const TargetState* t);
  void release(std::unique_ptr<Upstream> u, bool reusable);

  Conn& c_;
  Worker& w_;
  Metrics& m_;
  std::shared_ptr<const Snapshot> snap_;
  Buffer in_;
  http::HeadParser parser_;
  http::HeadParser resp_parser_;
  http::Head req_;
  http::Head resp_;
  http::ChunkedScanner chunks_;
  std::string out_;
  std::string extra_;
  bool verified_ = false;
  bool linger_ = false;  // closing after an error answer
  std::string client_ca_;
  // Per request (for metrics and the access log).
  int64_t started_us_ = 0;
  uint64_t sent_ = 0;
  http::Method method_ = http::Method::other;
  int minor_ = 1;
  std::string log_method_, log_host_, log_path_;
  std::string log_user_;  // who access control said the request is
  // Access control, per request.
  std::vector<auth::Header> auth_headers_;
  std::string auth_extra_;             // identity header lines for the upstream
  std::string upstream_path_;          // the target without the share token
  std::string norm_path_;              // the normalised target (req_.path points here)
  std::string token_in_, token_hash_;  // the last session cookie value seen here, its hash
  std::deque<std::string> replaced_;   // rewritten Cookie values (req_.headers point here)
  std::string subject_;
  struct Local {
    auth::Request ar;
    const auth::Policy* pol = nullptr;
    std::optional<int64_t> rate, locked;  // counted once, also when decided again on the pool
    bool missed = false;                  // a lookup the cache could not answer
    bool on_pool = false;
    int64_t now = 0, now_ms = 0;
    std::string country;
    auth::Decision d;
  } a_;
  auth::Lookups local_lk_;  // cache-only lookups over a_ (capture `this` only: no allocation)
};

asio::awaitable<void> Session::run() {
  const Snapshot* s = &w_.current();
  if (c_.tls) {
    if (!s->tls) co_return;
    c_.client.tls = tls::Session::server(*s->tls);
    c_.alarm.after(s->cfg->client_header);
    auto ec = co_await c_.client.handshake();
    if (ec) {
      m_.tls_failures.inc();
      wlog::get("edge")->debug("event=tls_failed client={} error=\"{}\"", c_.peer_ip,
                               c_.client.last_error.empty() ? ec.message() : c_.client.last_error);
      co_return;
    }
    m_.tls_handshakes.inc();
    if (c_.client.tls.resumed()) m_.tls_resumed.inc();
    verified_ = c_.client.tls.client_verified();
    if (verified_) client_ca_ = c_.client.tls.client_ca();
  }
  for (;;) {
    w_.current();
    snap_ = w_.snap;
    const Config& cfg = *snap_->cfg;
    c_.phase = Conn::Phase::idle;
    if (in_.empty()) {
      // Wait for the next request with a read (cheap); after a second of idleness the tick
      // parks the connection: the buffer goes back to the pool and a buffer-less wait follows.
      if (w_.draining) break;
      c_.alarm.after(cfg.idle);
      c_.idle_since = mono_ms();
      c_.parked = false;
      w_.bufs.get(in_);
      in_.begin = in_.end = 0;
      auto [ec, n] = co_await c_.client.read_some(in_.data, in_.cap);
      if (ec == asio::error::operation_aborted && c_.parked) {
        w_.bufs.put(in_);
        if (auto wec = co_await c_.client.wait_readable(); wec) break;
        w_.bufs.get(in_);
        std::tie(ec, n) = co_await c_.client.read_some(in_.data, in_.cap);
      }
      if (ec) break;
      in_.end = n;
      m_.bytes_in.inc(n);
    }
    c_.phase = Conn::Phase::request;
    w_.bufs.get(in_);
    c_.alarm.after(cfg.client_header);
    parser_.set_limits(snap_->req_limits);
    parser_.reset();
    http::Parse pr;
    bool closed = false;
    for (;;) {
      if (!in_.empty()) {
        pr = parser_.parse_request(in_.view(), req_);
        if (pr.state != http::Parse::more) break;
      }
      if (in_.room() == 0) {
        in_.compact();
        if (in_.room() == 0)
          w_.bufs.grow(in_,
                       std::max(in_.cap + 64, std::min(in_.cap * 2, cfg.max_header_bytes + 64)));
      }
      auto [ec, n] = co_await c_.client.read_some(in_.space(), in_.room());
      if (ec) {
        if (ec == asio::error::timed_out && !in_.empty()) {
          // Slowloris: the head did not arrive in time.
          out_.clear();
          http::write_error(408, "the request head did not arrive in time", false, out_);
          c_.alarm.after(Millis(1000));
          (void)co_await c_.client.write(out_);
          m_.status[4].inc();
        }
        closed = true;
        break;
      }
      in_.end += n;
      m_.bytes_in.inc(n);
    }
    if (closed) break;
    started_us_ = now_us();
    sent_ = 0;
    if (pr.state == http::Parse::bad) {
      m_.bad_requests.inc();
      method_ = http::Method::get;
      log_method_.clear();
      log_host_.clear();
      log_path_.clear();
      wlog::get("edge")->debug("event=bad_request client={} error=\"{}\"", c_.peer_ip,
                               http::to_string(pr.error));
      (void)co_await reply(http::status_for(pr.error), http::to_string(pr.error), false);
      break;
    }
    bool keep = co_await handle(pr.consumed);
    if (!keep) break;
  }
  c_.client.close_notify();
  if (linger_ && !c_.client.tls) {
    // After an error answer the client may still be sending: read (and drop) for a moment so
    // that closing does not reset the connection before the answer is read.
    ::shutdown(c_.client.fd(), SHUT_WR);
    w_.bufs.get(in_);
    c_.alarm.after(Millis(1000));
    for (size_t total = 0; total < 256 * 1024;) {
      auto [ec, n] = co_await c_.client.read_some(in_.data, in_.cap);
      if (ec) break;
      total += n;
    }
    in_.begin = in_.end = 0;
  }
}

asio::awaitable<bool> Session::reply(int status, std::string_view detail, bool keep,
                                     std::string_view extra) {
  out_.clear();
  http::write_error(status, detail, keep, out_, extra, method_ == http::Method::head);
  co_return co_await send_out(status, keep);
}

asio::awaitable<bool> Session::send_out(int status, bool keep, const Route* route) {
  c_.alarm.after(snap_->cfg->send);
  auto ec = co_await c_.client.write(out_);
  sent_ += out_.size();
  m_.bytes_out.inc(out_.size());
  finish(status, route, nullptr);
  if (!keep) linger_ = true;
  co_return keep && !ec;
}

asio::awaitable<bool> Session::redirect(int status, std::string_view location, bool keep,
                                        std::string_view extra, const Route* route) {
  out_.clear();
  http::write_redirect(location, keep, out_, method_ == http::Method::head, status, extra);
  co_return co_await send_out(status, keep, route);
}

void Session::finish(int status, const Route* route, const TargetState* t) {
  int64_t us = now_us() - started_us_;
  m_.observe(status, us);
  const Config& cfg = *snap_->cfg;
  if (cfg.access_log.empty() || w_.d.log_fd.load(std::memory_order_relaxed) < 0) return;
  std::string& b = w_.log_buf;
  char ts[32];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  b.append("{\"time\":\"").append(ts).append("\",\"client\":\"");
  http::json_escape(c_.peer_ip, b);
  b.append("\",\"method\":\"");
  http::json_escape(log_method_, b);
  b.append("\",\"host\":\"");
  http::json_escape(log_host_, b);
  b.append("\",\"path\":\"");
  http::json_escape(log_path_, b);
  b.append("\",\"status\":").append(std::to_string(status));
  b.append(",\"bytes\":").append(std::to_string(sent_));
  char dur[32];
  std::snprintf(dur, sizeof dur, "%.3f", static_cast<double>(us) / 1000.0);
  b.append(",\"duration_ms\":").append(dur);
  b.append(",\"tls\":").append(c_.tls ? "true" : "false");
  if (route) {
    b.append(",\"route\":\"");
    http::json_escape(route->spec.name, b);
    b.push_back('"');
  }
  if (!log_user_.empty()) {
    b.append(",\"user\":\"");
    http::json_escape(log_user_, b);
    b.push_back('"');
  }
  if (t) {
    b.append(",\"target\":\"");
    http::json_escape(t->spec.str(), b);
    b.push_back('"');
  }
  b.append("}\n");
  if (b.size() > 32 * 1024) w_.flush_log();
}

asio::awaitable<bool> Session::handle(size_t head_len) {
  const Snapshot& s = *snap_;
  const Config& cfg = *s.cfg;
  method_ = req_.method;
  minor_ = req_.version_minor;
  auth_extra_.clear();
  log_user_.clear();
  bool keep = req_.keep_alive && !w_.draining;
  http::Body body = http::request_body(req_);
  if (!cfg.access_log.empty()) {
    log_method_.assign(req_.method_text);
    log_host_.assign(req_.host);
    log_path_.assign(req_.path.empty() ? req_.target : req_.path);
  }
  // Answers generated here leave the request body unread: close unless there is none.
  bool keep_local = keep && body == http::Body::none;
  if (req_.method == http::Method::connect) {
    in_.consume(head_len);
    co_return co_await reply(405, "CONNECT is not supported", false, "Allow: GET, HEAD, POST\r\n");
  }
  // One path for every decision and for the origin: the target normalised once (routing,
  // rules, share-link limits, the portal's paths and the request line sent upstream all see
  // this form); what origins could read differently (";", %2F, %5C, NUL, overlong UTF-8) is
  // refused here, on every route.
  if (req_.path != "*") {
    std::string_view raw = req_.path.empty() ? std::string_view("/") : req_.path;
    if (auto pe = http::normalize_target(raw, norm_path_); pe != http::PathError::none) {
      in_.consume(head_len);
      co_return co_await reply(400, http::to_string(pe), false);
    }
    req_.path = norm_path_;
  }
  if (req_.method == http::Method::post && req_.path == enroll::kPath)
    co_return co_await enroll_site(head_len, keep);
  const Route* route = s.routes->match(req_.host, req_.path);
  if (!route) {
    std::string detail = "no route for host \"" + std::string(req_.host) + "\"";
    in_.consume(head_len);
    co_return co_await reply(404, detail, keep_local);
  }
  // edged's own paths are never proxied: without access control on the route there is no
  // portal to serve them, so they are not found.
  if (!route->spec.policy && route->spec.policy_error.empty() && req_.path.starts_with(kReserved)) {
    in_.consume(head_len);
    co_return co_await reply(404, "reserved for edged", keep_local);
  }
  if (route->spec.redirect_https && !c_.tls) {
    std::string loc = "https://";
    char buf[256];
    std::string_view host = normalize_host(req_.host, buf);
    if (host.find(':') != std::string_view::npos)
      loc.append("[").append(host).append("]");
    else
      loc.append(host);
    if (s.https_port != 443) loc.append(":").append(std::to_string(s.https_port));
    if (req_.path.empty() || req_.path[0] != '/') loc.push_back('/');
    loc.append(req_.path);
    in_.consume(head_len);
    co_return co_await redirect(308, loc, keep_local, {}, route);
  }
  if (route->spec.mtls == Mtls::required && (!verified_ || client_ca_ != route->spec.client_ca)) {
    in_.consume(head_len);
    co_return co_await reply(403, "a valid client certificate is required", false);
  }
  if (cfg.max_body > 0 && req_.content_length > cfg.max_body) {
    in_.consume(head_len);
    co_return co_await reply(413, "the request body is larger than the limit", false);
  }
  if (route->spec.policy || !route->spec.policy_error.empty()) {
    if (!route->spec.policy_error.empty() || !access_local(*route))
      if (auto answered = co_await access(*route, head_len, keep)) co_return *answered;
  } else {
    strip_inbound();
  }
  co_return co_await forward(*route, head_len, keep);
}

void Session::forget_elsewhere(const std::string& hash) {
  for (auto& other : w_.d.workers) {
    Worker* o = other.get();
    if (o == &w_) continue;
    asio::post(o->ctx, [o, hash] {
      auto it = o->sessions.map.find(hash);
      if (it != o->sessions.map.end() && it->second.session && !it->second.session->revoked)
        o->sessions.map.erase(it);
    });
  }
}

const AccessSettings& Session::access_settings() {
  if (!w_.access_settings || w_.access_settings_gen != w_.gen) {
    w_.access_settings = w_.d.access->settings();
    w_.access_settings_gen = w_.gen;
  }
  return *w_.access_settings;
}

// A route without access control: identity, assertion and share-token headers and the session
// cookie are removed all the same (auth::inbound_header), so no client asserts an identity to
// an origin behind a public or routes-file route.
void Session::strip_inbound() {
  static const auth::Policy kNone;
  static const auth::Decision kNobody;
  strip_inbound(kNone, kNobody, c_.tls ? kTlsCookie : kPlainCookie, access_settings().names);
}

// The client's headers as auth::inbound_header says for this decision (identity headers
// dropped, the session cookie cut out of Cookie).
void Session::strip_inbound(const auth::Policy& p, const auth::Decision& d, std::string_view cname,
                            const auth::HeaderNames& names) {
  replaced_.clear();
  std::string rep;
  std::erase_if(req_.headers, [&](http::Header& h) {
    switch (auth::inbound_header(h.name, h.value, d, p, cname, names, rep)) {
      case auth::Inbound::drop:
        return true;
      case auth::Inbound::replace:
        replaced_.push_back(std::move(rep));
        h.value = replaced_.back();
        return false;
      case auth::Inbound::keep:
        return false;
    }
    return false;
  });
}

// ---- access control ---------------------------------------------------------------------------

// Reads a request body of at most `max` bytes (after its head was consumed): 0 when read,
// 411/413 when it is chunked or too large (nothing read), -1 when the client went away.
asio::awaitable<int> Session::read_small_body(size_t max, std::string& body) {
  if (req_.chunked) co_return 411;
  if (req_.content_length > static_cast<int64_t>(max)) co_return 413;
  const size_t need = req_.content_length > 0 ? static_cast<size_t>(req_.content_length) : 0;
  if (req_.expect_continue && need > 0 && in_.empty()) {
    static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
    c_.alarm.after(snap_->cfg->send);
    if (auto ec = co_await c_.client.write(k100); ec) co_return -1;
  }
  while (body.size() < need) {
    if (in_.empty()) {
      w_.bufs.get(in_);
      in_.begin = in_.end = 0;
      c_.alarm.after(snap_->cfg->client_body);
      auto [ec, n] = co_await c_.client.read_some(in_.data, in_.cap);
      if (ec) co_return -1;
      in_.end = n;
      m_.bytes_in.inc(n);
    }
    size_t take = std::min(need - body.size(), in_.size());
    body.append(in_.view().substr(0, take));
    in_.consume(take);
  }
  co_return 0;
}

// POST /.warren/enroll on any host: a site exchanges its one-time token for its config
// (lib/enroll). Failed attempts count against the client like failed logins.
asio::awaitable<bool> Session::enroll_site(size_t head_len, bool keep) {
  Access& ax = *w_.d.access;
  in_.consume(head_len);
  auth::IpAddr ip;
  if (auto p = auth::parse_ip(c_.peer_ip)) ip = *p;
  if (int64_t wait = ax.locked(ip, 0, mono_ms()); wait > 0) {
    std::string extra = "Retry-After: " + std::to_string(wait) + "\r\n";
    std::string body = "{\"ok\":false,\"error\":\"too many failed attempts\"}\n";
    co_return co_await answer(429, "application/json", body, false, extra);
  }
  std::string body;
  if (int st = co_await read_small_body(8192, body); st != 0) {
    if (st < 0) co_return false;
    co_return co_await reply(st, "send at most 8 KiB with a Content-Length", false);
  }
  const int64_t now = std::time(nullptr);
  struct Reply {
    int status = 200;
    std::string body;
  };
  std::function<Reply(store::Db*)> job = [&](store::Db* db) {
    Reply r;
    if (!db) {
      r.status = 503;
      r.body = enroll::error_json(core::Error{core::Errc::unavailable, "store unavailable"});
      return r;
    }
    auto res = enroll::enroll_site(*db, body, now);
    if (res) {
      r.body = std::move(*res);
    } else {
      r.status = enroll::http_status(res.error());
      r.body = enroll::error_json(res.error());
    }
    return r;
  };
  Reply r = co_await ax.offload(job);
  if (r.status == 403) ax.failed(ip, 0, "enroll", mono_ms());
  wlog::get("edge")->info("event=enroll client={} status={}", c_.peer_ip, r.status);
  r.body.push_back('\n');
  co_return co_await answer(r.status, "application/json", r.body, keep, {});
}

asio::awaitable<bool> Session::answer(int status, std::string_view content_type,
                                      std::string_view body, bool keep, std::string_view extra) {
  out_.clear();
  std::string hdrs(extra);
  if (hdrs.find("Cache-Control:") == std::string::npos) hdrs.append("Cache-Control: no-store\r\n");
  http::write_response(status, content_type, body, keep, out_, hdrs, method_ == http::Method::head);
  co_return co_await send_out(status, keep);
}

// The answer for a decision that does not go upstream.
asio::awaitable<bool> Session::answer_decision(const auth::Decision& d, bool keep) {
  std::string extra;  // (every generated page carries Cache-Control: no-store)
  switch (d.outcome) {
    case auth::Outcome::redirect:
    case auth::Outcome::issue_session: {
      if (d.issue) extra.append("Set-Cookie: ").append(d.issue->set_cookie).append("\r\n");
      co_return co_await redirect(302, d.location, keep, extra);
    }
    case auth::Outcome::unauthorized:
      if (!d.www_authenticate.empty())
        extra.append("WWW-Authenticate: ").append(d.www_authenticate).append("\r\n");
      co_return co_await reply(401, "authentication required", keep, extra);
    case auth::Outcome::rate_limited:
      extra.append("Retry-After: ").append(std::to_string(std::max<int64_t>(1, d.retry_after)));
      extra.append("\r\n");
      co_return co_await reply(429,
                               d.reason == "locked_out" ? "too many failed attempts: wait and retry"
                                                        : "too many requests: slow down",
                               keep, extra);
    case auth::Outcome::bad_request: {
      std::string why = "malformed request (" + d.reason + ")";
      co_return co_await reply(400, why, false);
    }
    case auth::Outcome::unavailable:
      co_return co_await reply(503, "access check unavailable: the store did not answer", keep,
                               "Retry-After: 5\r\n");
    case auth::Outcome::deny:
    default: {
      std::string why = "access denied (" + d.reason + ")";
      co_return co_await reply(403, why, keep, extra);
    }
  }
}

// An allowed request: identity headers (inbound copies removed), the session cookie and share
// token kept from the upstream, the sliding expiry written back.
void Session::allow_upstream(const auth::Policy& p, const auth::Decision& d, std::string_view host,
                             int64_t now) {
  Access& ax = *w_.d.access;
  const AccessSettings* set = w_.access_settings.get();
  strip_inbound(p, d, auth::cookie_name(p.cookie_base, c_.tls), set->names);
  std::string jwt;
  if (set->key && d.outcome == auth::Outcome::allow && !d.identity.user.empty()) {
    auto a = auth::assertion(d, *set->key, set->issuer,
                             set->audience.empty() ? host : set->audience, now, set->assertion_ttl);
    if (a) jwt = std::move(*a);
  }
  for (auto& [n, v] : auth::identity_headers(d, set->names, jwt))
    auth_extra_.append(n).append(": ").append(v).append("\r\n");
  if (!d.upstream_target.empty()) {
    upstream_path_ = d.upstream_target;
    req_.path = upstream_path_;
  }
  if (d.touch) {
    if (auto it = w_.sessions.map.find(d.touch->token_hash);
        it != w_.sessions.map.end() && it->second.session) {
      it->second.session->last_seen = d.touch->last_seen;
      it->second.session->expires_at = d.touch->expires_at;
    }
    ax.write([t = *d.touch](store::Db& db) { return auth::touch_session(db, t); });
  }
}

bool Session::access_local(const Route& route) {
  const Config& cfg = *snap_->cfg;
  Access& ax = *w_.d.access;
  const auth::Policy& pol = *route.spec.policy;
  SessionCache& cache = w_.sessions;
  auth_headers_.clear();
  for (const auto& h : req_.headers) auth_headers_.emplace_back(h.name, h.value);
  a_.pol = &pol;
  a_.rate.reset();
  a_.locked.reset();
  a_.missed = a_.on_pool = false;
  auth::Request& ar = a_.ar;
  ar = auth::Request{};
  ar.method = req_.method_text;
  ar.host = req_.host;
  ar.target = req_.path.empty() ? std::string_view("/") : req_.path;
  const bool via_proxy = !cfg.trusted_proxies.empty() && trusted(cfg, c_.peer_bin);
  if (auto ip = auth::parse_ip(via_proxy ? real_ip(cfg, req_, c_.peer_ip) : c_.peer_ip))
    ar.client = *ip;
  ar.tls = c_.tls;
  ar.client_cert_verified =
      verified_ && !route.spec.client_ca.empty() && client_ca_ == route.spec.client_ca;
  if (ar.client_cert_verified) {
    subject_ = c_.client.tls.client_subject();
    ar.client_cert_subject = subject_;
  }
  ar.headers = auth_headers_;
  const uint64_t epoch = ax.session_epoch.load(std::memory_order_acquire);
  if (cache.gen != w_.gen || cache.epoch != epoch || !w_.access_settings) {
    cache.map.clear();
    cache.gen = w_.gen;
    cache.epoch = epoch;
    w_.access_settings = ax.settings();
    w_.access_settings_gen = w_.gen;
  }
  if (w_.access_settings->geo && pol.needs_country) {
    a_.country = w_.access_settings->geo->country(ar.client);
    ar.country = a_.country;
  }
  a_.now = std::time(nullptr);
  a_.now_ms = mono_ms();

  // First on this thread, with what the session cache knows; a lookup it cannot answer (an
  // unknown cookie, a share token, Basic credentials) sends the decision to the pool, where
  // it is made again against the store. Rate and lockout are counted once.
  if (!local_lk_.rate) {
    local_lk_.rate = [this](const auth::IpAddr& ip, int64_t, int64_t) {
      if (!a_.rate) a_.rate = w_.d.access->rate(*a_.pol, ip, mono_ms());
      return *a_.rate;
    };
    local_lk_.locked = [this](const auth::IpAddr& ip, int64_t rid, int64_t) {
      if (!a_.locked) a_.locked = w_.d.access->locked(ip, rid, mono_ms());
      return *a_.locked;
    };
    local_lk_.failed = [this](const auth::IpAddr& ip, int64_t rid, std::string_view cred,
                              int64_t) -> int64_t {
      if (a_.missed && !a_.on_pool) return 0;
      return w_.d.access->failed(ip, rid, cred, mono_ms());
    };
    local_lk_.token_hash = [this](std::string_view token) -> const std::string& {
      if (token != token_in_) {
        token_in_.assign(token);
        token_hash_ = auth::hash_token(token);
      }
      return token_hash_;
    };
    local_lk_.session = [this](std::string_view h) -> core::Result<std::optional<auth::Session>> {
      if (auto* e = w_.sessions.find(h, a_.now_ms)) return e->session;
      a_.missed = true;
      return std::optional<auth::Session>();
    };
    local_lk_.share_link =
        [this](std::string_view) -> core::Result<std::optional<auth::ShareLink>> {
      a_.missed = true;
      return std::optional<auth::ShareLink>();
    };
    local_lk_.basic = [this](std::string_view,
                             std::string_view) -> core::Result<std::optional<auth::Identity>> {
      a_.missed = true;
      return std::optional<auth::Identity>();
    };
  }
  a_.d = auth::decide(ar, pol, local_lk_, a_.now);
  if (a_.missed || a_.d.outcome != auth::Outcome::allow) return false;
  ax.audit(*w_.access_settings, a_.d, ar, pol, a_.now);
  if (!cfg.access_log.empty()) log_user_ = a_.d.identity.user;
  allow_upstream(pol, a_.d, req_.host, a_.now);
  return true;
}

asio::awaitable<std::optional<bool>> Session::access(const Route& route, size_t head_len,
                                                     bool keep) {
  const Config& cfg = *snap_->cfg;
  Access& ax = *w_.d.access;
  const bool keep_local = keep && http::request_body(req_) == http::Body::none;
  if (!route.spec.policy_error.empty()) {
    in_.consume(head_len);
    wlog::get("edge")->error("event=policy_unavailable route={} error=\"{}\"", route.spec.name,
                             route.spec.policy_error);
    co_return co_await reply(503, "access policy unavailable", keep_local, "Retry-After: 5\r\n");
  }
  const auth::Policy& pol = *a_.pol;
  const auth::Request& ar = a_.ar;
  const int64_t now = a_.now;
  auth::Decision d = std::move(a_.d);
  if (a_.missed) {
    struct Pass {
      auth::Decision d;
      std::vector<std::pair<std::string, std::optional<auth::Session>>> seen;
    };
    a_.on_pool = true;
    std::function<Pass(store::Db*)> job_pass = [&](store::Db* db) {
      Pass out;
      auto down = [] { return core::err(core::Errc::unavailable, "store unavailable"); };
      auth::Lookups l2 = local_lk_;
      l2.session = [&](std::string_view h) -> core::Result<std::optional<auth::Session>> {
        if (!db) return down();
        auto r = auth::find_session(*db, h);
        if (r) out.seen.emplace_back(std::string(h), *r);
        return r;
      };
      l2.share_link = [&](std::string_view id) -> core::Result<std::optional<auth::ShareLink>> {
        if (!db) return down();
        return auth::find_share_link(*db, id);
      };
      l2.basic = [&](std::string_view u,
                     std::string_view pw) -> core::Result<std::optional<auth::Identity>> {
        if (!db) return down();
        return auth::check_basic(*db, pol.resource_id, u, pw, now);
      };
      out.d = auth::decide(ar, pol, l2, now);
      if (out.d.issue && db) {
        if (auto r = auth::insert_session(*db, out.d.issue->row); !r) {
          out.d.outcome = auth::Outcome::unavailable;
          out.d.status = 503;
          out.d.reason = "store_unavailable";
          out.d.issue.reset();
        }
      }
      return out;
    };
    Pass pass = co_await ax.offload(job_pass);
    for (auto& [h, s] : pass.seen) {
      // The store says this session is gone or revoked: other workers may still hold it as
      // valid until the reload the change brings (up to store_poll away); they drop it now,
      // so a session refused once is refused everywhere from then on.
      if (!s || s->revoked) forget_elsewhere(h);
      w_.sessions.put(h, std::move(s), mono_ms());
    }
    d = std::move(pass.d);
  }
  ax.audit(*w_.access_settings, d, ar, pol, now);
  // Credentials presented with this request (not a session they opened earlier) clear the
  // client's failure count.
  if ((d.method == "basic" || d.method == "share_link") && d.reason != "session" &&
      (d.outcome == auth::Outcome::allow || d.outcome == auth::Outcome::issue_session))
    ax.succeeded(ar.client, pol.resource_id, d.credential);

  if (d.outcome == auth::Outcome::allow) {
    if (!cfg.access_log.empty()) log_user_ = d.identity.user;
    allow_upstream(pol, d, req_.host, now);
    co_return std::nullopt;
  }
  if (d.outcome == auth::Outcome::portal)
    co_return co_await portal(pol, ar, d.path, head_len, keep);
  in_.consume(head_len);
  co_return co_await answer_decision(d, keep_local);
}

asio::awaitable<bool> Session::portal(const auth::Policy& p, const auth::Request& ar,
                                      std::string_view path, size_t head_len, bool keep) {
  Access& ax = *w_.d.access;
  auto set = ax.settings();
  const int64_t now = std::time(nullptr);
  std::string_view sub = path.substr(std::min(path.size(), p.portal_path.size()));
  std::string sec;
  for (auto& [n, v] : auth::security_headers(c_.tls))
    if (n != "Cache-Control") sec.append(n).append(": ").append(v).append("\r\n");
  const bool is_get = req_.method == http::Method::get || req_.method == http::Method::head;
  const bool is_post = req_.method == http::Method::post;
  const bool bodiless = http::request_body(req_) == http::Body::none;

  if (is_get && sub == "/jwks.json") {
    in_.consume(head_len);
    co_return co_await answer(200, "application/jwk-set+json", set->jwks, keep && bodiless,
                              "Cache-Control: max-age=300\r\n");
  }
  if (is_get && (sub == "/login" || sub == "" || sub == "/")) {
    in_.consume(head_len);
    auto q = auth::query_param(ar.target, "rd");
    std::string rd = return_url(q ? std::string_view(*q) : std::string_view("/"), ar.host);
    auth::PageState st;
    st.return_url = rd;
    std::string page = auth::login_page(p, st);
    co_return co_await answer(200, "text/html; charset=utf-8", page, keep && bodiless, sec);
  }
  if (is_get && sub == "/logout") {
    in_.consume(head_len);
    co_return co_await answer(200, "text/html; charset=utf-8", auth::logout_page(p),
                              keep && bodiless, sec);
  }
  if (is_post && sub == "/logout") {
    // Ends this browser's session for the resource: a POST from this origin only (a GET, an
    // image or another site's form cannot sign anyone out).
    in_.consume(head_len);
    if (!auth::origin_ok(ar))
      co_return co_await reply(403, "cross-site logout refused", keep && bodiless);
    const std::string cname = auth::cookie_name(p.cookie_base, c_.tls);
    std::vector<std::string> hashes;
    for (const auto& h : req_.headers)
      if (h.id == http::Hdr::cookie)
        for (auto v : auth::cookie_values(h.value, cname))
          if (auth::token_syntax_ok(v)) hashes.push_back(auth::hash_token(v));
    if (!hashes.empty()) {
      std::function<bool(store::Db*)> job_ok = [&](store::Db* db) {
        if (!db) return false;
        for (auto& h : hashes)
          if (!auth::revoke_session(*db, h)) return false;
        return true;
      };
      bool ok = co_await ax.offload(job_ok);
      for (auto& h : hashes) w_.sessions.map.erase(h);
      ax.session_epoch.fetch_add(1, std::memory_order_release);
      if (!ok) co_return co_await reply(503, "the store did not answer", false);
    }
    auth::Decision ad;
    ad.outcome = auth::Outcome::redirect;
    ad.status = 302;
    ad.reason = "logout";
    ad.path = std::string(path);
    ax.audit(*w_.access_settings, ad, ar, p, now);
    std::string extra = sec;
    extra.append("Set-Cookie: ").append(auth::clear_cookie(cname, c_.tls)).append("\r\n");
    std::string login_page = p.portal_path + "/login";
    co_return co_await redirect(303, login_page, keep && bodiless, extra);
  }
  if (!is_post || (sub != "/login" && sub != "/email")) {
    in_.consume(head_len);
    co_return co_await reply(is_post || is_get ? 404 : 405, "no such portal page", keep && bodiless,
                             is_post || is_get ? std::string_view() : "Allow: GET, POST\r\n");
  }

  // A form post: Content-Length and at most 8 KiB. Reading it reuses the buffer the request
  // head is in, so what the login needs of the head is copied first.
  OwnedRequest own(ar);
  const auth::Request& rq = own.r;
  in_.consume(head_len);
  std::string body;
  if (int st = co_await read_small_body(8192, body); st != 0) {
    if (st < 0) co_return false;
    co_return co_await reply(
        st, st == 411 ? "send the form with a Content-Length" : "form too large", false);
  }
  auto form = auth::parse_form(body);
  if (!form) {
    std::string why = "malformed form: " + form.error().message;
    co_return co_await reply(400, why, keep);
  }
  if (!auth::origin_ok(rq)) co_return co_await reply(403, "cross-site form post refused", keep);
  auto fv = [&](std::string_view k) {
    auto v = auth::form_value(*form, k);
    return v ? *v : std::string_view();
  };
  std::string rd = return_url(fv("rd"), rq.host);

  if (sub == "/email") {
    // Codes are rate limited per client and per address, allowed or not (the answer never
    // tells which), so nobody floods a mailbox or the mail command through the portal.
    auto to = auth::normalize_email(fv("email"));
    if (int64_t wait = ax.email_limit(rq.client, p.resource_id, to.value_or(""), mono_ms());
        wait > 0) {
      auth::Decision ad;
      ad.outcome = auth::Outcome::rate_limited;
      ad.status = 429;
      ad.reason = "email_rate_limited";
      ad.method = "email";
      ad.path = std::string(path);
      ax.audit(*w_.access_settings, ad, rq, p, now);
      auth::PageState st;
      st.return_url = rd;
      st.message = "Too many codes were asked for. Wait a few minutes and try again.";
      std::string extra = sec;
      extra.append("Retry-After: ").append(std::to_string(wait)).append("\r\n");
      co_return co_await answer(429, "text/html; charset=utf-8", auth::login_page(p, st), keep,
                                extra);
    }
    auto cr = auth::request_email_code(p, fv("email"), set->mail_from, rq.host, now);
    if (cr.send) {
      std::string addr = cr.row.address;
      std::function<bool(store::Db*)> job_sent = [&](store::Db* db) {
        if (!db || !auth::put_email_code(*db, p.resource_id, cr.row, now)) return false;
        if (auto r = ax.send_mail(cr.message); !r) {
          wlog::get("edge")->error("event=mail_failed resource={} error=\"{}\"", p.resource,
                                   r.error().message);
          return false;
        }
        return true;
      };
      bool sent = co_await ax.offload(job_sent);
      if (!sent) cr.reason = "email_failed";
    }
    auth::Decision ad;
    ad.outcome = auth::Outcome::portal;
    ad.status = 200;
    ad.reason = cr.reason;
    ad.method = "email";
    ad.path = std::string(path);
    ax.audit(*w_.access_settings, ad, rq, p, now);
    auth::PageState st;
    st.return_url = rd;
    st.message =
        "If the address may sign in here, a code is on its way. It is valid for 15 minutes.";
    std::string email(fv("email"));
    st.email = email;
    std::string page = auth::login_page(p, st);
    co_return co_await answer(200, "text/html; charset=utf-8", page, keep, sec);
  }

  // POST <portal>/login: one login step, on the pool (argon2id, store reads and writes).
  std::function<auth::Login(store::Db*)> job_login = [&](store::Db* db) {
    auth::Login l;
    auto down = [&] {
      auth::Login u;
      u.outcome = auth::Outcome::unavailable;
      u.status = 503;
      u.reason = "store_unavailable";
      u.message = "Sign-in is unavailable right now. Try again in a moment.";
      return u;
    };
    if (!db) return down();
    auto secrets = auth::load_secrets(*db, p.resource_id);
    if (!secrets) return down();
    auth::PortalLookups plk;
    plk.user = [&](std::string_view email) { return auth::find_user(*db, email, p.resource_id); };
    plk.email_code = [&](std::string_view a) {
      return auth::find_email_code(*db, p.resource_id, a);
    };
    auth::Lookups lk;
    lk.locked = [&](const auth::IpAddr& ip, int64_t rid, int64_t) {
      return ax.locked(ip, rid, mono_ms());
    };
    lk.failed = [&](const auth::IpAddr& ip, int64_t rid, std::string_view cred, int64_t) {
      return ax.failed(ip, rid, cred, mono_ms());
    };
    l = auth::portal_login(rq, p, *form, *secrets, plk, lk, now);
    auto addr = auth::normalize_email(fv("email"));
    if (l.code_attempt_failed && addr)
      (void)auth::update_email_code(*db, p.resource_id, *addr, true, false);
    if (!l.issue) return l;
    // A one-time code opens one session: it is claimed in the store (a conditional update
    // that one login wins) before the session exists; concurrent logins with it lose.
    bool claimed = true;
    if (l.totp_step >= 0) {
      auto c = auth::claim_totp_step(*db, l.issue->row.identity.user_id, l.totp_step);
      if (!c) return down();
      claimed = *c;
    }
    if (claimed && l.code_used && addr) {
      auto c = auth::claim_email_code(*db, p.resource_id, *addr);
      if (!c) return down();
      claimed = *c;
    }
    if (!claimed) {
      lk.failed(rq.client, p.resource_id, l.credential, now);
      return auth::code_reused(std::move(l));
    }
    if (!auth::insert_session(*db, l.issue->row)) return down();
    return l;
  };
  auth::Login login = co_await ax.offload(job_login);
  auth::Decision ad;
  ad.outcome = login.outcome;
  ad.status = login.status;
  ad.reason = login.reason;
  ad.method = login.method;
  ad.path = std::string(path);
  if (login.issue) ad.identity = login.issue->row.identity;
  ax.audit(*w_.access_settings, ad, rq, p, now);
  if (login.outcome == auth::Outcome::issue_session && login.issue) {
    ax.succeeded(rq.client, p.resource_id, login.credential);
    std::string extra = sec;
    extra.append("Set-Cookie: ").append(login.issue->set_cookie).append("\r\n");
    const std::string& to = login.location.empty() ? rd : login.location;
    co_return co_await redirect(303, to, keep, extra);
  }
  std::string extra = sec;
  if (login.outcome == auth::Outcome::rate_limited)
    extra.append("Retry-After: ")
        .append(std::to_string(std::max<int64_t>(1, login.retry_after)))
        .append("\r\n");
  auth::PageState st;
  st.return_url = rd;
  st.message = login.message.empty() ? std::string_view("Sign-in failed.") : login.message;
  std::string page = auth::login_page(p, st);
  co_return co_await answer(login.status ? login.status : 401, "text/html; charset=utf-8", page,
                            keep, extra);
}

void Session::release(std::unique_ptr<Upstream> u, bool reusable) {
  c_.up = nullptr;
  if (!u) return;
  if (reusable && u->in.empty() && u->s.is_open()) {
    w_.bufs.put(u->in);
    u->uses++;
    w_.pool.give(std::move(u), snap_->cfg->pool_size, mono_ms());
  }
}

asio::awaitable<bool> Session::forward(const Route& route, size_t head_len, bool keep) {
  const Snapshot& s = *snap_;
  const Config& cfg = *s.cfg;
  auto ex = w_.ctx.get_executor();
  http::Body body = http::request_body(req_);
  std::string sticky;  // a copy: the request head's buffer is reused for its body
  if (route.spec.sticky) sticky = http::cookie_value(req_.get(http::Hdr::cookie), kStickyCookie);
  int64_t now = mono_ms();
  TargetState* t = route.pick(now, sticky, nullptr);
  if (!t) {
    in_.consume(head_len);
    // Why, from the targets themselves ("site homelab offline"), so the page and the log say
    // what an operator can act on.
    std::string why = "no healthy target for route \"" + route.spec.name + "\"";
    std::string reasons;
    for (auto& tp : route.targets) {
      std::string r = tp->down_reason(now);
      if (r.empty() || reasons.find(r) != std::string::npos) continue;
      if (reasons.size() > 200) break;
      reasons += (reasons.empty() ? "" : "; ") + r;
    }
    if (!reasons.empty()) why += ": " + reasons;
    co_return co_await reply(503, why, keep && body == http::Body::none);
  }
  auto shared_of = [&](TargetState* p) {
    for (auto& sp : route.targets)
      if (sp.get() == p) return sp;
    return std::shared_ptr<TargetState>();
  };
  auth_extra_.append(route.spec.request_headers);  // the resource's added headers
  const bool can_retry = http::idempotent(req_.method);
  int attempts = 0;
  bool fresh_only = false;  // after a stale pooled connection
  std::unique_ptr<Upstream> u;
  bool reused = false;
  bool body_started = false;

  // Acquire a connection and send the head (+ body), then read the response head. A pooled
  // connection the upstream had closed is replaced once (bodiless requests only); a target that
  // refuses connections is replaced by another for idempotent requests.
  for (;;) {
    now = mono_ms();
    reused = false;
    if (!fresh_only) u = w_.pool.take(t, now, cfg.pool_idle);
    if (u) {
      reused = true;
      m_.upstream_reused.inc();
      u->s.alarm = &c_.alarm;
    } else {
      c_.alarm.after(cfg.upstream_connect);
      auto [nu, cerr] = co_await connect_upstream(ex, w_.bufs, shared_of(t), s, &c_.alarm);
      c_.alarm.fired = false;
      if (!nu) {
        m_.upstream_connect_errors.inc();
        t->record(false, mono_ms(), route.spec.passive_fail, route.spec.passive_cooldown);
        {
          std::lock_guard lk(t->mu);
          t->last_error = cerr.what;
        }
        wlog::get("edge")->warn("event=upstream_failed route={} target={} error=\"{}\"",
                                route.spec.name, t->spec.str(), cerr.what);
        TargetState* next = nullptr;
        if (can_retry && attempts < cfg.retries) next = route.pick(mono_ms(), {}, t);
        if (next) {
          ++attempts;
          m_.retries.inc();
          t = next;
          continue;
        }
        in_.consume(head_len);
        if (cerr.timeout) m_.upstream_timeouts.inc();
        co_return co_await reply(cerr.timeout ? 504 : 502, cerr.what, false);
      }
      u = std::move(nu);
      m_.upstream_connects.inc();
    }
    c_.up = u.get();

    // The upstream head.
    out_.clear();
    http::ForwardOptions fo;
    fo.client_ip = c_.peer_ip;
    fo.trusted_peer = !cfg.trusted_proxies.empty() && trusted(cfg, c_.peer_bin);
    fo.real_ip = fo.trusted_peer ? real_ip(cfg, req_, c_.peer_ip) : c_.peer_ip;
    fo.tls = c_.tls;
    std::string target_addr;
    if (route.spec.host_header.empty()) {
      fo.host = req_.host;
      if (fo.host.empty()) fo.host = target_addr = t->spec.address();
    } else if (route.spec.host_header == "@target") {
      fo.host = target_addr = t->spec.address();
    } else {
      fo.host = route.spec.host_header;
    }
    fo.upgrade = req_.upgrade;
    fo.extra = auth_extra_;
    http::write_request_head(req_, fo, out_);

    if (req_.expect_continue && body != http::Body::none && in_.size() == head_len &&
        !body_started) {
      c_.alarm.after(cfg.send);
      static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
      if (auto ec = co_await c_.client.write(k100); ec) {
        release(std::move(u), false);
        co_return false;
      }
    }
    if (!body_started) in_.consume(head_len), body_started = true;
    bool body_error = false;
    auto ec = co_await send_body(*u, body, req_.content_length, out_, body_error);
    if (body_error) {
      release(std::move(u), false);
      m_.bad_requests.inc();
      co_return co_await reply(chunks_.payload_bytes() > 0 && cfg.max_body > 0 &&
                                       static_cast<int64_t>(chunks_.payload_bytes()) > cfg.max_body
                                   ? 413
                                   : 400,
                               "malformed or too large request body", false);
    }
    if (ec) {
      bool client_side = ec == asio::error::timed_out;  // client body stalled
      if (reused && body == http::Body::none && !client_side) {
        fresh_only = true;  // stale pooled connection: retry once on a new one
        u.reset();
        c_.up = nullptr;
        if (attempts++ < 2) continue;
      }
      release(std::move(u), false);
      t->record(false, mono_ms(), route.spec.passive_fail, route.spec.passive_cooldown);
      if (client_side) co_return false;
      std::string why = "upstream write failed: " + ec.message();
      co_return co_await reply(502, why, false);
    }

    // Response head (1xx informational responses other than 101 are skipped).
    c_.alarm.after(cfg.upstream_response);
    w_.bufs.get(u->in);
    resp_parser_.set_limits(s.resp_limits);
    bool retry = false;
    for (;;) {
      resp_parser_.reset();
      http::Parse pr{};
      for (;;) {
        if (!u->in.empty()) {
          pr = resp_parser_.parse_response(u->in.view(), resp_);
          if (pr.state != http::Parse::more) break;
        }
        if (u->in.room() == 0) {
          u->in.compact();
          if (u->in.room() == 0) w_.bufs.grow(u->in, cfg.max_response_header_bytes + 1);
        }
        auto [rec, n] = co_await u->s.read_some(u->in.space(), u->in.room());
        if (rec) {
          pr.state = http::Parse::bad;
          if (rec == asio::error::timed_out) {
            m_.upstream_timeouts.inc();
            t->record(false, mono_ms(), route.spec.passive_fail, route.spec.passive_cooldown);
            release(std::move(u), false);
            co_return co_await reply(504, "the upstream did not answer in time", false);
          }
          if (reused && u->in.empty() && body == http::Body::none) {
            retry = true;  // stale keep-alive connection
            break;
          }
          t->record(false, mono_ms(), route.spec.passive_fail, route.spec.passive_cooldown);
          std::string why = "upstream " + t->spec.str() + " closed the connection: " +
                            (u->s.last_error.empty() ? rec.message() : u->s.last_error);
          release(std::move(u), false);
          co_return co_await reply(502, why, false);
        }
        u->in.end += n;
      }
      if (retry) break;
      if (pr.state == http::Parse::bad) {
        t->record(false, mono_ms(), route.spec.passive_fail, route.spec.passive_cooldown);
        std::string why =
            "invalid response from upstream: " + std::string(http::to_string(pr.error));
        release(std::move(u), false);
        co_return co_await reply(502, why, false);
      }
      if (resp_.status >= 100 && resp_.status < 200 && resp_.status != 101) {
        u->in.consume(pr.consumed);
        continue;
      }
      break;
    }
    if (retry) {
      fresh_only = true;
      u.reset();
      c_.up = nullptr;
      if (attempts++ < 2) continue;
      co_return co_await reply(502, "upstream closed the connection", false);
    }
    break;
  }

  t->record(true, mono_ms(), route.spec.passive_fail, route.spec.passive_cooldown);
  t->requests.fetch_add(1, std::memory_order_relaxed);
  t->active.fetch_add(1, std::memory_order_relaxed);
  struct Active {
    TargetState* t;
    ~Active() { t->active.fetch_sub(1, std::memory_order_relaxed); }
  } active{t};

  extra_.clear();
  if (route.spec.sticky && sticky != t->cookie) {
    extra_.append("Set-Cookie: ").append(kStickyCookie).append("=").append(t->cookie);
    extra_.append("; Path=/; HttpOnly; SameSite=Lax");
    if (c_.tls) extra_.append("; Secure");
    extra_.append("\r\n");
  }
  // HSTS on the resource's HTTPS answers (an origin that sends its own keeps it).
  if (c_.tls && route.spec.hsts > 0 && resp_.get("strict-transport-security").empty())
    extra_.append("Strict-Transport-Security: max-age=")
        .append(std::to_string(route.spec.hsts))
        .append("\r\n");

  if (resp_.status == 101) {
    if (!req_.upgrade) {
      release(std::move(u), false);
      co_return co_await reply(502, "upstream switched protocols without an Upgrade request",
                               false);
    }
    out_.clear();
    http::ResponseOptions ro;
    ro.extra = extra_;
    http::write_response_head(resp_, ro, out_);
    u->in.consume(resp_.head_bytes);
    c_.alarm.after(cfg.send);
    auto ec = co_await c_.client.write(out_, u->in.view());
    sent_ += out_.size() + u->in.size();
    u->in.consume(u->in.size());
    finish(101, &route, t);
    if (ec) co_return false;
    m_.websockets.inc();
    co_await tunnel(*u);
    release(std::move(u), false);
    co_return false;
  }

  http::Body rb = http::response_body(resp_, method_);
  bool client_keep = keep && rb != http::Body::until_close;
  bool dechunk = rb == http::Body::chunked && minor_ == 0;
  if (dechunk) client_keep = false;
  bool up_reusable = resp_.keep_alive && rb != http::Body::until_close;
  const int status = resp_.status;
  const int64_t length = resp_.content_length;
  out_.clear();
  http::ResponseOptions ro;
  ro.keep_alive = client_keep;
  ro.client_minor = minor_;
  ro.dechunk = dechunk;
  ro.extra = extra_;
  http::write_response_head(resp_, ro, out_);
  u->in.consume(resp_.head_bytes);

  // Stream the response body.
  bool complete = true;
  error_code ec;
  std::string_view first;
  std::string payload;
  if (rb == http::Body::length) {
    uint64_t left = static_cast<uint64_t>(length);
    size_t take = static_cast<size_t>(std::min<uint64_t>(left, u->in.size()));
    c_.alarm.after(cfg.send);
    ec = co_await c_.client.write(out_, u->in.view().substr(0, take));
    sent_ += out_.size() + take;
    u->in.consume(take);
    left -= take;
    while (!ec && left > 0) {
      if (u->in.data == nullptr) w_.bufs.get(u->in);
      c_.alarm.after(cfg.upstream_response);
      auto [rec, n] = co_await u->s.read_some(u->in.data, std::min<uint64_t>(u->in.cap, left));
      if (rec) {
        complete = false;
        if (rec == asio::error::timed_out) m_.upstream_timeouts.inc();
        break;
      }
      c_.alarm.after(cfg.send);
      ec = co_await c_.client.write(std::string_view(u->in.data, n));
      sent_ += n;
      left -= n;
    }
    if (left > 0) complete = false;
  } else if (rb == http::Body::chunked) {
    chunks_.reset();
    bool head_sent = false;
    for (;;) {
      payload.clear();
      auto st = chunks_.feed(u->in.view(), dechunk ? &payload : nullptr);
      if (st.error != http::Error::none) {
        complete = false;
        break;
      }
      std::string_view part =
          dechunk ? std::string_view(payload) : u->in.view().substr(0, st.consumed);
      c_.alarm.after(cfg.send);
      ec = co_await c_.client.write(head_sent ? std::string_view() : std::string_view(out_), part);
      sent_ += (head_sent ? 0 : out_.size()) + part.size();
      head_sent = true;
      u->in.consume(st.consumed);
      if (ec || st.done) break;
      if (u->in.data == nullptr) w_.bufs.get(u->in);
      u->in.compact();
      c_.alarm.after(cfg.upstream_response);
      auto [rec, n] = co_await u->s.read_some(u->in.space(), u->in.room());
      if (rec) {
        complete = false;
        if (rec == asio::error::timed_out) m_.upstream_timeouts.inc();
        break;
      }
      u->in.end += n;
    }
    if (!u->in.empty()) up_reusable = false;  // bytes after the last chunk: not ours
  } else if (rb == http::Body::until_close) {
    c_.alarm.after(cfg.send);
    ec = co_await c_.client.write(out_, u->in.view());
    sent_ += out_.size() + u->in.size();
    u->in.consume(u->in.size());
    while (!ec) {
      if (u->in.data == nullptr) w_.bufs.get(u->in);
      c_.alarm.after(cfg.upstream_response);
      auto [rec, n] = co_await u->s.read_some(u->in.data, u->in.cap);
      if (rec) {
        if (rec != asio::error::eof) complete = false;
        break;
      }
      c_.alarm.after(cfg.send);
      ec = co_await c_.client.write(std::string_view(u->in.data, n));
      sent_ += n;
    }
    up_reusable = false;
  } else {
    c_.alarm.after(cfg.send);
    ec = co_await c_.client.write(out_);
    sent_ += out_.size();
    if (!u->in.empty()) up_reusable = false;
  }
  m_.bytes_out.inc(sent_);
  if (!complete || ec) {
    if (!complete) {
      t->record(false, mono_ms(), route.spec.passive_fail, route.spec.passive_cooldown);
      m_.status[0].inc();
    }
    release(std::move(u), false);
    finish(status, &route, t);
    co_return false;
  }
  release(std::move(u), up_reusable);
  finish(status, &route, t);
  co_return client_keep;
}

asio::awaitable<error_code> Session::send_body(Upstream& u, http::Body body, int64_t length,
                                               std::string_view head, bool& body_error) {
  const Config& cfg = *snap_->cfg;
  if (body == http::Body::none) {
    c_.alarm.after(cfg.send);
    co_return co_await u.s.write(head);
  }
  if (body == http::Body::length) {
    uint64_t left = static_cast<uint64_t>(length);
    size_t take = static_cast<size_t>(std::min<uint64_t>(left, in_.size()));
    c_.alarm.after(cfg.send);
    if (auto ec = co_await u.s.write(head, in_.view().substr(0, take)); ec) co_return ec;
    in_.consume(take);
    left -= take;
    while (left > 0) {
      w_.bufs.get(in_);
      c_.alarm.after(cfg.client_body);
      auto [ec, n] = co_await c_.client.read_some(in_.data, std::min<uint64_t>(in_.cap, left));
      if (ec) co_return asio::error::timed_out;  // the client went away or stalled
      m_.bytes_in.inc(n);
      c_.alarm.after(cfg.send);
      if (auto wec = co_await u.s.write(std::string_view(in_.data, n)); wec) co_return wec;
      left -= n;
    }
    co_return error_code();
  }
  // Chunked: validated as it streams and forwarded unchanged, except the trailer section: a
  // request's trailers are dropped (as nginx does), so no identity or other header can be
  // smuggled in after the access decision; the origin sees an empty trailer section.
  chunks_.reset();
  bool head_sent = false;
  for (;;) {
    auto st = chunks_.feed(in_.view());
    if (st.error != http::Error::none ||
        (cfg.max_body > 0 && static_cast<int64_t>(chunks_.payload_bytes()) > cfg.max_body)) {
      body_error = true;
      co_return asio::error::invalid_argument;
    }
    c_.alarm.after(cfg.send);
    if (st.keep > 0 || !head_sent) {
      if (auto ec = co_await u.s.write(head_sent ? std::string_view() : head,
                                       in_.view().substr(0, st.keep));
          ec)
        co_return ec;
    }
    head_sent = true;
    in_.consume(st.consumed);
    if (st.done) co_return co_await u.s.write("\r\n");
    w_.bufs.get(in_);
    in_.compact();
    c_.alarm.after(cfg.client_body);
    auto [ec, n] = co_await c_.client.read_some(in_.space(), in_.room());
    if (ec) co_return asio::error::timed_out;
    m_.bytes_in.inc(n);
    in_.end += n;
  }
}

asio::awaitable<void> Session::pump(Stream& from, Stream& to, Buffer& buf, bool to_upstream) {
  const Config& cfg = *snap_->cfg;
  for (;;) {
    if (!buf.empty()) {
      c_.alarm.after(cfg.tunnel_idle);
      if (auto ec = co_await to.write(buf.view()); ec) break;
      if (to_upstream)
        m_.bytes_in.inc(buf.size());
      else
        m_.bytes_out.inc(buf.size());
      buf.consume(buf.size());
    }
    c_.alarm.after(cfg.tunnel_idle);
    auto [ec, n] = co_await from.read_some(buf.data, buf.cap);
    if (ec) {
      if (ec == asio::error::eof && !to.tls)
        ::shutdown(to.fd(), SHUT_WR);
      else {
        from.cancel();
        to.cancel();
        c_.alarm.fired = true;  // end the other direction too
      }
      break;
    }
    buf.begin = 0;
    buf.end = n;
  }
}

asio::awaitable<void> Session::tunnel(Upstream& u) {
  c_.phase = Conn::Phase::tunnel;
  w_.bufs.get(in_);
  in_.compact();
  w_.bufs.get(u.in);
  co_await (pump(c_.client, u.s, in_, true) && pump(u.s, c_.client, u.in, false));
  in_.begin = in_.end = 0;
  u.in.begin = u.in.end = 0;
  w_.bufs.put(u.in);
}

}  // namespace

void Metrics::observe(int code, int64_t us) {
  int cls = code / 100;
  status[cls >= 1 && cls <= 5 ? cls : 0].inc();
  double sec = static_cast<double>(us) / 1e6;
  size_t i = 0;
  while (i < kNumBuckets && sec > kBuckets[i]) ++i;
  latency[i].inc();
  latency_sum_us.inc(static_cast<uint64_t>(us));
}

asio::awaitable<void> serve(Worker& w, int fd, bool tls, std::string peer) {
  Conn c(w, fd, tls, std::move(peer));
  w.m.connections.inc();
  w.m.open_connections_up.inc();
  w.d.open_connections.fetch_add(1, std::memory_order_relaxed);
  {
    Session s(c);
    co_await s.run();
  }
  w.m.open_connections_down.inc();
  w.d.open_connections.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace edge::detail
