// flowrun.toml: limits, the HTTP policy (SSRF guard switches), exec and socket policies.
#include <chrono>

#include "config/config.h"
#include "flow/flow.h"

namespace flow {

namespace {

bool get_ns(config::Reader& r, std::string_view key, int64_t& out) {
  std::chrono::milliseconds ms{};
  if (!r.get_duration(key, ms, std::chrono::milliseconds(1), std::chrono::hours(24 * 365)))
    return false;
  out = static_cast<int64_t>(ms.count()) * 1'000'000;
  return true;
}

}  // namespace

core::Result<Config> load_config(const std::string& path, Config c) {
  WARREN_TRY(r, config::parse_file(path));
  auto lim = r.table("limits");
  lim.get("max_payload_bytes", c.limits.load.max_payload_bytes, size_t{1}, size_t{1} << 30);
  lim.get("max_nodes", c.limits.load.max_nodes, size_t{1}, size_t{10'000'000});
  lim.get("max_edges", c.limits.load.max_edges, size_t{0}, size_t{100'000'000});
  get_ns(lim, "execution_time", c.limits.execution_ns);
  get_ns(lim, "node_time", c.limits.node_ns);
  lim.get("max_node_executions", c.limits.max_node_executions, size_t{1}, size_t{1} << 40);
  lim.get("max_http_calls", c.limits.max_http_calls, size_t{0}, size_t{1} << 30);
  lim.get("max_variables", c.limits.node.max_variables, size_t{0}, size_t{1} << 30);
  lim.get("max_string_length", c.limits.node.max_string_length, size_t{1}, size_t{1} << 32);
  lim.get("max_array_length", c.limits.node.max_array_length, size_t{1}, size_t{1} << 32);
  lim.get("max_depth", c.limits.node.max_depth, size_t{1}, size_t{10000});
  lim.get("max_iterations", c.limits.node.max_iterations, size_t{1}, size_t{100'000'000});
  lim.get("max_concurrency", c.limits.max_concurrency, size_t{1}, size_t{256});

  auto http = r.table("http");
  http.get("enabled", c.http.enabled);
  http.get("allow_localhost", c.http.allow_localhost);
  http.get("allow_private_ips", c.http.allow_private_ips);
  http.get("allow_link_local", c.http.allow_link_local);
  http.get("allow_cloud_metadata", c.http.allow_cloud_metadata);
  http.get("allowed_domains", c.http.allowed_domains);
  if (http.get("resolve", c.http.resolve)) {
    for (auto& pin : c.http.resolve)
      if (pin.find(':') == std::string::npos || pin.front() == ':' || pin.back() == ':')
        http.fail("resolve", "expected \"host:address\", got \"" + pin + "\"");
  }
  http.get("max_redirects", c.http.max_redirects, 0, 100);
  http.get("max_response_bytes", c.http.max_response_bytes, size_t{1}, size_t{1} << 32);
  get_ns(http, "connect_timeout", c.http.connect_timeout_ns);
  get_ns(http, "timeout", c.http.timeout_ns);
  http.get("ca_file", c.http.ca_file);
  http.get("user_agent", c.user_agent);

  auto ex = r.table("exec");
  ex.get("enabled", c.exec.enabled);
  ex.get("allowed", c.exec.allowed);
  get_ns(ex, "timeout", c.exec.timeout_ns);
  ex.get("max_output_bytes", c.exec.max_output_bytes, size_t{1}, size_t{1} << 30);

  auto so = r.table("socket");
  so.get("allowed", c.socket.allowed);

  WARREN_CHECK(r.finish());
  return c;
}

}  // namespace flow
