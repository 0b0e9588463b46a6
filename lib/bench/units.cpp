#include "bench/units.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace bench {

namespace {

// Splits "12.5ms" into 12.5 and "ms". Rejects signs, exponents, empty numbers and junk.
bool split_number(std::string_view s, double& v, std::string_view& unit) {
  size_t i = 0;
  bool digits = false, dot = false;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || (s[i] == '.' && !dot))) {
    if (s[i] == '.')
      dot = true;
    else
      digits = true;
    ++i;
  }
  if (!digits) return false;
  auto r = std::from_chars(s.data(), s.data() + i, v);
  if (r.ec != std::errc() || r.ptr != s.data() + i || !std::isfinite(v)) return false;
  unit = s.substr(i);
  return true;
}

core::Result<int64_t> nanos(std::string_view s, bool strict) {
  double v = 0;
  std::string_view unit;
  auto bad = [&] {
    return core::Error(core::Errc::usage,
                       "bad duration \"" + std::string(s) + "\" (use e.g. 250ms, 1.5s, 100us)");
  };
  if (!split_number(s, v, unit)) return bad();
  double mult;
  if (unit.empty()) {
    if (strict) return bad();
    mult = 1e9;
  } else if (unit == "ns") {
    mult = 1;
  } else if (unit == "us" || unit == "\xC2\xB5s") {
    mult = 1e3;
  } else if (unit == "ms") {
    mult = 1e6;
  } else if (unit == "s") {
    mult = 1e9;
  } else if (unit == "m" || unit == "min") {
    mult = 60e9;
  } else if (unit == "h") {
    mult = 3600e9;
  } else {
    return bad();
  }
  double ns = v * mult;
  if (ns > 9.0e18) return bad();
  return static_cast<int64_t>(std::llround(ns));
}

}  // namespace

core::Result<int64_t> parse_nanos(std::string_view s) {
  return nanos(s, false);
}

core::Result<int64_t> parse_nanos_strict(std::string_view s) {
  return nanos(s, true);
}

core::Result<uint64_t> parse_size(std::string_view s) {
  double v = 0;
  std::string_view unit;
  auto bad = [&] {
    return core::Error(core::Errc::usage,
                       "bad size \"" + std::string(s) + "\" (use e.g. 512, 16k, 1M)");
  };
  if (!split_number(s, v, unit)) return bad();
  double mult;
  if (unit.empty() || unit == "B")
    mult = 1;
  else if (unit == "k" || unit == "K" || unit == "KiB" || unit == "KB")
    mult = 1024.0;
  else if (unit == "M" || unit == "MiB" || unit == "MB")
    mult = 1024.0 * 1024;
  else if (unit == "G" || unit == "GiB" || unit == "GB")
    mult = 1024.0 * 1024 * 1024;
  else
    return bad();
  double b = v * mult;
  if (b > 1.0e18 || b != std::floor(b)) return bad();
  return static_cast<uint64_t>(b);
}

core::Result<double> parse_number(std::string_view s) {
  double v = 0;
  std::string_view unit;
  if (!split_number(s, v, unit) || !(unit.empty() || unit == "k" || unit == "M"))
    return core::Error(core::Errc::usage, "bad number \"" + std::string(s) + "\"");
  if (unit == "k") v *= 1e3;
  if (unit == "M") v *= 1e6;
  return v;
}

std::string format_fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string format_nanos(double ns) {
  struct U {
    double div;
    const char* name;
  };
  static const U units[] = {{1e9, "s"}, {1e6, "ms"}, {1e3, "us"}, {1, "ns"}};
  for (const U& u : units) {
    double x = ns / u.div;
    if (x >= 1.0 || u.div == 1) {
      int dec = x >= 100 ? 0 : x >= 10 ? 1 : 2;
      if (u.div == 1) dec = 0;
      return format_fixed(x, dec) + u.name;
    }
  }
  return "0ns";
}

std::string format_count(uint64_t n) {
  std::string d = std::to_string(n);
  std::string out;
  int k = static_cast<int>(d.size() % 3);
  for (size_t i = 0; i < d.size(); ++i) {
    if (i && static_cast<int>(i % 3) == k) out.push_back(',');
    out.push_back(d[i]);
  }
  return out;
}

std::string format_rate(double v) {
  if (!(v >= 0) || v > 1e18) return format_fixed(v, 1);
  auto tenths = static_cast<uint64_t>(std::llround(v * 10));
  return format_count(tenths / 10) + "." + std::to_string(tenths % 10);
}

std::string format_bytes(double b) {
  static const char* names[] = {"B", "kB", "MB", "GB", "TB"};
  int i = 0;
  while (b >= 1000 && i < 4) {
    b /= 1000;
    ++i;
  }
  return format_fixed(b, i == 0 ? 0 : 2) + " " + names[i];
}

}  // namespace bench
