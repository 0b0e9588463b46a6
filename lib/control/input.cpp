// control input: see input.h.
#include "control/input.h"

#include "core/text.h"
#include "model/check.h"

namespace control {

core::Result<int64_t> parse_time(std::string_view field, std::string_view v, std::time_t now) {
  if (auto t = core::parse_rfc3339(v)) return int64_t(*t);
  if (!v.empty() && (v.back() < '0' || v.back() > '9')) {
    WARREN_TRY(d, model::check_duration(field, v));
    return int64_t(now) - d;
  }
  if (auto n = core::parse_uint(v)) return int64_t(*n);
  return core::err(core::Errc::data,
                   std::string(field) + ": '" + std::string(v) +
                       "': not a time (a duration ago like 15m, RFC 3339, or unix seconds)");
}

std::string time_or(int64_t t, const char* none) {
  return t ? core::rfc3339(std::time_t(t)) : std::string(none);
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

std::string format_duration(int64_t s) {
  if (s > 0 && s % (7 * 86400) == 0) return std::to_string(s / (7 * 86400)) + "w";
  if (s > 0 && s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s > 0 && s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s > 0 && s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace control
