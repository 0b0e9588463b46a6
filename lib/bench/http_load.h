// bench::run_http — the HTTP/1.1 load engine behind `netbench http` and `netbench compare`.
// One epoll loop per thread over raw non-blocking sockets (optionally OpenSSL on top), each
// connection with one request in flight. Closed loop: a connection sends its next request as
// soon as the response ends. Open loop (rate > 0): each thread sends on a fixed schedule,
// latency counts from the scheduled time (coordinated omission corrected), and sends more than
// 1 ms late are counted as "behind". Per-thread histograms are merged at the end.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/summary.h"
#include "core/result.h"

namespace bench {

inline constexpr int64_t kBehindNs = 1'000'000;  // a send this late is "behind schedule"

struct LoadOptions {
  std::vector<std::string> urls;  // same scheme, host and port; requests rotate over them
  std::string method = "GET";
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  int connections = 10;
  int threads = 1;
  int64_t duration_ns = 10'000'000'000;
  uint64_t requests = 0;  // > 0: stop after this many measured requests (duration is a cap)
  int64_t warmup_ns = 0;
  double rate = 0;  // > 0: open loop at this many requests/s in total
  bool keepalive = true;
  int64_t timeout_ns = 5'000'000'000;
  std::string connect_to;   // HOST:PORT to connect to instead of the URL's
  std::string unix_socket;  // connect to this Unix socket instead
  // TLS
  std::string sni;  // server name to send (default: the URL host unless it is an IP)
  bool insecure = false;
  std::string cacert;
  std::string cert, key;                    // client certificate and key (PEM)
  bool tls_resume = false;                  // resume TLS sessions on new connections (per thread)
  bool timeline = false;                    // collect the per-second timeline
  const std::atomic<bool>* stop = nullptr;  // set from a signal handler to end early
};

// Validates options and files, runs the load, returns the merged summary. Setup errors carry
// their exit code (usage 64, noinput 66, data 65, unavailable 69); failures during the run
// are counted in the summary instead.
core::Result<Summary> run_http(const LoadOptions& opts);

}  // namespace bench
