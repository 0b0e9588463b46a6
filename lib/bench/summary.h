// bench::Summary — the outcome of one HTTP load run: counts, the merged latency histogram,
// status codes, errors by kind, schedule lag (open loop) and a per-second timeline. Built by
// the load engine from per-thread parts after the threads join; read by report.h and the
// threshold checks. Plain data, no I/O.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench/histogram.h"

namespace bench {

enum class ErrorKind : int { connect, tls, timeout, reset, closed, bad_response };
inline constexpr int kErrorKinds = 6;
const char* error_kind_name(ErrorKind k);

// One second of the measured window (index = seconds since the window opened).
struct Second {
  uint64_t requests = 0;     // responses completed in this second
  uint64_t errors = 0;       // transport errors plus responses outside 200-399
  uint64_t bytes = 0;        // bytes read
  Histogram latency{6, 42};  // 1.6 % precision is plenty for a timeline
};

struct Summary {
  // What was asked for.
  std::vector<std::string> urls;
  bool open_loop = false;
  double rate = 0;  // requests/s asked for (open loop)
  int threads = 1;
  int connections = 1;
  bool keepalive = true;
  double warmup_s = 0;

  // What happened in the measured window.
  double duration_s = 0;
  uint64_t requests = 0;  // complete responses, any status
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  uint64_t connects = 0;        // connections opened (incl. TLS handshakes) in the window
  uint64_t tls_handshakes = 0;  // completed TLS handshakes in the window
  uint64_t tls_resumed = 0;     // of which resumed a session
  Histogram latency;            // nanoseconds; open loop: from the intended send time
  std::map<int, uint64_t> status;
  std::array<uint64_t, kErrorKinds> errors{};
  std::string first_error;  // e.g. "connect 127.0.0.1:1: Connection refused"
  uint64_t behind = 0;      // open loop: requests sent > 1 ms after their scheduled time
  int64_t max_lag_ns = 0;   // open loop: largest send lag
  uint64_t scheduled = 0;   // open loop: requests due in the window (sent or not)
  uint64_t unfinished = 0;  // requests still in flight when the window closed
  double cpu_user_s = 0, cpu_sys_s = 0;  // this process over the whole run
  std::vector<Second> timeline;

  uint64_t transport_errors() const;
  uint64_t bad_status() const;  // responses with a status outside 200-399
  uint64_t error_total() const { return transport_errors() + bad_status(); }
  // Error share of all attempts (responses + transport errors), 0..1.
  double error_rate() const;
  double rps() const { return duration_s > 0 ? static_cast<double>(requests) / duration_s : 0; }
  double cpu_percent() const;

  // Folds another part (a thread's) into this one; timelines are added second by second.
  void merge(const Summary& part);
};

}  // namespace bench
