// edged's metrics: the per-worker counters (Metrics::observe on the worker's thread), their
// Prometheus text (render_metrics, on the control thread: the control socket's `metrics` and
// the [metrics] listener), and that listener (GET /metrics, one request per connection).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/write.hpp>

#include <cstdio>

#include "edge/detail/daemon.h"
#include "http/proxy.h"

namespace edge::detail {

using namespace std::chrono_literals;

void Metrics::observe(int code, int64_t us) {
  int cls = code / 100;
  status[cls >= 1 && cls <= 5 ? cls : 0].inc();
  double sec = static_cast<double>(us) / 1e6;
  size_t i = 0;
  while (i < kNumBuckets && sec > kBuckets[i]) ++i;
  latency[i].inc();
  latency_sum_us.inc(static_cast<uint64_t>(us));
}

std::string render_metrics(Daemon& d) {
  auto snap = d.current();
  std::string o;
  auto sum = [&](auto field) {
    uint64_t v = 0;
    for (auto& w : d.workers) v += (w->m.*field).get();
    return v;
  };
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    o.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ");
    o.append(name).append(" counter\n").append(name).append(" ").append(std::to_string(v));
    o.append("\n");
  };
  auto label = [](const std::string& s) {
    std::string r;
    for (char c : s) {
      if (c == '\\' || c == '"') r.push_back('\\');
      if (c == '\n') {
        r.append("\\n");
        continue;
      }
      r.push_back(c);
    }
    return r;
  };
  o.append("# HELP edged_requests_total Responses sent, by status class.\n");
  o.append("# TYPE edged_requests_total counter\n");
  static const char* classes[] = {"aborted", "1xx", "2xx", "3xx", "4xx", "5xx"};
  for (int i = 0; i < 6; ++i) {
    uint64_t v = 0;
    for (auto& w : d.workers) v += w->m.status[i].get();
    o.append("edged_requests_total{code=\"").append(classes[i]).append("\"} ");
    o.append(std::to_string(v)).append("\n");
  }
  o.append(
      "# HELP edged_request_duration_seconds Time from the request head to the end of the "
      "response.\n");
  o.append("# TYPE edged_request_duration_seconds histogram\n");
  uint64_t cum = 0;
  for (size_t i = 0; i <= Metrics::kNumBuckets; ++i) {
    for (auto& w : d.workers) cum += w->m.latency[i].get();
    char le[32];
    if (i < Metrics::kNumBuckets)
      std::snprintf(le, sizeof le, "%g", Metrics::kBuckets[i]);
    else
      std::snprintf(le, sizeof le, "+Inf");
    o.append("edged_request_duration_seconds_bucket{le=\"").append(le).append("\"} ");
    o.append(std::to_string(cum)).append("\n");
  }
  char s[64];
  std::snprintf(s, sizeof s, "%.6f", static_cast<double>(sum(&Metrics::latency_sum_us)) / 1e6);
  o.append("edged_request_duration_seconds_sum ").append(s).append("\n");
  o.append("edged_request_duration_seconds_count ").append(std::to_string(cum)).append("\n");
  counter("edged_connections_total", "Client connections accepted.", sum(&Metrics::connections));
  o.append("# HELP edged_open_connections Client connections open now.\n");
  o.append("# TYPE edged_open_connections gauge\nedged_open_connections ");
  o.append(std::to_string(d.open_connections.load())).append("\n");
  counter("edged_tls_handshakes_total", "TLS handshakes completed.", sum(&Metrics::tls_handshakes));
  counter("edged_tls_handshake_failures_total", "TLS handshakes that failed.",
          sum(&Metrics::tls_failures));
  counter("edged_tls_resumed_total", "TLS handshakes that resumed a session.",
          sum(&Metrics::tls_resumed));
  counter("edged_upstream_connects_total", "New upstream connections.",
          sum(&Metrics::upstream_connects));
  counter("edged_upstream_reused_total", "Requests sent on a pooled upstream connection.",
          sum(&Metrics::upstream_reused));
  counter("edged_upstream_connect_errors_total", "Upstream connections that failed.",
          sum(&Metrics::upstream_connect_errors));
  counter("edged_upstream_timeouts_total", "Upstream connects or responses that timed out.",
          sum(&Metrics::upstream_timeouts));
  counter("edged_retries_total", "Requests retried on another target.", sum(&Metrics::retries));
  counter("edged_bad_requests_total", "Requests refused as malformed.",
          sum(&Metrics::bad_requests));
  counter("edged_websockets_total", "Upgraded connections tunnelled.", sum(&Metrics::websockets));
  counter("edged_received_bytes_total", "Bytes received from clients.", sum(&Metrics::bytes_in));
  counter("edged_sent_bytes_total", "Bytes sent to clients.", sum(&Metrics::bytes_out));
  counter("edged_reloads_total", "Successful reloads.", d.reloads);
  o.append("# HELP edged_routes Routes in the table.\n# TYPE edged_routes gauge\nedged_routes ");
  o.append(std::to_string(snap->routes->routes().size())).append("\n");
  int64_t now = now_ms();
  o.append(
      "# HELP edged_target_up Whether a target receives traffic (health checks and passive "
      "failures).\n");
  o.append("# TYPE edged_target_up gauge\n");
  std::string req, fail, act, down;
  for (auto& r : snap->routes->routes()) {
    for (auto& t : r->targets) {
      std::string lbl =
          "{route=\"" + label(r->spec.name) + "\",target=\"" + label(t->spec.str()) + "\"} ";
      o.append("edged_target_up").append(lbl).append(t->up(now) ? "1\n" : "0\n");
      const char* kind = nullptr;
      (void)t->down_reason(now, &kind);
      if (kind)
        down.append("edged_target_down{route=\"")
            .append(label(r->spec.name))
            .append("\",target=\"")
            .append(label(t->spec.str()))
            .append("\",reason=\"")
            .append(kind)
            .append("\"} 1\n");
      req.append("edged_target_requests_total")
          .append(lbl)
          .append(std::to_string(t->requests.load()))
          .append("\n");
      fail.append("edged_target_failures_total")
          .append(lbl)
          .append(std::to_string(t->failures.load()))
          .append("\n");
      act.append("edged_target_active_requests")
          .append(lbl)
          .append(std::to_string(t->active.load()))
          .append("\n");
    }
  }
  o.append("# HELP edged_target_requests_total Responses received from a target.\n");
  o.append("# TYPE edged_target_requests_total counter\n").append(req);
  o.append(
      "# HELP edged_target_failures_total Failed attempts (connect, timeout, bad response).\n");
  o.append("# TYPE edged_target_failures_total counter\n").append(fail);
  o.append("# HELP edged_target_active_requests Requests in flight to a target.\n");
  o.append("# TYPE edged_target_active_requests gauge\n").append(act);
  o.append(
      "# HELP edged_target_down Targets that receive no traffic, by why: site (tunneld reports "
      "its site offline or disabled), health_check, passive (recent failures).\n");
  o.append("# TYPE edged_target_down gauge\n").append(down);
  if (d.tunneld_polled) {
    o.append("# HELP edged_tunneld_up Whether tunneld answered the last status poll.\n");
    o.append("# TYPE edged_tunneld_up gauge\nedged_tunneld_up ");
    o.append(d.tunneld_reachable ? "1\n" : "0\n");
    o.append("# HELP edged_site_online Whether tunneld reports a site that targets use online.\n");
    o.append("# TYPE edged_site_online gauge\n");
    for (auto& [name, v] : d.sites)
      o.append("edged_site_online{site=\"")
          .append(label(name))
          .append(v.state == "online" ? "\"} 1\n" : "\"} 0\n");
  }
  return o;
}

