#include "bench/url.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/un.h>

#include <cstring>

#include "core/text.h"

namespace bench {

namespace {

bool parse_port(std::string_view s, uint16_t& port) {
  auto v = core::parse_uint(s);
  if (!v || *v > 65535) return false;
  port = static_cast<uint16_t>(*v);
  return true;
}

}  // namespace

bool is_ip_literal(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

core::Result<Url> parse_url(std::string_view text) {
  Url u;
  u.text = std::string(text);
  auto bad = [&](const std::string& why) {
    return core::Error(core::Errc::usage, "bad URL \"" + u.text + "\": " + why);
  };
  std::string_view rest = text;
  std::string scheme;
  size_t sep = rest.find("://");
  if (sep == std::string_view::npos) return bad("expected http:// or https://");
  scheme = core::to_lower(rest.substr(0, sep));
  if (scheme == "http") {
    u.tls = false;
  } else if (scheme == "https") {
    u.tls = true;
  } else {
    return bad("unsupported scheme \"" + scheme + "\" (use http or https)");
  }
  rest.remove_prefix(sep + 3);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) return bad("user info is not supported");
  if (authority.empty()) return bad("missing host");
  std::string_view host = authority, port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed [ in IPv6 address");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after IPv6 address");
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
  }
  if (host.empty()) return bad("missing host");
  for (char c : host)
    if (static_cast<unsigned char>(c) <= 0x20 || c == '/' || c == '\\' || c == '%')
      return bad("bad character in host");
  u.host = std::string(host);
  u.port = u.tls ? 443 : 80;
  if (!port.empty() && !parse_port(port, u.port)) return bad("bad port");
  if (u.port == 0) return bad("port 0");
  u.host_header = std::string(authority);
  size_t hash = path.find('#');
  if (hash != std::string_view::npos) path = path.substr(0, hash);
  for (char c : path)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("bad character in path");
  u.target = path.empty() ? "/" : std::string(path);
  if (u.target[0] == '?') u.target = "/" + u.target;
  return u;
}

core::Result<HostPort> parse_hostport(std::string_view text) {
  HostPort hp;
  auto bad = [&](const std::string& why) {
    return core::Error(core::Errc::usage, "bad address \"" + std::string(text) + "\": " + why);
  };
  if (text.substr(0, 5) == "unix:") {
    hp.unix_path = std::string(text.substr(5));
    if (hp.unix_path.empty()) return bad("empty socket path");
    if (hp.unix_path.size() >= sizeof(sockaddr_un{}.sun_path)) return bad("socket path too long");
    return hp;
  }
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return bad("expected [IPv6]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("expected HOST:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("write IPv6 addresses as [ADDR]:PORT");
  }
  if (!parse_port(port, hp.port)) return bad("bad port");
  hp.host = host.empty() ? "0.0.0.0" : std::string(host);
  return hp;
}

Address unix_address(const std::string& path) {
  Address a;
  auto* un = reinterpret_cast<sockaddr_un*>(&a.ss);
  un->sun_family = AF_UNIX;
  std::strncpy(un->sun_path, path.c_str(), sizeof(un->sun_path) - 1);
  a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  a.family = AF_UNIX;
  a.text = "unix:" + path;
  return a;
}

std::string address_text(const sockaddr* sa, socklen_t len) {
  char host[INET6_ADDRSTRLEN] = "";
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  if (sa->sa_family == AF_UNIX && len > offsetof(sockaddr_un, sun_path))
    return "unix:" + std::string(reinterpret_cast<const sockaddr_un*>(sa)->sun_path);
  return "?";
}

core::Result<Address> resolve(const HostPort& hp) {
  if (!hp.unix_path.empty()) return unix_address(hp.unix_path);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
  if (is_ip_literal(hp.host)) hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
  addrinfo* res = nullptr;
  std::string port = std::to_string(hp.port);
  int rc = getaddrinfo(hp.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || !res)
    return core::Error(core::Errc::unavailable,
                       "cannot resolve " + hp.host + ": " + gai_strerror(rc));
  Address a;
  std::memcpy(&a.ss, res->ai_addr, res->ai_addrlen);
  a.len = res->ai_addrlen;
  a.family = res->ai_family;
  a.text = address_text(res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return a;
}

}  // namespace bench
