// What every handler of a Session uses (edge/detail/session.h): the answers edged makes itself
// (error pages, redirects, documents), a small request body read whole, the accounting of an
// answered request (metrics, access log) and the client's address behind trusted proxies.
// Worker thread only.
#include <cstdio>
#include <ctime>

#include "edge/detail/session.h"
#include "http/proxy.h"

namespace edge::detail {

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

}  // namespace edge::detail
