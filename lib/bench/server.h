// bench::serve — `netbench serve`, a fast HTTP/1.1 origin for benchmarks, demos and tests:
// a fixed reply, a reply of N bytes, echo, a per-request delay, chunked bodies, and a whole-
// server stall window (to test coordinated-omission correction). One epoll loop per thread,
// each with its own SO_REUSEPORT listener (Unix sockets share one listener). Runs until the
// stop flag is set or the duration ends.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"

namespace bench {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT, [V6]:PORT or unix:/path; port 0 = any
  int threads = 1;
  std::string reply = "hello\n";  // the body, unless size >= 0 or echo
  int64_t size = -1;              // reply with this many bytes
  bool echo = false;              // reply with the request body
  int64_t delay_ns = 0;           // answer each request this much later (non-blocking)
  bool chunked = false;
  uint64_t chunk_size = 16 * 1024;
  int status = 200;
  std::vector<std::string> headers;  // extra response headers "Name: value"
  bool close = false;                // Connection: close after every response
  int64_t stall_ns = 0;              // every stall_every_ns the whole server pauses stall_ns
  int64_t stall_every_ns = 0;
  int64_t duration_ns = 0;  // 0 = until stopped
  const std::atomic<bool>* stop = nullptr;
  // Called once every listener is bound, with the address ("127.0.0.1:40123", "unix:/x").
  std::function<void(const std::string&)> on_listening;
};

struct ServeStats {
  uint64_t connections = 0;
  uint64_t requests = 0;
  uint64_t bad_requests = 0;
};

// Setup errors: usage 64 (bad options), unavailable 69 (cannot listen), noperm 77.
core::Result<ServeStats> serve(const ServeOptions& opts);

}  // namespace bench
