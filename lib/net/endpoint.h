// net::HostPort — a "host:port" / "[v6]:port" address as text, parsed without Asio so config
// loaders and CLIs can validate addresses cheaply. Plain value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "core/result.h"

namespace net {

struct HostPort {
  std::string host;  // name, IPv4 or IPv6 literal (without brackets)
  uint16_t port = 0;

  // Not an aggregate on purpose: GCC 12 corrupts a coroutine's by-value parameter of aggregate
  // type when the argument is a braced prvalue (connect_tcp(HostPort{"h", 1}, ...) freed a
  // pointer into the caller's frame under ASan). A user-declared constructor avoids it.
  HostPort() = default;
  HostPort(std::string h, uint16_t p) : host(std::move(h)), port(p) {}

  // "example.com:443", "10.0.0.1:80", "[::1]:8080"
  std::string str() const;
  bool operator==(const HostPort&) const = default;
};

// Parses "host:port", "[v6]:port". IPv6 literals need brackets; port 0..65535 (0 = any, for
// listening). Errors are Errc::data: bad address "x": why.
core::Result<HostPort> parse_host_port(std::string_view s);

}  // namespace net
