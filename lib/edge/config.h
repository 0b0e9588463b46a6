// edge config — edged.toml as a plain struct (defaults are the member initialisers), loaded
// with lib/config so every error names file:line:column; plus the trusted-proxy CIDR list.
// Immutable once loaded; shared read-only by every thread through the daemon's snapshot.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "tls/tls.h"

namespace edge {

// An IPv4 or IPv6 network; IPv4 is kept as v4-mapped IPv6.
struct Cidr {
  std::array<uint8_t, 16> addr{};
  int bits = 128;
  bool contains(const std::array<uint8_t, 16>& ip) const;
};
// "10.0.0.0/8", "192.0.2.7", "2001:db8::/32" (Errc::data on error).
core::Result<Cidr> parse_cidr(std::string_view s);
// A textual IPv4/IPv6 address as 16 bytes (v4-mapped), or false.
bool parse_ip(std::string_view s, std::array<uint8_t, 16>& out);

// The client address as far as trusted proxies vouch for it. `xff` are the values of every
// X-Forwarded-For line in order: together they are one list (RFC 7239 4, RFC 9110 5.3), read
// from the right; the first entry that is not a trusted proxy is the client. An entry that is
// not an address stops the walk at the hop before it. `peer` must itself be trusted (the
// caller checks) and is the answer when there is no usable entry.
std::string_view client_address(const std::vector<Cidr>& trusted,
                                const std::vector<std::string_view>& xff, std::string_view peer);

using Millis = std::chrono::milliseconds;

struct Config {
  std::string file;      // where it was loaded from
  std::string base;      // directory relative paths are resolved against (the file's)
  unsigned threads = 0;  // 0: one per CPU

  std::vector<std::string> http_listen;   // "0.0.0.0:80"
  std::vector<std::string> https_listen;  // "0.0.0.0:443"
  std::vector<tls::CertFiles> certs;      // the first is the default certificate
  std::string cert_dir;
  bool session_tickets = true;
  bool tls13_only = false;
  uint16_t redirect_port = 0;  // port in HTTP->HTTPS redirects (0: the first https listener's)

  std::string routes_file;     // "" none
  std::string store;           // database path; "" = no store
  std::string control_socket;  // "" = none
  std::string tunneld_socket;
  std::string access_log;      // "" off, "-" stdout, else a file (appended)
  std::string metrics_listen;  // "" off; else HOST:PORT serving GET /metrics
  std::vector<Cidr> trusted_proxies;
  std::string upstream_ca;  // extra CA bundle for verifying TLS upstreams

  // limits
  size_t max_header_bytes = 32 * 1024;
  size_t max_headers = 100;
  size_t max_uri = 8 * 1024;
  int64_t max_body = 0;  // bytes; 0: unlimited
  size_t max_response_header_bytes = 64 * 1024;
  size_t max_connections = 100000;  // per process

  // timeouts
  Millis client_header{10000};  // a request head must arrive within this
  Millis idle{60000};           // keep-alive wait for the next request
  Millis client_body{60000};    // between body reads from the client
  Millis send{60000};           // a write to the client or upstream must progress
  Millis upstream_connect{5000};
  Millis upstream_response{60000};  // to the response head, and between body reads
  Millis tunnel_idle{3600000};      // WebSocket/Upgrade tunnels without traffic
  Millis drain{10000};              // SIGTERM: time for requests in flight

  // upstream
  size_t pool_size = 64;  // idle connections kept per target per thread
  Millis pool_idle{60000};
  int retries = 1;  // extra targets tried for an idempotent request on connect failure

  // access control ([auth])
  std::string audit_log;    // "" off, "-" stdout, else a file: one JSON line per decision
  bool audit_store = true;  // every decision also goes to the store's audit table
  std::string mail_command = "/usr/sbin/sendmail -t -i";  // run by sh -c, message on stdin
  std::string mail_from = "warren@localhost";
  std::string assertion_key;  // PEM private key (Ed25519 or P-256) signing identity JWTs
  std::string assertion_issuer = "warren-edged";
  std::string assertion_audience;  // "" -> the request's host
  Millis assertion_ttl{60000};
  std::string header_user = "Remote-User";
  std::string header_email = "Remote-Email";
  std::string header_name = "Remote-Name";
  std::string header_role = "Remote-Role";
  std::string header_assertion = "Warren-Jwt-Assertion";
  unsigned auth_threads = 2;  // threads for password hashing and store lookups
  // Brute-force guard (auth::BackoffConfig): failures before any wait, failures that lock the
  // client out of a resource, and for how long. Read at start.
  int free_failures = 3;
  int max_failures = 10;
  Millis lockout{15 * 60000};
  std::string geoip_db;  // MaxMind DB (GeoLite2/GeoIP2 Country or City) for country rules

  // reloading
  Millis store_poll{500};
  Millis file_poll{2000};  // routes file, certificates, CA/CRL

  std::string resolve(const std::string& path) const;  // relative to base
};

// Loads edged.toml. `warren_dir` supplies defaults: store = DIR/warren.db, control_socket =
// DIR/run/edged.sock, tunneld_socket = DIR/run/tunneld.sock. Every error is Errc::config.
core::Result<Config> load_config(const std::string& path, const std::string& warren_dir);
core::Result<Config> parse_config(std::string_view toml, const std::string& name,
                                  const std::string& warren_dir);

}  // namespace edge
