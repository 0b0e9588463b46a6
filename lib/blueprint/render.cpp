// blueprint::render — a Installation as blueprint TOML: every managed kind's table, objects sorted
// by name, only the keys that differ from their defaults (so a small installation reads small).
#include <cstdio>

#include "blueprint/blueprint.h"
#include "config/write.h"

namespace blueprint {

using namespace model;

namespace {

std::string words_array(const std::string& s) {
  std::string out = "[";
  size_t i = 0;
  bool first = true;
  while (i < s.size()) {
    size_t j = s.find(' ', i);
    if (j == std::string::npos) j = s.size();
    if (j > i) {
      out += (first ? "" : ", ") + config::toml_string(s.substr(i, j - i));
      first = false;
    }
    i = j + 1;
  }
  return out + "]";
}

struct Out {
  std::string s;
  void kv(const char* k, const std::string& v) { s += std::string(k) + " = " + v + "\n"; }
  void str(const char* k, const std::string& v) { kv(k, config::toml_string(v)); }
  void boolean(const char* k, bool v) { kv(k, v ? "true" : "false"); }
  void num(const char* k, int64_t v) { kv(k, std::to_string(v)); }
};

}  // namespace

std::string render(const Installation& m, bool secrets) {
  Out o;
  o.s = "# Warren blueprint: peerctl apply FILE converges the store to it; see peerctl(8).\n";
  o.s += "version = 1\n";
  if (m.has_forwards && m.forwards.empty()) o.s += "forwards = []\n";  // before any table
  auto secret = [&](const char* key, const Secret& s) {
    if (secrets && s.hash) o.str(key, *s.hash);
  };

  if (m.has_sites) {
    o.s += "\n[sites]\n";
    for (auto& [n, s] : m.sites) {
      o.s += "\n[sites." + config::toml_key(n) + "]\n";
      if (s.public_key) o.str("public_key", *s.public_key);
      if (!s.enabled) o.boolean("enabled", false);
    }
  }

  if (m.has_forwards) {
    for (auto& [k, f] : m.forwards) {
      o.s += "\n[[forwards]]\n";
      if (!f.name.empty()) o.str("name", f.name);
      o.str("protocol", f.protocol);
      o.num("port", f.port);
      o.str("site", f.site);
      o.str("target", f.target);
      if (!f.enabled) o.boolean("enabled", false);
      if (!f.allow.empty()) o.kv("allow", config::toml_array(f.allow));
      if (!f.deny.empty()) o.kv("deny", config::toml_array(f.deny));
      if (!f.allow_countries.empty())
        o.kv("allow_countries", config::toml_array(f.allow_countries));
      if (!f.deny_countries.empty()) o.kv("deny_countries", config::toml_array(f.deny_countries));
      if (f.max_conns) o.num("max_conns", f.max_conns);
      if (f.conn_rate) o.num("conn_rate", f.conn_rate);
      if (f.conn_burst) o.num("conn_burst", f.conn_burst);
      if (f.tls_client_cert) o.boolean("tls_client_cert", true);
    }
  }

  if (m.has_roles) {
    o.s += "\n[roles]\n";
    for (auto& [n, r] : m.roles) {
      o.s += "[roles." + config::toml_key(n) + "]\n";
      if (!r.description.empty()) o.str("description", r.description);
    }
  }

  if (m.has_users) {
    o.s += "\n[users]\n";
    for (auto& [e, u] : m.users) {
      o.s += "\n[users." + config::toml_key(e) + "]\n";
      if (!u.name.empty()) o.str("name", u.name);
      if (!u.enabled) o.boolean("enabled", false);
      if (!u.roles.empty()) o.kv("roles", config::toml_array(u.roles));
      secret("password_hash", u.password);
    }
  }

  if (m.has_resources) {
    o.s += "\n[resources]\n";
    for (auto& [n, r] : m.resources) {
      o.s += "\n[resources." + config::toml_key(n) + "]\n";
      o.str("host", r.host);
      if (r.path != "/") o.str("path", r.path);
      // The short form when the targets share their TLS settings and have weight 1 (and the
      // disabled ones come last, as the short form reads them back); else one table each.
      bool short_form = true;
      for (size_t i = 0; i < r.targets.size(); ++i) {
        const Target& t = r.targets[i];
        if (t.weight != 1 || t.tls_verify != r.targets[0].tls_verify ||
            t.tls_sni != r.targets[0].tls_sni || (i && t.enabled && !r.targets[i - 1].enabled))
          short_form = false;
      }
      if (short_form) {
        std::vector<std::string> on, off;
        for (auto& t : r.targets) (t.enabled ? on : off).push_back(t.str());
        o.kv("targets", config::toml_array(on));
        if (!off.empty()) o.kv("disabled_targets", config::toml_array(off));
        if (!r.targets.empty()) {
          if (!r.targets[0].tls_verify) o.boolean("tls_verify", false);
          if (!r.targets[0].tls_sni.empty()) o.str("tls_sni", r.targets[0].tls_sni);
        }
      }
      if (!r.enabled) o.boolean("enabled", false);
      if (r.tls) o.boolean("tls", true);
      if (!r.headers.empty()) o.kv("headers", config::toml_array(r.headers));
      if (r.lb != "round_robin") o.str("lb", r.lb);
      if (r.sticky) o.boolean("sticky", true);
      if (r.redirect_https) o.boolean("redirect_https", true);
      if (r.hsts != 31536000) o.num("hsts", r.hsts);
      if (r.mtls != "off") o.str("mtls", r.mtls);
      if (!r.client_ca.empty()) o.str("client_ca", r.client_ca);
      if (!r.client_crl.empty()) o.str("client_crl", r.client_crl);
      if (!r.host_header.empty()) o.str("host_header", r.host_header);
      if (!r.auth) {  // grants without access settings (else they are written with those)
        if (!r.roles.empty()) o.kv("roles", config::toml_array(r.roles));
        if (!r.users.empty()) o.kv("users", config::toml_array(r.users));
      }
      std::string base = "resources." + config::toml_key(n);
      if (!short_form)
        for (auto& t : r.targets) {
          o.s += "[[" + base + ".target]]\n";
          o.str("url", t.str());
          if (t.weight != 1) o.num("weight", t.weight);
          if (!t.tls_verify) o.boolean("tls_verify", false);
          if (!t.tls_sni.empty()) o.str("tls_sni", t.tls_sni);
          if (!t.enabled) o.boolean("enabled", false);
        }
      if (!r.health_path.empty() || r.health_interval_ms != 0 || r.health_timeout_ms != 2000 ||
          r.health_rise != 2 || r.health_fall != 3) {
        o.s += "[" + base + ".health]\n";
        if (!r.health_path.empty()) o.str("path", r.health_path);
        o.kv("interval", config::toml_duration_ms(r.health_interval_ms));
        if (r.health_timeout_ms != 2000)
          o.kv("timeout", config::toml_duration_ms(r.health_timeout_ms));
        if (r.health_rise != 2) o.num("rise", r.health_rise);
        if (r.health_fall != 3) o.num("fall", r.health_fall);
      }
      if (r.auth) {
        const Auth& a = *r.auth;
        o.s += "[" + base + ".auth]\n";
        if (a.is_public) o.boolean("public", true);
        o.kv("methods", config::toml_array(a.methods));
        if (!a.email_allow.empty()) o.kv("email_allow", config::toml_array(a.email_allow));
        if (!r.roles.empty()) o.kv("roles", config::toml_array(r.roles));
        if (!r.users.empty()) o.kv("users", config::toml_array(r.users));
        if (a.pin_digits != 6) o.num("pin_digits", a.pin_digits);
        if (a.session_ttl != 2592000) o.kv("session_ttl", config::toml_duration_s(a.session_ttl));
        if (a.rate_per_sec) o.num("rate_per_sec", a.rate_per_sec);
        if (a.rate_burst) o.num("rate_burst", a.rate_burst);
        secret("password_hash", a.password);
        secret("pin_hash", a.pin);
      }
      for (auto& ru : r.rules) {
        o.s += "[[" + base + ".rules]]\n";
        o.num("priority", ru.priority);
        o.str("action", ru.action);
        if (!ru.ips.empty()) o.kv("ips", words_array(ru.ips));
        if (!ru.path.empty()) o.str("path", ru.path);
        if (!ru.methods.empty()) o.kv("methods", words_array(ru.methods));
        if (!ru.countries.empty()) o.kv("countries", words_array(ru.countries));
        if (!ru.enabled) o.boolean("enabled", false);
      }
    }
  }
  return o.s;
}

}  // namespace blueprint
