// model checks — checks for the values peerctl (and `peerctl apply`) writes to the store:
// names, hostnames, ports, addresses, CIDRs, durations, emails, path prefixes. Each returns the
// value in its stored form, or Errc::data with a message naming the field:
//   "--host: 'a..b': not a valid hostname". Pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace model {

// An object name (resource, role, …): 1-64 of [A-Za-z0-9._-], not starting with '.' or '-'.
core::Result<std::string> check_name(std::string_view field, std::string_view v);
// A DNS hostname ("app.example.com"), a wildcard ("*.example.com") or "*"; returned lower-case.
// Labels 1-63 of [a-z0-9-] not starting or ending with '-', total <= 253.
core::Result<std::string> check_hostname(std::string_view field, std::string_view v);
// A port 1-65535.
core::Result<uint16_t> check_port(std::string_view field, std::string_view v);
// "host:port" or "[v6]:port" with a port 1-65535 and a hostname or IP literal; returned as typed.
struct HostPort {
  std::string host;  // without brackets
  uint16_t port = 0;
};
core::Result<HostPort> check_host_port(std::string_view field, std::string_view v);
// An IPv4/IPv6 CIDR or bare address; returned in canonical form ("10.0.0.0/8", "2001:db8::/32",
// a bare address without a prefix length).
core::Result<std::string> check_cidr(std::string_view field, std::string_view v);
// "90s", "15m", "12h", "30d", "1w" or plain seconds -> seconds (> 0, at most 10 years).
core::Result<int64_t> check_duration(std::string_view field, std::string_view v);
// "user@example.com" (one '@', a dotted hostname domain); returned lower-case.
core::Result<std::string> check_email(std::string_view field, std::string_view v);
// "/", "/app", "/app/": starts with '/', no "//", no "." or ".." segment, no control characters,
// spaces, '?', '#' or '%'.
core::Result<std::string> check_path_prefix(std::string_view field, std::string_view v);

}  // namespace model
