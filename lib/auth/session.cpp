#include "auth/session.h"

#include <algorithm>
#include <cctype>

#include "core/text.h"
#include "crypto/crypto.h"

namespace auth {

namespace {
bool b64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}
bool all_b64url(std::string_view s) {
  return std::all_of(s.begin(), s.end(), b64url_char);
}
bool has_ctl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}
int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string new_token() {
  return crypto::random_token(32);
}
std::string hash_token(std::string_view token) {
  return crypto::hash_hex(token);
}
bool token_syntax_ok(std::string_view t) {
  return t.size() == kTokenChars && all_b64url(t);
}

std::string cookie_name(std::string_view base, bool tls) {
  return (tls ? "__Host-" : "") + std::string(base);
}

std::string set_cookie(std::string_view name, std::string_view token, int64_t max_age, bool tls) {
  std::string c = std::string(name) + "=" + std::string(token) +
                  "; Path=/; Max-Age=" + std::to_string(std::max<int64_t>(max_age, 0)) +
                  "; HttpOnly; SameSite=Lax";
  if (tls) c += "; Secure";
  return c;
}

std::string clear_cookie(std::string_view name, bool tls) {
  return set_cookie(name, "", 0, tls);
}

namespace {
// Calls f(pair, name, value) for each trimmed ';'-separated piece of a Cookie header; name is
// empty for a piece without '='. Stops when f returns false.
template <class F>
void each_cookie(std::string_view h, F f) {
  for (size_t pos = 0; pos <= h.size();) {
    size_t e = std::min(h.find(';', pos), h.size());
    std::string_view pair = core::trim(h.substr(pos, e - pos)), n, v;
    if (auto eq = pair.find('='); eq != std::string_view::npos) {
      n = core::trim(pair.substr(0, eq));
      v = core::trim(pair.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    }
    if (!f(pair, n, v)) return;
    pos = e + 1;
  }
}
}  // namespace

std::vector<std::string_view> cookie_values(std::string_view header, std::string_view name,
                                            size_t max) {
  std::vector<std::string_view> out;
  if (name.empty()) return out;
  each_cookie(header, [&](std::string_view, std::string_view n, std::string_view v) {
    if (n == name) out.push_back(v);
    return out.size() < max;
  });
  return out;
}

std::string strip_cookie(std::string_view header, std::string_view name) {
  std::string out;
  each_cookie(header, [&](std::string_view pair, std::string_view n, std::string_view) {
    if (!pair.empty() && n != name) {
      if (!out.empty()) out += "; ";
      out += pair;
    }
    return true;
  });
  return out;
}

std::optional<ShareToken> parse_share_token(std::string_view s) {
  auto dot = s.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  auto id = s.substr(0, dot), secret = s.substr(dot + 1);
  if (id.empty() || id.size() > 32 || !all_b64url(id) || !token_syntax_ok(secret))
    return std::nullopt;
  return ShareToken{std::string(id), std::string(secret)};
}

ShareToken new_share_token() {
  // The id is typed on command lines (peerctl link revoke ID): one that starts with '-' would
  // read as an option (1 in 64 of them did), so the first character is a letter or digit.
  std::string id;
  do id = crypto::random_token(8);
  while (!std::isalnum(static_cast<unsigned char>(id[0])));
  return {std::move(id), new_token()};
}

std::string to_string(const ShareToken& t) {
  return t.id + "." + t.secret;
}

core::Result<std::optional<BasicCredentials>> parse_basic(std::string_view h) {
  h = core::trim(h);
  if (h.empty()) return std::optional<BasicCredentials>{};
  auto sp = h.find(' ');
  auto scheme = h.substr(0, sp);
  if (core::to_lower(scheme) != "basic") return std::optional<BasicCredentials>{};
  auto bad = [](const char* why) {
    return core::err(core::Errc::data, std::string("bad Basic credentials: ") + why);
  };
  if (h.size() > 4096) return bad("too long");
  if (sp == std::string_view::npos) return bad("no credentials");
  auto b64 = core::trim(h.substr(sp + 1));
  if (b64.empty()) return bad("no credentials");
  auto raw = core::unbase64(b64);
  if (!raw) return bad("not base64");
  std::string_view text(reinterpret_cast<const char*>(raw->data()), raw->size());
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return bad("no ':' between user and password");
  if (has_ctl(text)) return bad("control character");
  return std::optional<BasicCredentials>{
      BasicCredentials{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))}};
}

