#include "tunnel/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>

#include "config/config.h"
#include "core/fs.h"
#include "core/text.h"
#include "net/endpoint.h"
#include "tunnel/proto/frames.h"
#include "tunnel/sites.h"

namespace tunnel {

using core::Errc;

namespace {

// 4 or 16 bytes -> the 16-byte form (IPv4 as ::ffff:a.b.c.d).
std::array<uint8_t, 16> mapped(std::span<const uint8_t> a) {
  std::array<uint8_t, 16> out{};
  if (a.size() == 4) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, a.data(), 4);
  } else if (a.size() == 16) {
    std::memcpy(out.data(), a.data(), 16);
  }
  return out;
}

bool prefix_match(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int bits) {
  int full = bits / 8, rest = bits % 8;
  if (std::memcmp(a.data(), b.data(), size_t(full)) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = uint8_t(0xff << (8 - rest));
  return (a[size_t(full)] & mask) == (b[size_t(full)] & mask);
}

bool port_ok(const AllowRule& r, uint16_t port) {
  if (r.ports.empty()) return true;
  for (auto [lo, hi] : r.ports)
    if (port >= lo && port <= hi) return true;
  return false;
}

bool valid_hostname(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  for (char c : h)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'))
      return false;
  return true;
}

}  // namespace

core::Result<AllowRule> AllowList::parse_rule(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return core::err(Errc::data,
                     "bad allow rule \"" + std::string(text.substr(0, 100)) + "\": " + why);
  };
  AllowRule r;
  r.text = std::string(text);
  std::string_view host = text, ports;
  std::string joined;  // "[fd00::]/8" -> "fd00::/8"
  bool v6 = false;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("missing ']'");
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    // "[fd00::]/8:22": the prefix length follows the bracket.
    std::string h(host);
    if (!rest.empty() && rest.front() == '/') {
      size_t colon = rest.find(':');
      h += std::string(rest.substr(0, colon));
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon);
    }
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("expected ':' and ports after ']'");
      ports = rest.substr(1);
      if (ports.empty()) return bad("empty port list");
    }
    v6 = true;
    joined = std::move(h);
    host = joined;
  } else if (std::count(text.begin(), text.end(), ':') >= 2) {
    v6 = true;  // a bare IPv6 address or network: no ports (use brackets for ports)
  } else if (size_t colon = text.find(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    ports = text.substr(colon + 1);
    if (ports.empty()) return bad("empty port list");
  }
  if (host.empty()) return bad("missing host");

  if (!ports.empty()) {
    for (const auto& part : core::split(ports, ',', false)) {
      auto dash = part.find('-');
      auto lo = core::parse_uint(part.substr(0, dash));
      auto hi = dash == std::string::npos ? lo : core::parse_uint(part.substr(dash + 1));
      if (!lo || !hi || *lo < 1 || *hi > 65535 || *lo > *hi)
        return bad("ports are 1-65535, as N or N-M separated by commas");
      r.ports.emplace_back(uint16_t(*lo), uint16_t(*hi));
    }
  }

  if (host == "*") {
    r.kind = AllowRule::Kind::any;
    return r;
  }
  std::string_view addr = host;
  int len = -1;
  if (size_t slash = host.find('/'); slash != std::string_view::npos) {
    addr = host.substr(0, slash);
    auto n = core::parse_uint(host.substr(slash + 1));
    if (!n) return bad("bad prefix length");
    len = int(*n);
  }
  std::string a(addr);
  uint8_t buf[16];
  if (!v6 && ::inet_pton(AF_INET, a.c_str(), buf) == 1) {
    if (len > 32) return bad("IPv4 prefix length above 32");
    r.kind = AllowRule::Kind::net;
    r.addr = mapped({buf, 4});
    r.prefix = 96 + (len < 0 ? 32 : len);
    return r;
  }
  if (::inet_pton(AF_INET6, a.c_str(), buf) == 1) {
    if (len > 128) return bad("IPv6 prefix length above 128");
    r.kind = AllowRule::Kind::net;
    r.addr = mapped({buf, 16});
    r.prefix = len < 0 ? 128 : len;
    return r;
  }
  if (v6 || len >= 0) return bad("not an IP address or network");
  std::string name = core::to_lower(host);
  if (core::starts_with(name, "*.")) {
    if (!valid_hostname(name.substr(2))) return bad("bad host name");
    r.kind = AllowRule::Kind::suffix;
    r.name = name.substr(1);
    return r;
  }
  if (!valid_hostname(name)) return bad("bad host name");
  r.kind = AllowRule::Kind::name;
  r.name = name;
  return r;
}

