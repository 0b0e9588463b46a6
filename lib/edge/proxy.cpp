// One client connection: TLS handshake, then requests one after another (keep-alive and
// pipelining): read the head, ask the exchange core (edge/proto/exchange.h) what it means, route it
// and hand it to a handler — forwarding (forward.cpp), access control and the portal
// (portal.cpp), site enrollment (enrollment.cpp) — or answer it here through session.cpp.
// Runs on its worker's thread only.
#include <sys/socket.h>

#include "edge/detail/session.h"
#include "enroll/enroll.h"
#include "http/path.h"
#include "http/proxy.h"
#include "log/log.h"

namespace edge::detail {

namespace {
constexpr std::string_view kReserved = "/.warren/";  // edged's own paths, never proxied
}  // namespace

asio::awaitable<void> Session::run() {
  w_.current();
  snap_ = w_.snap;  // held: the exchange core points into it
  const Snapshot* s = snap_.get();
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
    co_return co_await enroll_site(*this, head_len, keep);
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
    if (!route->spec.policy_error.empty() || !gate_.access_local(*route))
      if (auto answered = co_await gate_.access(*route, head_len, keep)) co_return *answered;
  } else {
    gate_.strip_inbound();
  }
  co_return co_await forward(*route, head_len, keep);
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
