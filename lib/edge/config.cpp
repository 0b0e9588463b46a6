#include "edge/config.h"

#include <arpa/inet.h>

#include <cctype>
#include <cstring>

#include "config/config.h"
#include "core/text.h"
#include "net/endpoint.h"

namespace edge {

bool parse_ip(std::string_view s, std::array<uint8_t, 16>& out) {
  char buf[64];
  if (s.empty() || s.size() >= sizeof buf) return false;
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = 0;
  in_addr v4{};
  if (::inet_pton(AF_INET, buf, &v4) == 1) {
    out.fill(0);
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return true;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, buf, &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return true;
  }
  return false;
}

core::Result<Cidr> parse_cidr(std::string_view s) {
  Cidr c;
  std::string_view ip = s;
  int bits = -1;
  size_t slash = s.find('/');
  if (slash != std::string_view::npos) {
    ip = s.substr(0, slash);
    auto b = core::parse_uint(s.substr(slash + 1));
    if (!b) return core::err(core::Errc::data, "bad network \"" + std::string(s) + "\"");
    bits = static_cast<int>(*b);
  }
  if (!parse_ip(ip, c.addr))
    return core::err(core::Errc::data, "bad network \"" + std::string(s) + "\"");
  bool v4 = ip.find(':') == std::string_view::npos;
  int max = v4 ? 32 : 128;
  if (bits < 0) bits = max;
  if (bits > max)
    return core::err(core::Errc::data, "bad prefix length in \"" + std::string(s) + "\"");
  c.bits = v4 ? bits + 96 : bits;
  return c;
}

bool Cidr::contains(const std::array<uint8_t, 16>& ip) const {
  int full = bits / 8;
  if (std::memcmp(addr.data(), ip.data(), static_cast<size_t>(full)) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (addr[full] & mask) == (ip[full] & mask);
}

std::string Config::resolve(const std::string& p) const {
  if (p.empty() || p[0] == '/' || base.empty()) return p;
  return base + "/" + p;
}

static core::Result<Config> read(config::Reader& r, const std::string& file,
                                 const std::string& dir) {
  Config c;
  c.file = file;
  size_t slash = file.rfind('/');
  c.base = slash == std::string::npos ? "." : file.substr(0, slash);
  if (c.base.empty()) c.base = "/";
  // Paths given in the file are relative to its directory; the defaults live in WARREN_DIR.
  auto path_key = [&c](config::Reader& t, std::string_view key, std::string& out, std::string def) {
    if (t.get(key, out))
      out = out == "-" ? out : c.resolve(out);
    else
      out = std::move(def);
  };
  r.get("threads", c.threads, 0u, 256u);
  path_key(r, "routes_file", c.routes_file, "");
  path_key(r, "store", c.store, dir + "/warren.db");
  path_key(r, "control_socket", c.control_socket, dir + "/run/edged.sock");
  path_key(r, "tunneld_socket", c.tunneld_socket, dir + "/run/tunneld.sock");
  path_key(r, "access_log", c.access_log, "");
  if (r.get("metrics_listen", c.metrics_listen) && !c.metrics_listen.empty()) {
    if (auto hp = net::parse_host_port(c.metrics_listen); !hp)
      r.fail("metrics_listen", hp.error().message);
  }
  std::vector<std::string> trusted;
  if (r.get("trusted_proxies", trusted))
    for (auto& t : trusted) {
      auto n = parse_cidr(t);
      if (!n)
        r.fail("trusted_proxies", n.error().message);
      else
        c.trusted_proxies.push_back(*n);
    }
  path_key(r, "upstream_ca", c.upstream_ca, "");

  auto check_listen = [](config::Reader& t, const std::vector<std::string>& v) {
    for (auto& a : v)
      if (auto hp = net::parse_host_port(a); !hp) t.fail("listen", hp.error().message);
  };
  auto http = r.table("http");
  http.get("listen", c.http_listen);
  check_listen(http, c.http_listen);

  auto https = r.table("https");
  https.get("listen", c.https_listen);
  check_listen(https, c.https_listen);
  tls::CertFiles def;
  https.get("cert", def.cert);
  https.get("key", def.key);
  if (def.cert.empty() != def.key.empty())
    https.fail(def.cert.empty() ? "key" : "cert", "cert and key go together");
  else if (!def.cert.empty())
    c.certs.push_back(def);
  for (auto& t : https.tables("certificate")) {
    tls::CertFiles f;
    t.need("cert", f.cert);
    t.need("key", f.key);
    c.certs.push_back(f);
  }
  path_key(https, "cert_dir", c.cert_dir, "");
  https.get("session_tickets", c.session_tickets);
  https.get("tls13_only", c.tls13_only);
  https.get("redirect_port", c.redirect_port);
  if (!c.https_listen.empty() && c.certs.empty() && c.cert_dir.empty())
    https.fail("listen", "HTTPS needs cert and key, [[https.certificate]] or cert_dir");

  auto lim = r.table("limits");
  lim.get("max_header_bytes", c.max_header_bytes, size_t(1024), size_t(1) << 20);
  lim.get("max_headers", c.max_headers, size_t(8), size_t(10000));
  lim.get("max_uri_bytes", c.max_uri, size_t(64), size_t(1) << 20);
  lim.get("max_body", c.max_body, int64_t(0), INT64_MAX);
  lim.get("max_response_header_bytes", c.max_response_header_bytes, size_t(1024), size_t(1) << 20);
  lim.get("max_connections", c.max_connections, size_t(1), size_t(10000000));
  if (c.max_uri + 64 > c.max_header_bytes) c.max_uri = c.max_header_bytes - 64;

  auto to = r.table("timeouts");
  const Millis lo(10), hi(86400000);
  to.get_duration("client_header", c.client_header, lo, hi);
  to.get_duration("idle", c.idle, lo, hi);
  to.get_duration("client_body", c.client_body, lo, hi);
  to.get_duration("send", c.send, lo, hi);
  to.get_duration("upstream_connect", c.upstream_connect, lo, hi);
  to.get_duration("upstream_response", c.upstream_response, lo, hi);
  to.get_duration("tunnel_idle", c.tunnel_idle, lo, hi);
  to.get_duration("drain", c.drain, Millis(0), hi);

  auto up = r.table("upstream");
  up.get("pool_size", c.pool_size, size_t(0), size_t(100000));
  up.get_duration("pool_idle", c.pool_idle, Millis(100), hi);
  up.get("retries", c.retries, 0, 10);

  auto au = r.table("auth");
  path_key(au, "audit_log", c.audit_log, "");
  au.get("audit_store", c.audit_store);
  au.get("mail_command", c.mail_command);
  au.get("mail_from", c.mail_from);
  path_key(au, "assertion_key", c.assertion_key, "");
  au.get("assertion_issuer", c.assertion_issuer);
  au.get("assertion_audience", c.assertion_audience);
  au.get_duration("assertion_ttl", c.assertion_ttl, Millis(1000), Millis(86400000));
  au.get("threads", c.auth_threads, 1u, 64u);
  au.get("free_failures", c.free_failures, 0, 1000);
  au.get("max_failures", c.max_failures, 1, 1000);
  au.get_duration("lockout", c.lockout, Millis(1000), Millis(7 * 86400000LL));
  if (c.free_failures > c.max_failures) au.fail("free_failures", "must not exceed max_failures");
  path_key(au, "geoip_db", c.geoip_db, "");
  auto hn = au.table("headers");
  auto header_name = [&hn](std::string_view key, std::string& out) {
    if (!hn.get(key, out)) return;
    for (char ch : out)
      if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_')) {
        hn.fail(key, "not a header name: letters, digits, '-' and '_' only");
        return;
      }
  };
  header_name("user", c.header_user);
  header_name("email", c.header_email);
  header_name("name", c.header_name);
  header_name("role", c.header_role);
  header_name("assertion", c.header_assertion);

  auto rl = r.table("reload");
  rl.get_duration("store_poll", c.store_poll, Millis(0), hi);
  rl.get_duration("file_poll", c.file_poll, Millis(0), hi);

  if (c.http_listen.empty() && c.https_listen.empty())
    r.fail("http", "no listeners: set [http] listen or [https] listen");
  if (auto f = r.finish(); !f) return f.error();

  for (auto& f : c.certs) {
    f.cert = c.resolve(f.cert);
    f.key = c.resolve(f.key);
  }
  return c;
}

core::Result<Config> load_config(const std::string& path, const std::string& warren_dir) {
  auto r = config::parse_file(path);
  if (!r) return core::err(core::Errc::config, r.error().message);
  return read(*r, path, warren_dir);
}

core::Result<Config> parse_config(std::string_view toml, const std::string& name,
                                  const std::string& warren_dir) {
  auto r = config::parse_string(toml, name);
  if (!r) return core::err(core::Errc::config, r.error().message);
  return read(*r, name, warren_dir);
}

std::string_view client_address(const std::vector<Cidr>& trusted,
                                const std::vector<std::string_view>& xff, std::string_view peer) {
  auto is_trusted = [&](const std::array<uint8_t, 16>& ip) {
    for (const auto& c : trusted)
      if (c.contains(ip)) return true;
    return false;
  };
  std::string_view best = peer;
  for (size_t line = xff.size(); line-- > 0;) {
    std::string_view list = xff[line];
    for (;;) {
      size_t comma = list.rfind(',');
      std::string_view item = comma == std::string_view::npos ? list : list.substr(comma + 1);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      std::array<uint8_t, 16> ip{};
      if (!parse_ip(item, ip)) return best;
      best = item;
      if (!is_trusted(ip)) return best;
      if (comma == std::string_view::npos) break;
      list = list.substr(0, comma);
    }
  }
  return best;
}

}  // namespace edge
