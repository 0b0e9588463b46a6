// model checks: see validate.h.
#include "model/check.h"

#include <cctype>

#include "auth/rules.h"
#include "core/text.h"

namespace model {

namespace {

core::Error bad(std::string_view field, std::string_view v, std::string_view why) {
  std::string shown;
  for (char ch : v.substr(0, 200)) {
    unsigned char u = static_cast<unsigned char>(ch);
    shown += (u < 0x20 || u == 0x7f) ? '?' : ch;
  }
  return core::err(core::Errc::data, std::string(field) + ": '" + shown + "': " + std::string(why));
}

bool is_label(std::string_view l) {
  if (l.empty() || l.size() > 63 || l.front() == '-' || l.back() == '-') return false;
  for (char ch : l)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-')) return false;
  return true;
}

bool is_dns_name(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  if (h.back() == '.') return false;
  size_t start = 0;
  while (true) {
    size_t dot = h.find('.', start);
    std::string_view l = h.substr(start, dot == std::string_view::npos ? h.npos : dot - start);
    if (!is_label(l)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

}  // namespace

core::Result<std::string> check_name(std::string_view field, std::string_view v) {
  if (v.empty()) return bad(field, v, "must not be empty");
  if (v.size() > 64) return bad(field, v, "longer than 64 characters");
  if (v.front() == '.' || v.front() == '-') return bad(field, v, "must not start with '.' or '-'");
  for (char ch : v)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-'))
      return bad(field, v, "not a valid name (use A-Z a-z 0-9 . _ -)");
  return std::string(v);
}

core::Result<std::string> check_hostname(std::string_view field, std::string_view v) {
  std::string h = core::to_lower(v);
  if (h == "*") return h;
  std::string_view rest = h;
  if (core::starts_with(rest, "*.")) rest.remove_prefix(2);
  if (!is_dns_name(rest)) return bad(field, v, "not a valid hostname");
  return h;
}

core::Result<uint16_t> check_port(std::string_view field, std::string_view v) {
  auto n = core::parse_uint(v);
  if (!n || *n < 1 || *n > 65535) return bad(field, v, "not a valid port (1-65535)");
  return static_cast<uint16_t>(*n);
}

core::Result<HostPort> check_host_port(std::string_view field, std::string_view v) {
  std::string_view host, port;
  if (!v.empty() && v.front() == '[') {
    size_t close = v.find(']');
    if (close == v.npos || close + 1 >= v.size() || v[close + 1] != ':')
      return bad(field, v, "not a valid address (want host:port or [v6]:port)");
    host = v.substr(1, close - 1);
    port = v.substr(close + 2);
    auto ip = auth::parse_ip(host);
    if (!ip || ip->v4) return bad(field, v, "not a valid IPv6 address in brackets");
  } else {
    size_t colon = v.rfind(':');
    if (colon == v.npos || colon == 0)
      return bad(field, v, "not a valid address (want host:port or [v6]:port)");
    host = v.substr(0, colon);
    port = v.substr(colon + 1);
    if (host.find(':') != host.npos) return bad(field, v, "IPv6 addresses need brackets");
    if (!auth::parse_ip(host) && !is_dns_name(host)) return bad(field, v, "not a valid host");
  }
  auto n = core::parse_uint(port);
  if (!n || *n < 1 || *n > 65535) return bad(field, v, "not a valid port (1-65535)");
  return HostPort{core::to_lower(host), static_cast<uint16_t>(*n)};
}

core::Result<std::string> check_cidr(std::string_view field, std::string_view v) {
  auto c = auth::parse_cidr(v);
  if (!c) return bad(field, v, "not a valid IP address or CIDR");
  std::string s = auth::to_string(c->net);
  bool bare = v.find('/') == v.npos;
  if (!bare) s += "/" + std::to_string(c->bits);
  return s;
}

core::Result<int64_t> check_duration(std::string_view field, std::string_view v) {
  auto d = core::parse_duration(v);
  if (!d || *d <= 0) return bad(field, v, "not a valid duration (e.g. 90s, 15m, 12h, 30d, 1w)");
  if (*d > int64_t(10) * 366 * 86400) return bad(field, v, "longer than 10 years");
  return *d;
}

core::Result<std::string> check_email(std::string_view field, std::string_view v) {
  size_t at = v.find('@');
  if (v.size() > 254 || at == v.npos || at == 0 || v.find('@', at + 1) != v.npos)
    return bad(field, v, "not a valid email address");
  std::string_view local = v.substr(0, at), domain = v.substr(at + 1);
  if (local.size() > 64) return bad(field, v, "not a valid email address");
  for (char ch : local) {
    unsigned char u = static_cast<unsigned char>(ch);
    if (u <= 0x20 || u >= 0x7f || ch == '"' || ch == '(' || ch == ')' || ch == ',' || ch == ':' ||
        ch == ';' || ch == '<' || ch == '>' || ch == '[' || ch == ']' || ch == '\\')
      return bad(field, v, "not a valid email address");
  }
  if (local.front() == '.' || local.back() == '.' || local.find("..") != local.npos)
    return bad(field, v, "not a valid email address");
  if (!is_dns_name(domain) || domain.find('.') == domain.npos)
    return bad(field, v, "not a valid email address (domain)");
  return core::to_lower(v);
}

core::Result<std::string> check_path_prefix(std::string_view field, std::string_view v) {
  if (v.empty() || v.front() != '/') return bad(field, v, "a path prefix must start with '/'");
  if (v.size() > 1024) return bad(field, v, "longer than 1024 characters");
  for (char ch : v) {
    unsigned char u = static_cast<unsigned char>(ch);
    if (u <= 0x20 || u == 0x7f || ch == '?' || ch == '#' || ch == '%' || ch == '\\')
      return bad(field, v, "not a valid path prefix (no spaces, '?', '#', '%', '\\')");
  }
  if (v.find("//") != v.npos) return bad(field, v, "not a valid path prefix (empty segment)");
  for (const auto& seg : core::split(v, '/'))
    if (seg == "." || seg == "..")
      return bad(field, v, "not a valid path prefix ('.' or '..' segment)");
  return std::string(v);
}

}  // namespace model