bool AllowList::allows_name(std::string_view host, uint16_t port) const {
  if (rules_.empty()) return true;
  std::string h = core::to_lower(host);
  for (const auto& r : rules_) {
    if (!port_ok(r, port)) continue;
    switch (r.kind) {
      case AllowRule::Kind::any:
        return true;
      case AllowRule::Kind::name:
        if (h == r.name) return true;
        break;
      case AllowRule::Kind::suffix:
        if (h.size() > r.name.size() &&
            h.compare(h.size() - r.name.size(), r.name.size(), r.name) == 0)
          return true;
        break;
      case AllowRule::Kind::net:
        break;
    }
  }
  return false;
}

bool AllowList::allows_addr(std::span<const uint8_t> addr, uint16_t port) const {
  if (rules_.empty()) return true;
  auto a = mapped(addr);
  for (const auto& r : rules_) {
    if (!port_ok(r, port)) continue;
    if (r.kind == AllowRule::Kind::any) return true;
    if (r.kind == AllowRule::Kind::net && prefix_match(a, r.addr, r.prefix)) return true;
  }
  return false;
}

const char* suite_name(proto::Suite s) {
  return proto::cipher_of(s) == proto::Cipher::aesgcm ? "aes-256-gcm" : "chacha20-poly1305";
}

std::string Config::resolve(const std::string& p) const {
  if (p.empty() || p.front() == '/') return p;
  return dir + "/" + p;
}

