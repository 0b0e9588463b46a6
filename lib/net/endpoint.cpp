#include "net/endpoint.h"

#include <cctype>

#include "core/text.h"

namespace net {

std::string HostPort::str() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

core::Result<HostPort> parse_host_port(std::string_view s) {
  auto bad = [&](const char* why) {
    return core::err(core::Errc::data, "bad address \"" + std::string(s) + "\": " + why);
  };
  HostPort hp;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos) return bad("missing ']'");
    hp.host = std::string(s.substr(1, close - 1));
    if (hp.host.find(':') == std::string::npos) return bad("brackets are for IPv6 addresses");
    for (char c : hp.host)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '.' || c == '%'))
        return bad("invalid character in IPv6 address");
    if (close + 1 >= s.size() || s[close + 1] != ':') return bad("expected host:port");
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return bad("expected host:port");
    hp.host = std::string(s.substr(0, colon));
    if (hp.host.find(':') != std::string::npos)
      return bad("IPv6 addresses need brackets, e.g. [::1]:443");
    for (char c : hp.host)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
            c == '*'))
        return bad("invalid character in host");
    port = s.substr(colon + 1);
  }
  if (hp.host.empty()) return bad("missing host");
  if (hp.host.size() > 253) return bad("host too long");
  auto p = core::parse_uint(port);
  if (!p || *p > 65535) return bad("port must be 0..65535");
  hp.port = static_cast<uint16_t>(*p);
  return hp;
}

}  // namespace net
