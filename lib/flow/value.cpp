#include "flow/value.h"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

namespace flow {

namespace json = boost::json;

std::optional<Value> parse_json(std::string_view text, std::string* error) {
  boost::system::error_code ec;
  json::parse_options opt;
  opt.max_depth = 512;
  json::value v = json::parse(text, ec, {}, opt);
  if (ec) {
    if (error) *error = ec.message();
    return std::nullopt;
  }
  normalize_numbers(v);
  return v;
}

void normalize_numbers(Value& v) {
  switch (v.kind()) {
    case json::kind::int64:
      v = static_cast<double>(v.get_int64());
      break;
    case json::kind::uint64:
      v = static_cast<double>(v.get_uint64());
      break;
    case json::kind::array:
      for (auto& e : v.get_array()) normalize_numbers(e);
      break;
    case json::kind::object:
      for (auto& kv : v.get_object()) normalize_numbers(kv.value());
      break;
    default:
      break;
  }
}

double as_number(const Value& v) {
  if (v.is_double()) return v.get_double();
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return 0;
}

std::optional<int64_t> as_integer(const Value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    if (v.get_uint64() > (1ull << 53)) return std::nullopt;
    return static_cast<int64_t>(v.get_uint64());
  }
  if (!v.is_double()) return std::nullopt;
  double d = v.get_double();
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9007199254740992.0)
    return std::nullopt;
  return static_cast<int64_t>(d);
}

bool equal(const Value& a, const Value& b) {
  if (is_number(a) && is_number(b)) return as_number(a) == as_number(b);
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::kind::null:
      return true;
    case json::kind::bool_:
      return a.get_bool() == b.get_bool();
    case json::kind::string:
      return a.get_string() == b.get_string();
    case json::kind::array: {
      auto& x = a.get_array();
      auto& y = b.get_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); i++)
        if (!equal(x[i], y[i])) return false;
      return true;
    }
    case json::kind::object: {
      auto& x = a.get_object();
      auto& y = b.get_object();
      if (x.size() != y.size()) return false;
      for (auto& kv : x) {
        auto it = y.find(kv.key());
        if (it == y.end() || !equal(kv.value(), it->value())) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Numbers as Go prints them.

namespace {

// Shortest round-trip digits of |d| (d finite, non-zero): digits "12345" and the decimal point
// position dp such that value = 0.digits * 10^dp.
void shortest_digits(double d, std::string& digits, int& dp) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, std::fabs(d), std::chars_format::scientific);
  std::string_view s(buf, r.ptr - buf);  // "1.2345e+02"
  size_t e = s.find('e');
  digits.clear();
  for (char c : s.substr(0, e))
    if (c != '.') digits.push_back(c);
  int exp = 0;
  std::from_chars(s.data() + e + 1 + (s[e + 1] == '+'), s.data() + s.size(), exp);
  dp = exp + 1;
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
}

// %e with the shortest digits, Go style: 1e+06, 1.5e-07 (at least two exponent digits).
std::string fmt_e(bool neg, const std::string& digits, int dp, bool go_json_clean) {
  std::string out = neg ? "-" : "";
  out += digits[0];
  if (digits.size() > 1) {
    out += '.';
    out += digits.substr(1);
  }
  int exp = dp - 1;
  out += 'e';
  out += exp < 0 ? '-' : '+';
  int a = exp < 0 ? -exp : exp;
  if (a < 10 && !go_json_clean) out += '0';
  out += std::to_string(a);
  return out;
}

std::string fmt_f(bool neg, const std::string& digits, int dp) {
  std::string out = neg ? "-" : "";
  if (dp <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-dp), '0');
    out += digits;
  } else if (static_cast<size_t>(dp) >= digits.size()) {
    out += digits;
    out.append(dp - digits.size(), '0');
  } else {
    out += digits.substr(0, dp);
    out += '.';
    out += digits.substr(dp);
  }
  return out;
}

void append_number(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  if (d == 0) {
    out += std::signbit(d) ? "-0" : "0";
    return;
  }
  std::string digits;
  int dp;
  shortest_digits(d, digits, dp);
  double a = std::fabs(d);
  if (a < 1e-6 || a >= 1e21)
    out += fmt_e(d < 0, digits, dp, true);
  else
    out += fmt_f(d < 0, digits, dp);
}

