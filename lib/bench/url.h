// URL and address parsing for netbench: "http(s)://host[:port]/path?query", "host:port",
// "[::1]:port", "unix:/path". Pure functions; resolve() is the one that asks the resolver.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace bench {

struct Url {
  bool tls = false;
  std::string host;  // without brackets
  uint16_t port = 0;
  std::string host_header;  // "host" or "host:port" as written (brackets kept for IPv6)
  std::string target;       // "/path?query" ("/" when empty)
  std::string text;         // the URL as given
};

// Errc::usage "bad URL "…": why".
core::Result<Url> parse_url(std::string_view text);

struct HostPort {
  std::string host;  // empty for "unix:" addresses
  uint16_t port = 0;
  std::string unix_path;  // "unix:/run/x.sock" -> "/run/x.sock"
};
// "host:port", "[v6]:port", ":port" (= 0.0.0.0), "unix:/path". Errc::usage on junk.
core::Result<HostPort> parse_hostport(std::string_view text);
bool is_ip_literal(const std::string& host);

// A resolved socket address (first result of getaddrinfo, or a Unix path).
struct Address {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = 0;
  std::string text;  // "127.0.0.1:8080", "[::1]:80", "unix:/path"
};
// Errc::unavailable "cannot resolve host: why".
core::Result<Address> resolve(const HostPort& hp);
Address unix_address(const std::string& path);
std::string address_text(const sockaddr* sa, socklen_t len);

}  // namespace bench