namespace {

asio::awaitable<void> metrics_conn(Daemon& d, net::tcp::socket s) {
  std::string buf(8192, '\0');
  size_t have = 0;
  http::HeadParser p;
  http::Head h;
  for (;;) {
    auto [ec, n] = co_await net::with_timeout(
        s.async_read_some(asio::buffer(buf.data() + have, buf.size() - have), net::use_tuple), 5s);
    if (ec) co_return;
    have += n;
    auto r = p.parse_request(std::string_view(buf.data(), have), h);
    if (r.state == http::Parse::more) {
      if (have == buf.size()) co_return;
      continue;
    }
    std::string out;
    if (r.state == http::Parse::bad) {
      http::write_error(http::status_for(r.error), http::to_string(r.error), false, out);
    } else if (h.path == "/metrics" || h.path.rfind("/metrics?", 0) == 0) {
      std::string body = render_metrics(d);
      out = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " +
            std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
      if (h.method != http::Method::head) out += body;
    } else {
      http::write_error(404, "try /metrics", false, out);
    }
    co_await net::with_timeout(asio::async_write(s, asio::buffer(out), net::use_tuple), 5s);
    co_return;
  }
}

}  // namespace

asio::awaitable<void> serve_metrics(Daemon& d, net::tcp::acceptor acc) {
  for (;;) {
    auto [ec, s] = co_await acc.async_accept(net::use_tuple);
    if (ec) {
      if (!acc.is_open() || d.draining) co_return;
      continue;
    }
    asio::co_spawn(d.ctl, metrics_conn(d, std::move(s)), net::log_errors("metrics"));
  }
}

}  // namespace edge::detail
