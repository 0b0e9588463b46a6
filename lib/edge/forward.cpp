// Forwarding: a routed (and allowed) request goes to a target — a pooled or new upstream
// connection, retried as the exchange core says — its body streamed up, the response streamed
// back, Upgrades tunnelled. Part of Session (edge/detail/session.h); worker thread only.
#include <sys/socket.h>

#include "edge/detail/session.h"
#include "http/proxy.h"
#include "log/log.h"

namespace edge::detail {

using namespace asio::experimental::awaitable_operators;

namespace {
constexpr std::string_view kStickyCookie = "edged_sticky";
}  // namespace

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
  const http::Body body = x_.body();
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
    co_return co_await reply(x_.no_target(), why);
  }
  auto shared_of = [&](TargetState* p) {
    for (auto& sp : route.targets)
      if (sp.get() == p) return sp;
    return std::shared_ptr<TargetState>();
  };
  auto blame = [&] {
    t->record(false, mono_ms(), route.spec.passive_fail, route.spec.passive_cooldown);
  };
  auth_extra_.append(route.spec.request_headers);  // the resource's added headers
  std::unique_ptr<Upstream> u;
  bool body_started = false;

  // Acquire a connection and send the head (+ body), then read the response head; on each
  // failure the exchange core says whether to try again (a stale pooled connection: once more
  // on a new one, bodiless requests only; a refused target: another one, idempotent requests)
  // or what to answer.
  Step step = Step::forward;
  for (;;) {
    now = mono_ms();
    bool reused = false;
    if (x_.may_reuse()) u = w_.pool.take(t, now, cfg.pool_idle);
    if (u) {
      reused = true;
      m_.upstream_reused.inc();
      u->s.alarm = &c_.alarm;
    } else {
      arm(Wait::upstream_connect);
      auto [nu, cerr] = co_await connect_upstream(ex, w_.bufs, shared_of(t), s, &c_.alarm);
      c_.alarm.fired = false;
      if (!nu) {
        m_.upstream_connect_errors.inc();
        blame();
        {
          std::lock_guard lk(t->mu);
          t->last_error = cerr.what;
        }
        wlog::get("edge")->warn("event=upstream_failed route={} target={} error=\"{}\"",
                                route.spec.name, t->spec.str(), cerr.what);
        TargetState* next = nullptr;
        if (x_.on_connect_failed(cerr.timeout) == Step::retry_target)
          next = route.pick(mono_ms(), {}, t);
        if (next) {
          x_.on_retry_target();
          m_.retries.inc();
          t = next;
          continue;
        }
        in_.consume(head_len);
        if (cerr.timeout) m_.upstream_timeouts.inc();
        co_return co_await reply(x_.connect_failed(cerr.timeout), cerr.what);
      }
      u = std::move(nu);
      m_.upstream_connects.inc();
    }
    x_.on_attempt(reused);
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

    if (!body_started && x_.send_continue(in_.size() - head_len)) {
      arm(Wait::send);
      static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
      if (auto ec = co_await c_.client.write(k100); ec) {
        release(std::move(u), false);
        co_return false;
      }
    }
    if (!body_started) {
      in_.consume(head_len);
      body_started = true;
      x_.on_body_started();
    }
    bool body_error = false;
    auto ec = co_await send_body(*u, body, req_.content_length, out_, body_error);
    if (body_error) {
      release(std::move(u), false);
      m_.bad_requests.inc();
      co_return co_await reply(x_.body_failed(chunks_.payload_bytes()));
    }
    if (ec) {
      step = x_.on_send_failed(ec == asio::error::timed_out);  // timed out: the client's body
      if (step == Step::retry_fresh) {
        u.reset();
        c_.up = nullptr;
        continue;
      }
      release(std::move(u), false);
      blame();
      if (step == Step::close) co_return false;
      std::string why = std::string(x_.answer().detail) + ": " + ec.message();
      co_return co_await reply(x_.answer(), why);
    }

    // Response head (1xx informational responses other than 101 are skipped).
    arm(Wait::upstream_response);
    w_.bufs.get(u->in);
    resp_parser_.set_limits(s.resp_limits);
    step = Step::forward;
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
          const bool timed_out = rec == asio::error::timed_out;
          step = x_.on_response_failed(timed_out, !u->in.empty());
          if (step == Step::retry_fresh) break;  // stale keep-alive connection
          const Answer& a = x_.answer();
          if (timed_out) m_.upstream_timeouts.inc();
          if (a.blame) blame();
          if (!a.blame) {  // stale connections, and fresh ones closed as well: give up
            u.reset();
            c_.up = nullptr;
            co_return co_await reply(a);
          }
          std::string why;
          if (!timed_out)
            why = "upstream " + t->spec.str() + " " + std::string(a.detail) + ": " +
                  (u->s.last_error.empty() ? rec.message() : u->s.last_error);
          release(std::move(u), false);
          co_return co_await reply(a, why);
        }
        u->in.end += n;
      }
      if (step == Step::retry_fresh) break;
      if (pr.state == http::Parse::bad) {
        blame();
        std::string why = std::string(Exchange::bad_response().detail) + ": " +
                          std::string(http::to_string(pr.error));
        release(std::move(u), false);
        co_return co_await reply(Exchange::bad_response(), why);
      }
      step = x_.on_response_head(resp_);
      if (step == Step::skip) {
        u->in.consume(pr.consumed);
        continue;
      }
      break;
    }
    if (step == Step::retry_fresh) {
      u.reset();
      c_.up = nullptr;
      continue;
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

  if (step == Step::answer) {  // 101 without an Upgrade request
    release(std::move(u), false);
    co_return co_await reply(x_.answer());
  }
  if (step == Step::upgrade) {
    out_.clear();
    http::ResponseOptions ro;
    ro.extra = extra_;
    http::write_response_head(resp_, ro, out_);
    u->in.consume(resp_.head_bytes);
    arm(Wait::send);
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

  const ResponsePlan& plan = x_.plan();
  const http::Body rb = plan.body;
  const bool dechunk = plan.dechunk;
  const int status = resp_.status;
  const int64_t length = resp_.content_length;
  out_.clear();
  http::ResponseOptions ro;
  ro.keep_alive = plan.client_keep;
  ro.client_minor = x_.minor();
  ro.dechunk = dechunk;
  ro.extra = extra_;
  http::write_response_head(resp_, ro, out_);
  u->in.consume(resp_.head_bytes);

  // Stream the response body.
  bool complete = true;
  bool leftover = false;  // bytes after the body: the upstream connection is not reusable
  error_code ec;
  std::string_view first;
  std::string payload;
  if (rb == http::Body::length) {
    uint64_t left = static_cast<uint64_t>(length);
    size_t take = static_cast<size_t>(std::min<uint64_t>(left, u->in.size()));
    arm(Wait::send);
    ec = co_await c_.client.write(out_, u->in.view().substr(0, take));
    sent_ += out_.size() + take;
    u->in.consume(take);
    left -= take;
    while (!ec && left > 0) {
      if (u->in.data == nullptr) w_.bufs.get(u->in);
      arm(Wait::upstream_response);
      auto [rec, n] = co_await u->s.read_some(u->in.data, std::min<uint64_t>(u->in.cap, left));
      if (rec) {
        complete = false;
        if (rec == asio::error::timed_out) m_.upstream_timeouts.inc();
        break;
      }
      arm(Wait::send);
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
      arm(Wait::send);
      ec = co_await c_.client.write(head_sent ? std::string_view() : std::string_view(out_), part);
      sent_ += (head_sent ? 0 : out_.size()) + part.size();
      head_sent = true;
      u->in.consume(st.consumed);
      if (ec || st.done) break;
      if (u->in.data == nullptr) w_.bufs.get(u->in);
      u->in.compact();
      arm(Wait::upstream_response);
      auto [rec, n] = co_await u->s.read_some(u->in.space(), u->in.room());
      if (rec) {
        complete = false;
        if (rec == asio::error::timed_out) m_.upstream_timeouts.inc();
        break;
      }
      u->in.end += n;
    }
    leftover = !u->in.empty();
  } else if (rb == http::Body::until_close) {
    arm(Wait::send);
    ec = co_await c_.client.write(out_, u->in.view());
    sent_ += out_.size() + u->in.size();
    u->in.consume(u->in.size());
    while (!ec) {
      if (u->in.data == nullptr) w_.bufs.get(u->in);
      arm(Wait::upstream_response);
      auto [rec, n] = co_await u->s.read_some(u->in.data, u->in.cap);
      if (rec) {
        if (rec != asio::error::eof) complete = false;
        break;
      }
      arm(Wait::send);
      ec = co_await c_.client.write(std::string_view(u->in.data, n));
      sent_ += n;
    }
  } else {
    arm(Wait::send);
    ec = co_await c_.client.write(out_);
    sent_ += out_.size();
    leftover = !u->in.empty();
  }
  m_.bytes_out.inc(sent_);
  const bool client_keep = x_.on_response_end(complete, static_cast<bool>(ec), leftover);
  if (!complete) {
    blame();
    m_.status[0].inc();
  }
  release(std::move(u), x_.upstream_reusable());
  finish(status, &route, t);
  co_return client_keep;
}

asio::awaitable<error_code> Session::send_body(Upstream& u, http::Body body, int64_t length,
                                               std::string_view head, bool& body_error) {
  if (body == http::Body::none) {
    arm(Wait::send);
    co_return co_await u.s.write(head);
  }
  if (body == http::Body::length) {
    uint64_t left = static_cast<uint64_t>(length);
    size_t take = static_cast<size_t>(std::min<uint64_t>(left, in_.size()));
    arm(Wait::send);
    if (auto ec = co_await u.s.write(head, in_.view().substr(0, take)); ec) co_return ec;
    in_.consume(take);
    left -= take;
    while (left > 0) {
      w_.bufs.get(in_);
      arm(Wait::client_body);
      auto [ec, n] = co_await c_.client.read_some(in_.data, std::min<uint64_t>(in_.cap, left));
      if (ec) co_return asio::error::timed_out;  // the client went away or stalled
      m_.bytes_in.inc(n);
      arm(Wait::send);
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
    if (st.error != http::Error::none || x_.body_over_limit(chunks_.payload_bytes())) {
      body_error = true;
      co_return asio::error::invalid_argument;
    }
    arm(Wait::send);
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
    arm(Wait::client_body);
    auto [ec, n] = co_await c_.client.read_some(in_.space(), in_.room());
    if (ec) co_return asio::error::timed_out;
    m_.bytes_in.inc(n);
    in_.end += n;
  }
}

asio::awaitable<void> Session::pump(Stream& from, Stream& to, Buffer& buf, bool to_upstream) {
  for (;;) {
    if (!buf.empty()) {
      arm(Wait::tunnel);
      if (auto ec = co_await to.write(buf.view()); ec) break;
      if (to_upstream)
        m_.bytes_in.inc(buf.size());
      else
        m_.bytes_out.inc(buf.size());
      buf.consume(buf.size());
    }
    arm(Wait::tunnel);
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

}  // namespace edge::detail