namespace {

void read_key(config::Reader& r, std::string_view key, crypto::Key& out) {
  std::string text;
  if (!r.get(key, text)) return;
  auto k = crypto::key_from_base64(core::trim(text));
  if (!k)
    r.fail(key, "not a key (expected 44 characters of base64, as wg genkey/pubkey print)");
  else
    out = *k;
}

void read_address(config::Reader& r, std::string_view key, std::string& out, bool port_needed) {
  if (!r.get(key, out)) return;
  auto hp = net::parse_host_port(out);
  if (!hp)
    r.fail(key, hp.error().message);
  else if (port_needed && hp->port == 0)
    r.fail(key, "port 0 is not allowed here");
}

proto::Suite suite_from(std::string_view s) {
  return s == "aes-256-gcm" ? proto::Suite::ik_aesgcm_blake2b : proto::Suite::ik_chachapoly_blake2b;
}

void read_edge(config::Reader& e, Config& c) {
  EdgeConfig& x = c.edge;
  read_address(e, "listen", x.listen, false);
  e.get("private_key_file", x.private_key_file);
  if (x.private_key_file.empty()) e.fail("private_key_file", "must not be empty");
  read_address(e, "public_endpoint", x.public_endpoint, true);
  e.get_duration("keepalive", x.keepalive, milliseconds(100), milliseconds(3600000));
  e.get_duration("idle_timeout", x.idle_timeout, milliseconds(300), milliseconds(86400000));
  e.get_duration("handshake_timeout", x.handshake_timeout, milliseconds(100), milliseconds(600000));
  if (x.idle_timeout <= x.keepalive) e.fail("idle_timeout", "must be longer than keepalive");
  e.get("forward_bind", x.forward_bind);
  if (auto hp = net::parse_host_port(x.forward_bind + ":0"); !hp)
    e.fail("forward_bind", "not an address: " + hp.error().message);
  e.get_duration("udp_idle_timeout", x.udp_idle_timeout, milliseconds(100), milliseconds(86400000));
  e.get_duration("store_poll", x.store_poll, milliseconds(50), milliseconds(600000));
  e.get("max_handshakes", x.max_handshakes, 1, 100000);
  e.get("max_handshakes_per_source", x.max_handshakes_per_source, 1, 100000);
  x.handshake_reserve = x.max_handshakes / 4;
  e.get("handshake_reserve", x.handshake_reserve, 0, 100000);
  e.get("geoip_db", x.geoip_db);
  e.get("forward_tls_cert", x.forward_tls_cert);
  e.get("forward_tls_key", x.forward_tls_key);
  if (x.forward_tls_cert.empty() != x.forward_tls_key.empty())
    e.fail(x.forward_tls_cert.empty() ? "forward_tls_key" : "forward_tls_cert",
           "forward_tls_cert and forward_tls_key go together");
  e.get("forward_client_ca", x.forward_client_ca);
  if (x.forward_client_ca.empty()) e.fail("forward_client_ca", "must not be empty");
  e.get("forward_client_crl", x.forward_client_crl);
  std::vector<std::string> suites;
  if (e.get("suites", suites)) {
    x.suites.clear();
    for (const auto& s : suites) {
      if (s != "chacha20-poly1305" && s != "aes-256-gcm") {
        e.fail("suites", "unknown suite \"" + s + "\" (chacha20-poly1305, aes-256-gcm)");
        break;
      }
      x.suites.push_back(suite_from(s));
    }
    if (x.suites.empty()) e.fail("suites", "must name at least one suite");
  }
}

// key_problem: why private_key_file could not be used, with its own code (missing, unreadable,
// not a regular file, not a key), so load_config can report that code rather than 78.
void read_site(config::Reader& s, Config& c, std::optional<core::Error>& key_problem) {
  SiteConfig& x = c.site;
  if (s.need("name", x.name)) {
    if (auto ok = check_site_name(x.name); !ok) s.fail("name", ok.error().message);
  }
  if (s.require("edge")) read_address(s, "edge", x.edge, true);
  if (s.require("edge_public_key")) read_key(s, "edge_public_key", x.edge_public_key);
  bool inline_key = s.has("private_key"), key_file = s.has("private_key_file");
  if (inline_key && key_file) {
    std::string ignored;
    s.get("private_key", ignored);
    s.get("private_key_file", ignored);
    s.fail("private_key_file", "give private_key or private_key_file, not both");
  } else if (inline_key) {
    read_key(s, "private_key", x.private_key);
  } else if (key_file) {
    std::string path;
    s.get("private_key_file", path);
    auto text = read_regular_file(c.resolve(path), 4096);
    if (!text) {
      s.fail("private_key_file", text.error().message);
      key_problem = text.error();
    } else {
      auto k = parse_private_key(*text, path);
      crypto::wipe(text->data(), text->size());
      if (!k) {
        s.fail("private_key_file", k.error().message);
        key_problem = k.error();
      } else {
        x.private_key = *k;
      }
    }
  } else {
    s.require("private_key");
  }
  s.get("lanes", x.lanes, 1, 64);
  s.get_duration("reconnect_min", x.reconnect_min, milliseconds(10), milliseconds(3600000));
  s.get_duration("reconnect_max", x.reconnect_max, milliseconds(10), milliseconds(86400000));
  if (x.reconnect_max < x.reconnect_min) s.fail("reconnect_max", "must not be below reconnect_min");
  s.get_duration("connect_timeout", x.connect_timeout, milliseconds(10), milliseconds(600000));
  std::vector<std::string> allow;
  if (s.get("allow", allow)) {
    for (const auto& a : allow) {
      auto r = AllowList::parse_rule(a);
      if (!r) {
        s.fail("allow", r.error().message);
        break;
      }
      x.allow.add(std::move(*r));
    }
  }
  s.get("health_file", x.health_file);
  std::string suite;
  if (s.get_enum("suite", suite, {"chacha20-poly1305", "aes-256-gcm"})) x.suite = suite_from(suite);
}

}  // namespace