std::string basic_challenge(std::string_view realm) {
  std::string r = "Basic realm=\"";
  for (char c : realm) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) continue;
    if (c == '"' || c == '\\') r += '\\';
    r += c;
  }
  return r + "\", charset=\"UTF-8\"";
}

std::string url_encode(std::string_view s) {
  static const char* hexd = "0123456789ABCDEF";
  std::string o;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      o += c;
    } else {
      o += '%';
      o += hexd[u >> 4];
      o += hexd[u & 15];
    }
  }
  return o;
}

std::optional<std::string> url_decode(std::string_view s, bool plus_is_space) {
  std::string o;
  o.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
      if (h < 0 || l < 0) return std::nullopt;
      o += static_cast<char>(h * 16 + l);
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      o += ' ';
    } else {
      o += s[i];
    }
  }
  return o;
}

namespace {
// Calls f(key, value, begin, end) for each "k=v" of the query of `target` (positions in target).
template <class F>
void each_param(std::string_view target, F f) {
  size_t end = std::min(target.find('#'), target.size());
  auto q = target.substr(0, end).find('?');
  if (q == std::string_view::npos) return;
  size_t pos = q + 1;
  while (pos < end) {
    size_t e = target.find('&', pos);
    if (e == std::string_view::npos || e > end) e = end;
    auto kv = target.substr(pos, e - pos);
    auto eq = kv.find('=');
    if (!f(kv.substr(0, eq), eq == std::string_view::npos ? std::string_view{} : kv.substr(eq + 1),
           pos, e))
      return;
    pos = e + 1;
  }
}
}  // namespace

std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  std::optional<std::string> out;
  each_param(target, [&](std::string_view k, std::string_view v, size_t, size_t) {
    if (k != name) return true;
    out = url_decode(v);
    return false;
  });
  return out;
}

std::string strip_query_param(std::string_view target, std::string_view name) {
  auto hash = target.find('#');
  auto q = target.substr(0, std::min(hash, target.size())).find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string kept;
  each_param(target, [&](std::string_view k, std::string_view, size_t b, size_t e) {
    if (k != name && e > b) {
      if (!kept.empty()) kept += '&';
      kept += target.substr(b, e - b);
    }
    return true;
  });
  std::string out(target.substr(0, q));
  if (!kept.empty()) out += "?" + kept;
  if (hash != std::string_view::npos) out += target.substr(hash);
  return out;
}

namespace {
// Percent-decoding that keeps a '%' not followed by two hex digits as it is.
std::string decode_lenient(std::string_view s) {
  std::string o;
  for (size_t i = 0; i < s.size(); i++) {
    int h = i + 2 < s.size() && s[i] == '%' ? hexval(s[i + 1]) : -1;
    int l = h >= 0 ? hexval(s[i + 2]) : -1;
    if (l >= 0) {
      o += static_cast<char>(h * 16 + l);
      i += 2;
    } else {
      o += s[i];
    }
  }
  return o;
}
}  // namespace

std::optional<std::string> safe_return_url(std::string_view url, std::string_view host) {
  if (url.empty() || url.size() > 2048) return std::nullopt;
  // Every decoding layer (the URL as sent, decoded once, decoded twice) must be free of
  // backslashes and control characters, and must not start with "//": browsers and upstreams
  // may decode once more than we do.
  std::string layer(url);
  for (int i = 0; i < 3; i++) {
    if (has_ctl(layer) || layer.find('\\') != std::string::npos) return std::nullopt;
    if (core::starts_with(layer, "//")) return std::nullopt;
    if (i == 2) break;
    layer = decode_lenient(layer);
  }
  std::string_view u = url;
  if (u[0] == '/') return std::string(u);
  // Absolute URL: http or https, exactly this host, no userinfo.
  std::string_view rest;
  auto lower = core::to_lower(u.substr(0, 8));
  if (core::starts_with(lower, "https://"))
    rest = u.substr(8);
  else if (core::starts_with(lower, "http://"))
    rest = u.substr(7);
  else
    return std::nullopt;
  auto slash = rest.find_first_of("/?#");
  auto authority = rest.substr(0, slash);
  if (authority.find('@') != std::string_view::npos ||
      authority.find('%') != std::string_view::npos)
    return std::nullopt;
  if (authority.empty() || core::to_lower(authority) != core::to_lower(host)) return std::nullopt;
  std::string path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (path[0] != '/') path = "/" + path;
  // The path of a same-host URL passes the checks of a relative one ("//" at any decoding).
  return safe_return_url(path, host);
}

}  // namespace auth
