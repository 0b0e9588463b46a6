// One client connection: TLS handshake, then requests one after another (keep-alive): parse
// the head, route, pick a target, reuse or open an upstream connection, stream the request
// body, stream the response back, and tunnel Upgrades. Runs on its worker's thread only.
#include <sys/socket.h>

#include <cstdio>
#include <ctime>

#include "edge/detail/daemon.h"
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

// The client address as far as trusted proxies vouch for it: the rightmost X-Forwarded-For
// entry that is not itself a trusted proxy.
std::string_view real_ip(const Config& cfg, const http::Head& h, std::string_view peer) {
  std::string_view xff = h.get(http::Hdr::x_forwarded_for);
  std::string_view best = peer;
  while (!xff.empty()) {
    size_t comma = xff.rfind(',');
    std::string_view item = comma == std::string_view::npos ? xff : xff.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    std::array<uint8_t, 16> ip{};
    if (!parse_ip(item, ip)) break;
    best = item;
    if (!trusted(cfg, ip)) break;
    if (comma == std::string_view::npos) break;
    xff = xff.substr(0, comma);
  }
  return best;
}

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
  asio::awaitable<bool> reply(int status, std::string_view detail, bool keep,
                              std::string_view extra = {});
  asio::awaitable<bool> forward(const Route& route, size_t head_len, bool keep);
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
  c_.alarm.after(snap_->cfg->send);
  auto ec = co_await c_.client.write(out_);
  sent_ += out_.size();
  m_.bytes_out.inc(out_.size());
  finish(status, nullptr, nullptr);
  if (!keep) linger_ = true;
  co_return keep && !ec;
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
  const Route* route = s.routes->match(req_.host, req_.path);
  if (!route) {
    std::string detail = "no route for host \"" + std::string(req_.host) + "\"";
    in_.consume(head_len);
    co_return co_await reply(404, detail, keep_local);
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
    out_.clear();
    http::write_redirect(loc, keep_local, out_, method_ == http::Method::head);
    c_.alarm.after(cfg.send);
    auto ec = co_await c_.client.write(out_);
    sent_ += out_.size();
    finish(308, route, nullptr);
    co_return keep_local && !ec;
  }
  if (route->spec.mtls == Mtls::required && (!verified_ || client_ca_ != route->spec.client_ca)) {
    in_.consume(head_len);
    co_return co_await reply(403, "a valid client certificate is required", false);
  }
  if (cfg.max_body > 0 && req_.content_length > cfg.max_body) {
    in_.consume(head_len);
    co_return co_await reply(413, "the request body is larger than the limit", false);
  }
  co_return co_await forward(*route, head_len, keep);
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
    std::string why = "no healthy target for route \"" + route.spec.name + "\"";
    co_return co_await reply(503, why, keep && body == http::Body::none);
  }
  auto shared_of = [&](TargetState* p) {
    for (auto& sp : route.targets)
      if (sp.get() == p) return sp;
    return std::shared_ptr<TargetState>();
  };
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
  // Chunked: validated as it streams and forwarded unchanged.
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
    if (auto ec = co_await u.s.write(head_sent ? std::string_view() : head,
                                     in_.view().substr(0, st.consumed));
        ec)
      co_return ec;
    head_sent = true;
    in_.consume(st.consumed);
    if (st.done) co_return error_code();
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