proto::Settings session_settings(const Config& c) {
  proto::Settings s;
  s.stream_window = c.stream_window;
  s.stream_window_max = c.stream_window_max;
  s.window_budget = c.window_budget;
  s.max_streams = c.max_streams;
  return s;
}

core::Result<std::string> read_regular_file(const std::string& path, size_t max_bytes) {
  if (path == "-") return core::read_file(path, max_bytes);
  auto sys = [&](int e) {
    return core::err(core::errc_from_errno(e), path + ": " + core::errno_text(e));
  };
  auto not_regular = [&] { return core::err(Errc::noinput, path + ": not a regular file"); };
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return sys(errno);
  if (!S_ISREG(st.st_mode)) return not_regular();
  // Something else may be swapped in after the stat: O_NONBLOCK keeps a FIFO's open from
  // waiting for a writer, and the fstat below refuses it.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return sys(errno);
  core::Result<std::string> out = std::string();
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) out = not_regular();
  char buf[16384];
  while (out) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      out = sys(errno);
    } else if (n == 0) {
      break;
    } else if (out->size() + size_t(n) > max_bytes) {
      out = core::err(Errc::data, path + ": input too large");
    } else {
      out->append(buf, size_t(n));
    }
  }
  ::close(fd);
  return out;
}

core::Result<Config> load_config(const std::string& path, const std::string& dir) {
  WARREN_TRY(text, read_regular_file(path, 16u << 20));
  WARREN_TRY(r, config::parse_string(text, path == "-" ? "stdin" : path));
  Config c;
  c.path = path;
  c.dir = dir;
  r.get("socket", c.socket);
  if (c.socket.empty()) r.fail("socket", "must not be empty");
  r.get("socket_mode", c.socket_mode, 0, 0777);
  r.get("threads", c.threads, 0, 64);
  r.get_duration("drain_timeout", c.drain_timeout, milliseconds(0), milliseconds(3600000));
  r.get("stream_window", c.stream_window, 16384, 16u << 20);
  r.get("max_streams", c.max_streams, 1, 1u << 20);
  r.get("stream_window_max", c.stream_window_max, 16384, 1u << 30);
  if (c.stream_window_max < c.stream_window) c.stream_window_max = c.stream_window;
  int64_t budget_mib = int64_t(c.window_budget >> 20);
  r.get("window_budget_mib", budget_mib, 1, 1 << 20);
  c.window_budget = uint64_t(budget_mib) << 20;
  r.get("congestion", c.congestion);
  r.get("notsent_lowat", c.notsent_lowat, 0, 64u << 20);
  std::optional<core::Error> key_problem;
  auto edge = r.table("edge");
  auto site = r.table("site");
  if (edge.present() && site.present()) {
    r.fail("site", "a file configures one role: [edge] or [site], not both");
  } else if (edge.present()) {
    c.role = Role::edge;
    read_edge(edge, c);
  } else if (site.present()) {
    c.role = Role::site;
    read_site(site, c, key_problem);
  } else {
    r.fail("edge", "missing table: [edge] (accept sites) or [site] (dial the edge)");
  }
  if (auto done = r.finish(); !done) {
    core::Error e = done.error();
    // The first problem is the key file's: "file:line:col: site.private_key_file: why".
    const std::string& why = key_problem ? key_problem->message : "";
    if (!why.empty() && e.message.size() >= why.size() &&
        e.message.compare(e.message.size() - why.size(), why.size(), why) == 0)
      e.code = key_problem->code;
    return e;
  }
  return c;
}

}  // namespace tunnel
