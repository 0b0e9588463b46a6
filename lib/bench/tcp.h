// bench::tcp_serve / tcp_client — `netbench tcp`, bulk TCP throughput as iperf3 measures it:
// one or more parallel streams, per-second and total Gbit/s, sender and receiver counts. The
// client sends a 16-byte hello ("NBTCP1\n", mode 's' = client sends or 'r' = server sends,
// duration in ms, little-endian); in 's' mode the server answers with the 8-byte count it
// received once the client half-closes. One blocking thread per stream: bulk transfer is
// about large reads and writes, not about many sockets.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "core/result.h"

namespace bench {

struct TcpServerOptions {
  std::string listen = "127.0.0.1:5201";
  size_t buffer = 256 * 1024;
  int64_t duration_ns = 0;  // 0 = until stopped
  const std::atomic<bool>* stop = nullptr;
  std::function<void(const std::string&)> on_listening;
};
core::Result<void> tcp_serve(const TcpServerOptions& opts);

struct TcpInterval {
  double start_s = 0, end_s = 0;
  uint64_t bytes = 0;
  double gbit() const;
};

struct TcpClientOptions {
  std::string target;  // HOST:PORT or unix:PATH of a `netbench tcp --server`
  int streams = 1;
  int64_t duration_ns = 10'000'000'000;
  bool reverse = false;  // the server sends, the client receives
  size_t buffer = 128 * 1024;
  int64_t connect_timeout_ns = 5'000'000'000;
  const std::atomic<bool>* stop = nullptr;
  std::function<void(const TcpInterval&)> on_interval;  // called every second (live output)
};

struct TcpResult {
  std::string target;
  int streams = 1;
  bool reverse = false;
  double duration_s = 0;
  uint64_t bytes_sent = 0;             // by the sending side as far as this side knows
  uint64_t bytes_received = 0;         // counted by the receiving side
  std::vector<TcpInterval> intervals;  // sender side (client sends) or receiver (reverse)
  std::vector<uint64_t> stream_bytes;  // received per stream
  double cpu_user_s = 0, cpu_sys_s = 0;
  double gbit() const;  // received bytes over the duration
};
// Errors: usage 64, unavailable 69 (cannot connect), failure 1 (a stream broke mid-run).
core::Result<TcpResult> tcp_client(const TcpClientOptions& opts);

std::string format_tcp_interval(const TcpInterval& i);
std::string format_tcp_text(const TcpResult& r);
boost::json::object tcp_to_json(const TcpResult& r);

}  // namespace bench