void append_string(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

std::vector<const json::key_value_pair*> sorted(const Object& o) {
  std::vector<const json::key_value_pair*> v;
  v.reserve(o.size());
  for (auto& kv : o) v.push_back(&kv);
  std::sort(v.begin(), v.end(), [](auto* a, auto* b) {
    return std::string_view(a->key()) < std::string_view(b->key());
  });
  return v;
}

void append_pretty(std::string& out, const Value& v, int indent) {
  auto nl = [&](int n) {
    out += '\n';
    out.append(static_cast<size_t>(n) * 2, ' ');
  };
  if (v.is_array() && !v.get_array().empty()) {
    out += '[';
    bool first = true;
    for (auto& e : v.get_array()) {
      if (!first) out += ',';
      first = false;
      nl(indent + 1);
      append_pretty(out, e, indent + 1);
    }
    nl(indent);
    out += ']';
  } else if (v.is_object() && !v.get_object().empty()) {
    out += '{';
    bool first = true;
    for (auto* kv : sorted(v.get_object())) {
      if (!first) out += ',';
      first = false;
      nl(indent + 1);
      append_string(out, kv->key());
      out += ": ";
      append_pretty(out, kv->value(), indent + 1);
    }
    nl(indent);
    out += '}';
  } else {
    append_json(out, v);
  }
}

}  // namespace

void append_json(std::string& out, const Value& v) {
  switch (v.kind()) {
    case json::kind::null:
      out += "null";
      break;
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      break;
    case json::kind::int64:
      out += std::to_string(v.get_int64());
      break;
    case json::kind::uint64:
      out += std::to_string(v.get_uint64());
      break;
    case json::kind::double_:
      append_number(out, v.get_double());
      break;
    case json::kind::string:
      append_string(out, v.get_string());
      break;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append_json(out, e);
      }
      out += ']';
      break;
    }
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (auto* kv : sorted(v.get_object())) {
        if (!first) out += ',';
        first = false;
        append_string(out, kv->key());
        out += ':';
        append_json(out, kv->value());
      }
      out += '}';
      break;
    }
  }
}

std::string to_json(const Value& v) {
  std::string out;
  append_json(out, v);
  return out;
}

std::string to_json_pretty(const Value& v) {
  std::string out;
  append_pretty(out, v, 0);
  return out;
}

std::string go_float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  if (d == 0) return std::signbit(d) ? "-0" : "0";
  std::string digits;
  int dp;
  shortest_digits(d, digits, dp);
  // strconv 'g' with the shortest precision decides with precision 6: 1e+06, 123456, 1e-05.
  int exp = dp - 1;
  if (exp < -4 || exp >= 6) return fmt_e(d < 0, digits, dp, false);
  return fmt_f(d < 0, digits, dp);
}

std::string go_sprint(const Value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "<nil>";
    case json::kind::bool_:
      return v.get_bool() ? "true" : "false";
    case json::kind::int64:
      return std::to_string(v.get_int64());
    case json::kind::uint64:
      return std::to_string(v.get_uint64());
    case json::kind::double_:
      return go_float(v.get_double());
    case json::kind::string:
      return std::string(v.get_string());
    case json::kind::array: {
      std::string out = "[";
      bool first = true;
      for (auto& e : v.get_array()) {
        if (!first) out += ' ';
        first = false;
        out += go_sprint(e);
      }
      return out + "]";
    }
    case json::kind::object: {
      std::string out = "map[";
      bool first = true;
      for (auto* kv : sorted(v.get_object())) {
        if (!first) out += ' ';
        first = false;
        out += std::string(kv->key()) + ":" + go_sprint(kv->value());
      }
      return out + "]";
    }
  }
  return "";
}

std::string go_type(const Value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "<nil>";
    case json::kind::bool_:
      return "bool";
    case json::kind::int64:
    case json::kind::uint64:
      return "int";
    case json::kind::double_:
      return "float64";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "[]interface {}";
    case json::kind::object:
      return "map[string]interface {}";
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// Durations.

std::optional<int64_t> parse_go_duration(std::string_view s) {
  std::string_view orig = s;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) return std::nullopt;
  long double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    long double num = 0;
    bool digits = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      num = num * 10 + (s[i] - '0');
      i++;
      digits = true;
    }
    if (i < s.size() && s[i] == '.') {
      i++;
      long double scale = 0.1L;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        num += (s[i] - '0') * scale;
        scale /= 10;
        i++;
        digits = true;
      }
    }
    if (!digits) return std::nullopt;
    size_t u = i;
    while (u < s.size() && !(s[u] >= '0' && s[u] <= '9') && s[u] != '.') u++;
    std::string_view unit = s.substr(i, u - i);
    long double mult;
    if (unit == "ns")
      mult = 1;
    else if (unit == "us" || unit == "\xc2\xb5s" || unit == "\xce\xbcs")
      mult = 1e3L;
    else if (unit == "ms")
      mult = 1e6L;
    else if (unit == "s")
      mult = 1e9L;
    else if (unit == "m")
      mult = 60e9L;
    else if (unit == "h")
      mult = 3600e9L;
    else
      return std::nullopt;
    total += num * mult;
    if (total > 9.2e18L) return std::nullopt;
    s.remove_prefix(u);
  }
  (void)orig;
  auto ns = static_cast<int64_t>(total);
  return neg ? -ns : ns;
}

