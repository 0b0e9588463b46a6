// tunnel::Config — tunneld.toml as a plain struct (see tunneld.toml(5)): the common daemon
// settings and either an [edge] or a [site] table; plus the site's allow list. Defaults are the
// member initialisers. Loaded on the main thread; afterwards shared read-only (shared_ptr).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "crypto/crypto.h"
#include "tunnel/proto/noise.h"
#include "tunnel/proto/session.h"

namespace tunnel {

using std::chrono::milliseconds;

// One allow-list entry: which targets the edge may reach through this site.
//   "*"  "192.168.1.0/24"  "10.0.0.5:80,443"  "nas.lan:8000-8100"  "*.lan"  "[fd00::]/8:22"
struct AllowRule {
  enum class Kind : uint8_t { any, name, suffix, net };
  Kind kind = Kind::any;
  std::string name;  // lower-case host name (name) or ".domain" (suffix, from "*.domain")
  std::array<uint8_t, 16> addr{};                    // net: IPv4 as ::ffff:a.b.c.d
  int prefix = 0;                                    // net: prefix length over the 128-bit form
  std::vector<std::pair<uint16_t, uint16_t>> ports;  // inclusive ranges; empty: every port
  std::string text;                                  // as written
};

class AllowList {
 public:
  // Errc::data "bad allow rule \"x\": why".
  static core::Result<AllowRule> parse_rule(std::string_view text);

  void add(AllowRule r) { rules_.push_back(std::move(r)); }
  // No rules configured: every target is allowed.
  bool unrestricted() const { return rules_.empty(); }
  // The target host as written matches a name/suffix rule, or "*" (then no address check).
  bool allows_name(std::string_view host, uint16_t port) const;
  // An address (4 or 16 bytes, network order) matches a network rule or "*".
  bool allows_addr(std::span<const uint8_t> addr, uint16_t port) const;
  const std::vector<AllowRule>& rules() const { return rules_; }

 private:
  std::vector<AllowRule> rules_;
};

enum class Role : uint8_t { edge, site };

struct EdgeConfig {
  std::string listen = "0.0.0.0:7443";  // lanes from sites
  std::string private_key_file = "tunneld-edge.key";
  std::string public_endpoint;  // host:port sites dial; published in the store for peerctl
  milliseconds keepalive{10000};
  milliseconds idle_timeout{30000};
  milliseconds handshake_timeout{10000};
  std::string forward_bind = "0.0.0.0";  // address the raw forwards listen on
  milliseconds udp_idle_timeout{60000};
  milliseconds store_poll{500};
  uint32_t max_handshakes = 256;           // connections still in the handshake at once
  uint32_t max_handshakes_per_source = 8;  // of them from one address
  uint32_t handshake_reserve = 64;         // of them only for addresses that completed one
  std::string geoip_db;                    // MaxMind DB for the forwards' country rules ("" none)
  // TLS forwards (tls_client_cert in the store): the certificate they present, and the CA
  // bundle (and optional CRL) their clients' certificates must chain to.
  std::string forward_tls_cert, forward_tls_key;
  std::string forward_client_ca = "ca/chain.pem";
  std::string forward_client_crl;
  std::vector<proto::Suite> suites = {proto::Suite::ik_chachapoly_blake2b,
                                      proto::Suite::ik_aesgcm_blake2b};
};

struct SiteConfig {
  std::string name;
  std::string edge;  // host:port, resolved again on every attempt
  crypto::Key edge_public_key{};
  crypto::Key private_key{};
  uint16_t lanes = 2;
  milliseconds reconnect_min{500};
  milliseconds reconnect_max{30000};
  milliseconds connect_timeout{10000};  // to the edge and to targets
  AllowList allow;
  std::string health_file;
  proto::Suite suite = proto::Suite::ik_chachapoly_blake2b;
};

struct Config {
  std::string path;  // the file it came from
  std::string dir;   // WARREN_DIR: relative paths are taken from here
  Role role = Role::edge;
  std::string socket = "run/tunneld.sock";
  unsigned socket_mode = 0600;
  unsigned threads = 0;  // 0: one per core
  milliseconds drain_timeout{10000};
  uint32_t stream_window =
      1024 * 1024;  // twice the spec's default: 6 Gbit/s needs ~1 MiB in flight
  uint32_t max_streams = 8192;
  // Receive-window auto-tuning (warren-tunnel(7)): the largest window one stream grows to, and
  // the receive memory all streams of one site may be promised together (split over its lanes).
  uint32_t stream_window_max = 32u << 20;
  uint64_t window_budget = 256ull << 20;
  // Lane sockets: congestion control ("auto": bbr when the kernel offers it, else its default;
  // "": the kernel's default; or a name) and TCP_NOTSENT_LOWAT (0: the kernel's).
  std::string congestion = "auto";
  uint32_t notsent_lowat = 256 * 1024;
  EdgeConfig edge;
  SiteConfig site;

  // A path from the config made absolute against dir.
  std::string resolve(const std::string& p) const;
  std::string socket_path() const { return resolve(socket); }
};

// Parses and validates; errors are Errc::config "file:line:col: message", Errc::noinput when
// the file is missing or not a regular file, Errc::noperm when it cannot be read. Reads a site's
// private_key_file (a problem with it keeps that file's code, with the key's file:line:col).
core::Result<Config> load_config(const std::string& path, const std::string& dir);

// The whole of a regular file ("-": stdin), never blocking on a FIFO or a device: stat, then open
// with O_NONBLOCK and fstat again. Errc::noinput "PATH: not a regular file" (also for a
// directory), Errc::noinput when missing, Errc::noperm when unreadable, Errc::data when larger
// than max_bytes.
core::Result<std::string> read_regular_file(const std::string& path, size_t max_bytes);

const char* suite_name(proto::Suite s);

// The session settings both roles take from the file (windows, budget, stream limit).
proto::Settings session_settings(const Config& c);

}  // namespace tunnel
