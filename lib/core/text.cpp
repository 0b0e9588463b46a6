#include "core/text.h"

#include <sodium.h>

#include <cctype>
#include <charconv>

namespace core {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string> split(std::string_view s, char sep, bool skip_empty) {
  std::vector<std::string> out;
  size_t i = 0;
  for (;;) {
    size_t j = s.find(sep, i);
    std::string_view part = s.substr(i, j == std::string_view::npos ? s.npos : j - i);
    if (!(skip_empty && part.empty())) out.emplace_back(part);
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  return out;
}

bool starts_with(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

std::string to_lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

std::string hex(std::span<const uint8_t> b, bool upper) {
  static const char* lo = "0123456789abcdef";
  static const char* up = "0123456789ABCDEF";
  const char* d = upper ? up : lo;
  std::string o;
  o.reserve(b.size() * 2);
  for (uint8_t c : b) {
    o.push_back(d[c >> 4]);
    o.push_back(d[c & 15]);
  }
  return o;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::vector<uint8_t>> unhex(std::string_view s) {
  if (s.size() % 2) return std::nullopt;
  std::vector<uint8_t> o(s.size() / 2);
  for (size_t i = 0; i < o.size(); i++) {
    int a = hexval(s[2 * i]), b = hexval(s[2 * i + 1]);
    if (a < 0 || b < 0) return std::nullopt;
    o[i] = static_cast<uint8_t>(a << 4 | b);
  }
  return o;
}

static std::string b64(std::span<const uint8_t> b, int variant) {
  std::string o(sodium_base64_encoded_len(b.size(), variant), '\0');
  sodium_bin2base64(o.data(), o.size(), b.data(), b.size(), variant);
  o.resize(std::char_traits<char>::length(o.c_str()));
  return o;
}

static std::optional<std::vector<uint8_t>> unb64(std::string_view s, int variant) {
  std::vector<uint8_t> o(s.size() * 3 / 4 + 3);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(o.data(), o.size(), s.data(), s.size(), nullptr, &len, &end, variant) != 0)
    return std::nullopt;
  if (end != s.data() + s.size()) return std::nullopt;
  o.resize(len);
  return o;
}

std::string base64(std::span<const uint8_t> b) {
  return b64(b, sodium_base64_VARIANT_ORIGINAL);
}
std::string base64url(std::span<const uint8_t> b) {
  return b64(b, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}
std::optional<std::vector<uint8_t>> unbase64(std::string_view s) {
  return unb64(s, sodium_base64_VARIANT_ORIGINAL);
}
std::optional<std::vector<uint8_t>> unbase64url(std::string_view s) {
  return unb64(s, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

std::string rfc3339(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::time_t> parse_rfc3339(std::string_view s) {
  std::tm tm{};
  std::string str(s);
  const char* end = strptime(str.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!end || *end) return std::nullopt;
  return timegm(&tm);
}

std::optional<uint64_t> parse_uint(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

Result<int64_t> parse_duration(std::string_view s) {
  std::string_view num = s;
  int64_t mult = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 's':
        mult = 1;
        num.remove_suffix(1);
        break;
      case 'm':
        mult = 60;
        num.remove_suffix(1);
        break;
      case 'h':
        mult = 3600;
        num.remove_suffix(1);
        break;
      case 'd':
        mult = 86400;
        num.remove_suffix(1);
        break;
      case 'w':
        mult = 7 * 86400;
        num.remove_suffix(1);
        break;
      case 'y':
        mult = 365 * 86400;
        num.remove_suffix(1);
        break;
      default:
        break;
    }
  }
  auto v = parse_uint(num);
  if (!v || *v > (uint64_t{1} << 40))
    return Error(Errc::usage,
                 "bad duration \"" + std::string(s) + "\" (use e.g. 30s, 15m, 12h, 90d)");
  return static_cast<int64_t>(*v) * mult;
}

}  // namespace core
