#include "flow/text.h"

namespace flow::text {

namespace {

// Decodes one UTF-8 sequence at s[i] (invalid bytes count as one character U+FFFD).
char32_t decode(std::string_view s, size_t& i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  auto cont = [&](size_t k) {
    return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
  };
  if (c < 0x80) {
    i += 1;
    return c;
  }
  if ((c & 0xE0) == 0xC0 && cont(1)) {
    char32_t r = ((c & 0x1F) << 6) | (s[i + 1] & 0x3F);
    i += 2;
    return r;
  }
  if ((c & 0xF0) == 0xE0 && cont(1) && cont(2)) {
    char32_t r = ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
    i += 3;
    return r;
  }
  if ((c & 0xF8) == 0xF0 && cont(1) && cont(2) && cont(3)) {
    char32_t r = ((c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) |
                 (s[i + 3] & 0x3F);
    i += 4;
    return r;
  }
  i += 1;
  return 0xFFFD;
}

void encode(std::string& out, char32_t r) {
  if (r < 0x80) {
    out += static_cast<char>(r);
  } else if (r < 0x800) {
    out += static_cast<char>(0xC0 | (r >> 6));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else if (r < 0x10000) {
    out += static_cast<char>(0xE0 | (r >> 12));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (r >> 18));
    out += static_cast<char>(0x80 | ((r >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  }
}

bool is_upper(char32_t r) {
  return (r >= 'A' && r <= 'Z') || (r >= 0xC0 && r <= 0xDE && r != 0xD7);
}
bool is_lower(char32_t r) {
  return (r >= 'a' && r <= 'z') || (r >= 0xDF && r <= 0xFF && r != 0xF7);
}
bool is_letter(char32_t r) {
  return is_upper(r) || is_lower(r) || r > 0xFF;
}
bool is_digit(char32_t r) {
  return r >= '0' && r <= '9';
}
char32_t to_upper(char32_t r) {
  if (r >= 'a' && r <= 'z') return r - 32;
  if (r >= 0xE0 && r <= 0xFE && r != 0xF7) return r - 32;
  if (r == 0xFF) return 0x178;
  return r;
}
char32_t to_lower(char32_t r) {
  if (r >= 'A' && r <= 'Z') return r + 32;
  if (r >= 0xC0 && r <= 0xDE && r != 0xD7) return r + 32;
  return r;
}
bool is_space(char32_t r) {
  return r == ' ' || (r >= '\t' && r <= '\r') || r == 0x85 || r == 0xA0;
}

template <class F>
std::string map_runes(std::string_view s, F f) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) encode(out, f(decode(s, i)));
  return out;
}

}  // namespace

std::string upper(std::string_view s) {
  return map_runes(s, to_upper);
}
std::string lower(std::string_view s) {
  return map_runes(s, to_lower);
}

std::string inverse(std::string_view s) {
  return map_runes(s, [](char32_t r) {
    if (is_upper(r)) return to_lower(r);
    if (is_lower(r)) return to_upper(r);
    return r;
  });
}

std::string title(std::string_view s) {
  std::string low = lower(s), out;
  out.reserve(low.size());
  char32_t prev = ' ';
  size_t i = 0;
  while (i < low.size()) {
    char32_t r = decode(low, i);
    bool in_word = is_letter(prev) || is_digit(prev) || prev == '\'' || prev == '_' ||
                   ((prev == '.' || prev == ':') && is_letter(r));
    encode(out, (!in_word && is_letter(r)) ? to_upper(r) : r);
    prev = r;
  }
  return out;
}

std::vector<std::string> fields(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  size_t i = 0;
  while (i < s.size()) {
    size_t b = i;
    char32_t r = decode(s, i);
    if (is_space(r)) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.append(s.substr(b, i - b));
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string camel(std::string_view s) {
  auto words = fields(s);
  if (words.empty()) return std::string(s);
  std::string out = lower(words[0]);
  for (size_t i = 1; i < words.size(); i++) {
    const std::string& w = words[i];
    out += upper(w.substr(0, 1));
    out += lower(std::string_view(w).substr(1));
  }
  return out;
}

std::string trim_space(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(static_cast<unsigned char>(s[b]))) b++;
  while (e > b && is_space(static_cast<unsigned char>(s[e - 1]))) e--;
  return std::string(s.substr(b, e - b));
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  std::string out;
  if (from.empty()) {
    out.append(to);
    size_t i = 0;
    while (i < s.size()) {
      size_t b = i;
      decode(s, i);
      out.append(s, b, i - b);
      out.append(to);
    }
    return out;
  }
  size_t pos = 0;
  for (;;) {
    size_t j = s.find(from, pos);
    if (j == std::string::npos) break;
    out.append(s, pos, j - pos);
    out.append(to);
    pos = j + from.size();
  }
  out.append(s, pos, std::string::npos);
  return out;
}

std::vector<std::string> go_split(std::string_view s, std::string_view sep) {
  std::vector<std::string> out;
  if (sep.empty()) {
    size_t i = 0;
    while (i < s.size()) {
      size_t b = i;
      decode(s, i);
      out.emplace_back(s.substr(b, i - b));
    }
    return out;
  }
  size_t pos = 0;
  for (;;) {
    size_t j = s.find(sep, pos);
    if (j == std::string_view::npos) break;
    out.emplace_back(s.substr(pos, j - pos));
    pos = j + sep.size();
  }
  out.emplace_back(s.substr(pos));
  return out;
}

}  // namespace flow::text
