// log — spdlog set-up shared by every program: one stderr sink, one named logger per capability,
// level from -q/-v, colour only on a TTY and never with NO_COLOR. Thread-safe after init().
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace wlog {  // not "log": that would clash with ::log from <cmath>

// level: 0 = info (default), >0 more (debug, trace), <0 less (warn, error, off).
void init(int level, bool color);
// The logger for a capability ("store", "pki", "tunnel", …); created on first use.
std::shared_ptr<spdlog::logger> get(const std::string& name);

}  // namespace wlog
