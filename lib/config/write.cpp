#include "config/write.h"

#include <cstdio>

namespace config {

namespace {

bool bare(std::string_view k) {
  if (k.empty()) return false;
  for (char c : k)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      return false;
  return true;
}

}  // namespace

std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      out += b;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string toml_key(std::string_view k) {
  return bare(k) ? std::string(k) : toml_string(k);
}

std::string toml_array(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + toml_string(v[i]);
  return out + "]";
}

std::string toml_duration_ms(int64_t ms) {
  if (ms % 1000 != 0) return toml_string(std::to_string(ms) + "ms");
  return toml_duration_s(ms / 1000);
}

std::string toml_duration_s(int64_t s) {
  if (s != 0 && s % 86400 == 0) return toml_string(std::to_string(s / 86400) + "d");
  if (s != 0 && s % 3600 == 0) return toml_string(std::to_string(s / 3600) + "h");
  if (s != 0 && s % 60 == 0) return toml_string(std::to_string(s / 60) + "m");
  return toml_string(std::to_string(s) + "s");
}

}  // namespace config