std::optional<int64_t> parse_flow_duration(std::string_view s) {
  if (auto d = parse_go_duration(s)) return d;
  // strconv.Atoi: optional sign, decimal digits only.
  std::string_view t = s;
  bool neg = false;
  if (!t.empty() && (t[0] == '+' || t[0] == '-')) {
    neg = t[0] == '-';
    t.remove_prefix(1);
  }
  if (t.empty() || t.size() > 15) return std::nullopt;
  int64_t ms = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return std::nullopt;
    ms = ms * 10 + (c - '0');
  }
  return (neg ? -ms : ms) * 1000000;
}

namespace {
// Appends the fraction of v / 10^prec with trailing zeros removed (Go's fmtFrac).
void frac(std::string& out, uint64_t& v, int prec) {
  char buf[32];
  int n = 0;
  bool print = false;
  for (int i = 0; i < prec; i++) {
    int digit = static_cast<int>(v % 10);
    print = print || digit != 0;
    if (print) buf[n++] = static_cast<char>('0' + digit);
    v /= 10;
  }
  if (print) {
    out += '.';
    for (int i = n - 1; i >= 0; i--) out += buf[i];
  }
}
}  // namespace

std::string go_duration(int64_t d) {
  if (d == 0) return "0s";
  bool neg = d < 0;
  uint64_t u = neg ? static_cast<uint64_t>(-(d + 1)) + 1 : static_cast<uint64_t>(d);
  std::string out;
  if (u < 1000000000ull) {
    // Sub-second: ns, µs or ms with a fraction.
    int prec;
    const char* unit;
    if (u < 1000) {
      out = std::to_string(u) + "ns";
      return neg ? "-" + out : out;
    } else if (u < 1000000) {
      prec = 3;
      unit = "\xc2\xb5s";
    } else {
      prec = 6;
      unit = "ms";
    }
    std::string f;
    frac(f, u, prec);
    out = std::to_string(u) + f + unit;
  } else {
    std::string f;
    frac(f, u, 9);
    uint64_t secs = u % 60;
    u /= 60;
    out = std::to_string(secs) + f + "s";
    if (u > 0) {
      uint64_t mins = u % 60;
      u /= 60;
      out = std::to_string(mins) + "m" + out;
      if (u > 0) out = std::to_string(u) + "h" + out;
    }
  }
  return neg ? "-" + out : out;
}

// ---------------------------------------------------------------------------------------------
// Times.

namespace {
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool num(std::string_view s, size_t pos, size_t len, int& out) {
  if (pos + len > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + len; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}
}  // namespace

std::string rfc3339_utc(int64_t ns) {
  int64_t secs = ns >= 0 ? ns / 1000000000 : -((-ns + 999999999) / 1000000000);
  int64_t sub = ns - secs * 1000000000;
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out = buf;
  if (sub > 0) {
    char f[24];
    std::snprintf(f, sizeof f, "%09lld", static_cast<long long>(sub));
    std::string fs = f;
    while (!fs.empty() && fs.back() == '0') fs.pop_back();
    out += "." + fs;
  }
  return out + "Z";
}

std::optional<int64_t> parse_time(std::string_view s) {
  int Y, M, D, h = 0, m = 0, sec = 0;
  if (!num(s, 0, 4, Y) || s.size() < 10 || s[4] != '-' || !num(s, 5, 2, M) || s[7] != '-' ||
      !num(s, 8, 2, D))
    return std::nullopt;
  if (M < 1 || M > 12 || D < 1 || D > 31) return std::nullopt;
  int64_t frac_ns = 0, offset = 0;
  size_t p = 10;
  if (p < s.size()) {
    if (s[p] != 'T' && s[p] != 't' && s[p] != ' ') return std::nullopt;
    if (!num(s, p + 1, 2, h) || s.size() < p + 9 || s[p + 3] != ':' || !num(s, p + 4, 2, m) ||
        s[p + 6] != ':' || !num(s, p + 7, 2, sec))
      return std::nullopt;
    if (h > 23 || m > 59 || sec > 60) return std::nullopt;
    p += 9;
    if (p < s.size() && s[p] == '.') {
      p++;
      int64_t scale = 100000000;
      size_t start = p;
      while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
        frac_ns += (s[p] - '0') * scale;
        scale /= 10;
        p++;
      }
      if (p == start) return std::nullopt;
    }
    if (p < s.size()) {
      if (s[p] == 'Z' || s[p] == 'z') {
        p++;
      } else if (s[p] == '+' || s[p] == '-') {
        int oh, om;
        if (!num(s, p + 1, 2, oh) || s.size() < p + 6 || s[p + 3] != ':' || !num(s, p + 4, 2, om))
          return std::nullopt;
        offset = (oh * 3600 + om * 60) * (s[p] == '-' ? -1 : 1);
        p += 6;
      } else {
        return std::nullopt;
      }
    }
    if (p != s.size()) return std::nullopt;
  }
  int64_t days = days_from_civil(Y, static_cast<unsigned>(M), static_cast<unsigned>(D));
  int64_t t = days * 86400 + h * 3600 + m * 60 + sec - offset;
  return t * 1000000000 + frac_ns;
}

}  // namespace flow
