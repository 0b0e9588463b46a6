// Small shared helpers for netbench's I/O loops: the monotonic clock in nanoseconds, timespec
// conversion, and the check for a "Name: value" header line. Header-only, stateless.
#pragma once

#include <sys/resource.h>
#include <time.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace bench {

inline int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline timespec to_timespec(int64_t ns) {
  if (ns < 0) ns = 0;
  return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

// Load generators and origins hold many sockets: lift the soft descriptor limit to the hard one.
inline void raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// "Name: value" with a token name and no CR/LF. Empty string when fine, else the reason.
inline std::string header_line_error(const std::string& h) {
  size_t colon = h.find(':');
  if (colon == std::string::npos || colon == 0 || h.find_first_of("\r\n") != std::string::npos)
    return "bad header \"" + h + "\": expected \"Name: value\"";
  for (size_t i = 0; i < colon; ++i) {
    char c = h[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c != 0 && std::strchr("!#$%&'*+-.^_`|~", c));
    if (!ok) return "bad header name in \"" + h + "\"";
  }
  return "";
}

}  // namespace bench
