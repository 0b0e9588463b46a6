// edge::detail::Session — one client connection's requests, one after another: the connection
// loop (proxy.cpp) reads heads and asks the exchange core (edge/proto/exchange.h) what to do; the
// handlers beside it answer: forwarding (forward.cpp, Session's own), access control and the
// auth portal (Gate, portal.cpp), site enrollment (enroll_site, enrollment.cpp), all through
// session.cpp (edged's own answers, accounting). Files depend one way: proxy.cpp -> handlers ->
// session.cpp. Owned by serve()'s coroutine; runs on its worker's thread only.
#pragma once

#include <memory>
#include <string>

#include "edge/detail/daemon.h"
#include "edge/detail/gate.h"
#include "edge/proto/exchange.h"

namespace edge::detail {

// enrollment.cpp: POST /.warren/enroll (a site's one-time token for its config), answered
// through `s`.
asio::awaitable<bool> enroll_site(Session& s, size_t head_len, bool keep);

// session.cpp: the client address as far as trusted proxies vouch for it, and whether the peer
// is one.
bool trusted(const Config& cfg, const std::array<uint8_t, 16>& ip);
std::string_view real_ip(const Config& cfg, const http::Head& h, std::string_view peer);
// Microseconds on CLOCK_MONOTONIC (request durations).
int64_t now_us();

using proto::Answer;
using proto::Exchange;
using proto::ResponsePlan;
using proto::Step;
using proto::Wait;

class Session {
 public:
  explicit Session(Conn& c) : c_(c), w_(c.w), m_(c.w.m) {}
  ~Session() {
    in_.begin = in_.end = 0;
    w_.bufs.put(in_);
  }

  asio::awaitable<void> run();

 private:
  // The handlers beside forwarding answer through the Session: what they use of it is listed
  // under session.cpp below.
  friend class Gate;
  friend asio::awaitable<bool> enroll_site(Session& s, size_t head_len, bool keep);

  // ---- the connection loop: read a head, route it, hand it to a handler (proxy.cpp) ----
  asio::awaitable<bool> handle(size_t head_len);

  // ---- what every handler uses: edged's own answers, accounting (session.cpp) ----
  // Arms the connection's deadline for a wait (the exchange core says when it passes).
  void arm(Wait w) { c_.alarm.at(x_.deadline(w, mono_ms())); }
  asio::awaitable<bool> reply(int status, std::string_view detail, bool keep,
                              std::string_view extra = {});
  // An answer from the exchange core; `detail` replaces its own when not empty.
  asio::awaitable<bool> reply(const Answer& a, std::string_view detail = {}) {
    return reply(a.status, detail.empty() ? a.detail : detail, a.keep, a.headers);
  }
  // Sends out_, a whole response edged made itself, and accounts for it (metrics, access log).
  asio::awaitable<bool> send_out(int status, bool keep, const Route* route = nullptr);
  asio::awaitable<bool> redirect(int status, std::string_view location, bool keep,
                                 std::string_view extra = {}, const Route* route = nullptr);
  asio::awaitable<bool> answer(int status, std::string_view content_type, std::string_view body,
                               bool keep, std::string_view extra);
  // Reads a request body of at most `max` bytes (after its head was consumed): 0 when read,
  // 411/413 when it is chunked or too large (nothing read), -1 when the client went away.
  asio::awaitable<int> read_small_body(size_t max, std::string& body);
  void finish(int status, const Route* route, const TargetState* t);

  // ---- forwarding (forward.cpp) ----
  asio::awaitable<bool> forward(const Route& route, size_t head_len, bool keep);
  asio::awaitable<error_code> send_body(Upstream& u, http::Body body, int64_t length,
                                        std::string_view head, bool& body_error);
  asio::awaitable<void> tunnel(Upstream& u);
  asio::awaitable<void> pump(Stream& from, Stream& to, Buffer& buf, bool to_upstream);
  void release(std::unique_ptr<Upstream> u, bool reusable);

  Conn& c_;
  Worker& w_;
  Metrics& m_;
  std::shared_ptr<const Snapshot> snap_;
  Exchange x_;  // the decisions of the current request
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
  http::Method method_ = http::Method::other;  // for HEAD answers (also to a malformed request)
  std::string log_method_, log_host_, log_path_;
  std::string log_user_;    // who access control said the request is
  std::string norm_path_;   // the normalised target (req_.path points here)
  Gate gate_{*this};        // access control and the auth portal (portal.cpp)
  std::string auth_extra_;  // header lines for the upstream (identity, the resource's own)
};

}  // namespace edge::detail
