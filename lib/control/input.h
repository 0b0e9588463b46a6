// control input — what the peerctl nouns share between parsing options and writing the store:
// times given as a duration ago or RFC 3339, and small formatting helpers. Pure functions, no
// I/O (secrets from the terminal and exit codes are peerctl's: cmd/peerctl/io.cpp).
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace control {

// "15m" (that long before `now`), RFC 3339, or unix seconds -> unix seconds.
core::Result<int64_t> parse_time(std::string_view field, std::string_view v, std::time_t now);

// "2026-11-23T02:00:00Z", or "-" for 0 / never.
std::string time_or(int64_t t, const char* none = "-");
std::string join(const std::vector<std::string>& v, std::string_view sep = ",");
// "30d", "12h", "15m", "90s": the largest unit that divides exactly.
std::string format_duration(int64_t seconds);

}  // namespace control
