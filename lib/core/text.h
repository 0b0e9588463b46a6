// Small text helpers: split/trim, hex, base64 (standard and URL-safe), RFC 3339 time,
// durations like "90d" or "15m". Pure functions.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace core {

std::string_view trim(std::string_view s);
std::vector<std::string> split(std::string_view s, char sep, bool skip_empty = true);
bool starts_with(std::string_view s, std::string_view p);
std::string to_lower(std::string_view s);

std::string hex(std::span<const uint8_t> b, bool upper = false);
std::optional<std::vector<uint8_t>> unhex(std::string_view s);

std::string base64(std::span<const uint8_t> b);
std::string base64url(std::span<const uint8_t> b);  // no padding
std::optional<std::vector<uint8_t>> unbase64(std::string_view s);
std::optional<std::vector<uint8_t>> unbase64url(std::string_view s);

inline std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// "2026-11-23T02:00:00Z"
std::string rfc3339(std::time_t t);
std::optional<std::time_t> parse_rfc3339(std::string_view s);

// "30s", "15m", "12h", "90d", "2w", or plain seconds. -> seconds.
Result<int64_t> parse_duration(std::string_view s);

// Parses an unsigned decimal integer exactly (no sign, no junk).
std::optional<uint64_t> parse_uint(std::string_view s);

}  // namespace core
