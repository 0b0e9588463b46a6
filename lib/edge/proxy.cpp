// One client connection: TLS handshake, then requests one after another (keep-alive and
// pipelining): read the head, ask the exchange core (edge/exchange.h) what it means, route it and
// hand it to a handler — forwarding (forward.cpp), access control and the portal (portal.cpp),
// site enrollment (enrollment.cpp) — and answer what edged answers itself. Runs on its worker's
// thread only.
#include <sys/socket.h>

#include <cstdio>
#include <ctime>

#include "edge/detail/session.h"
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

namespace {
constexpr std::string_view kReserved = "/.warren/";  // edged's own paths, never proxied
}  // namespace

asio::awaitable<void> Session::run() {
  const Snapshot* s = &w_.current();
  x_.set_limits(s->exchange);
  if (c_.tls) {
    if (!s->tls) co_return;
    c_.client.tls = tls::Session::server(*s->tls);
    arm(Wait::client_header);
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
  for (bool keep = true;;) {
    w_.current();
    snap_ = w_.snap;
    x_.set_limits(snap_->exchange);
    const Config& cfg = *snap_->cfg;
    c_.phase = Conn::Phase::idle;
    Step next = Exchange::next(keep, in_.size(), w_.draining);
    if (next == Step::close) break;
    if (next == Step::read) {
      // Wait for the next request with a read (cheap); after a second of idleness the tick
      // parks the connection: the buffer goes back to the pool and a buffer-less wait follows.
      arm(Wait::idle);
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
    arm(Wait::client_header);
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
        if (in_.room() == 0) w_.bufs.grow(in_, Exchange::grow_head(in_.cap, cfg.max_header_bytes));
      }
      auto [ec, n] = co_await c_.client.read_some(in_.space(), in_.room());
      if (ec) {
        Answer a = Exchange::head_failed(ec == asio::error::timed_out, in_.size());
        if (a.status) {
          out_.clear();
          http::write_error(a.status, a.detail, a.keep, out_);
          arm(Wait::linger);
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
      (void)co_await reply(Exchange::bad_head(pr.error));
      break;
    }
    keep = co_await handle(pr.consumed);
  }
  c_.client.close_notify();
  if (linger_ && !c_.client.tls) {
    // After an error answer the client may still be sending: read (and drop) for a moment so
    // that closing does not reset the connection before the answer is read.
    ::shutdown(c_.client.fd(), SHUT_WR);
    w_.bufs.get(in_);
    arm(Wait::linger);
    for (size_t total = 0; total < Exchange::kLingerBytes;) {
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
  arm(Wait::send);
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
  x_.on_request(req_, w_.draining);
  method_ = req_.method;
  auth_extra_.clear();
  log_user_.clear();
  const bool keep = x_.keep();
  if (!cfg.access_log.empty()) {
    log_method_.assign(req_.method_text);
    log_host_.assign(req_.host);
    log_path_.assign(req_.path.empty() ? req_.target : req_.path);
  }
  // Answers generated here leave the request body unread: close unless there is none.
  const bool keep_local = x_.keep_local();
  if (Answer a = x_.refuse_method(); a.status) {
    in_.consume(head_len);
    co_return co_await reply(a);
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
  if (Answer a = x_.refuse_body_length(req_.content_length); a.status) {
    in_.consume(head_len);
    co_return co_await reply(a);
  }
  if (route->spec.policy || !route->spec.policy_error.empty()) {
    if (!route->spec.policy_error.empty() || !access_local(*route))
      if (auto answered = co_await access(*route, head_len, keep)) co_return *answered;
  } else {
    strip_inbound();
  }
  co_return co_await forward(*route, head_len, keep);
}

asio::awaitable<int> Session::read_small_body(size_t max, std::string& body) {
  bool continue_first = false;
  if (int st = x_.small_body(max, in_.size(), continue_first); st != 0) co_return st;
  const size_t need = req_.content_length > 0 ? static_cast<size_t>(req_.content_length) : 0;
  if (continue_first) {
    static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
    arm(Wait::send);
    if (auto ec = co_await c_.client.write(k100); ec) co_return -1;
  }
  while (body.size() < need) {
    if (in_.empty()) {
      w_.bufs.get(in_);
      in_.begin = in_.end = 0;
      arm(Wait::client_body);
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

asio::awaitable<bool> Session::answer(int status, std::string_view content_type,
                                      std::string_view body, bool keep, std::string_view extra) {
  out_.clear();
  std::string hdrs(extra);
  if (hdrs.find("Cache-Control:") == std::string::npos) hdrs.append("Cache-Control: no-store\r\n");
  http::write_response(status, content_type, body, keep, out_, hdrs, method_ == http::Method::head);
  co_return co_await send_out(status, keep);
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
