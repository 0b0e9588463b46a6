// model::validate — every value of a model checked once, at neutral paths that each surface
// renders in its own words (peerctl: the flag; a blueprint: file:line:column).
#include <cctype>
#include <set>

#include "model/check.h"
#include "model/model.h"

namespace model {

namespace {

struct Out {
  std::vector<Problem>& v;
  void add(const std::string& path, std::string message) {
    v.push_back({path, std::move(message)});
  }
  // A check_* result: its message without the field name it was given.
  template <class T>
  void check(const std::string& path, const core::Result<T>& r) {
    if (r) return;
    std::string m = r.error().message;
    if (m.rfind("x: ", 0) == 0) m.erase(0, 3);
    add(path, m);
  }
  void range(const std::string& path, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo || v > hi)
      add(path, "'" + std::to_string(v) + "': " + std::to_string(lo) + " to " + std::to_string(hi));
  }
};

bool one_of(std::string_view v, std::initializer_list<std::string_view> set) {
  for (auto s : set)
    if (v == s) return true;
  return false;
}

}  // namespace

std::vector<Problem> validate_resource(const Resource& r, const std::string& at) {
  std::vector<Problem> v;
  Out o{v};
  o.check(at + ".name", check_name("x", r.name));
  o.check(at + ".host", check_hostname("x", r.host));
  o.check(at + ".path", check_path_prefix("x", r.path));
  if (!one_of(r.lb, {"round_robin", "least_conn"}))
    o.add(at + ".lb", "'" + r.lb + "': round_robin or least_conn");
  if (!one_of(r.mtls, {"off", "optional", "required"}))
    o.add(at + ".mtls", "'" + r.mtls + "': off, optional or required");
  else if (r.mtls != "off" && r.client_ca.empty())
    o.add(at + ".client_ca", "mTLS needs a client CA bundle");
  o.range(at + ".hsts", r.hsts, 0, 63072000);
  if (!r.host_header.empty() && r.host_header != "@target")
    o.check(at + ".host_header", check_hostname("x", r.host_header));
  if (!r.health_path.empty()) o.check(at + ".health.path", check_path_prefix("x", r.health_path));
  o.range(at + ".health.interval_ms", r.health_interval_ms, 0, 86400000);
  o.range(at + ".health.timeout_ms", r.health_timeout_ms, 10, 600000);
  o.range(at + ".health.rise", r.health_rise, 1, 100);
  o.range(at + ".health.fall", r.health_fall, 1, 100);
  for (size_t i = 0; i < r.targets.size(); ++i) {
    const Target& t = r.targets[i];
    std::string p = at + ".targets." + std::to_string(i + 1);
    if (t.host.empty() || t.port == 0) o.add(p, "no host:port");
    if (!t.site.empty()) o.check(p + ".site", check_name("x", t.site));
    if (!t.tls_sni.empty()) o.check(p + ".tls_sni", check_hostname("x", t.tls_sni));
    o.range(p + ".weight", t.weight, 0, 1000);
  }
  if (r.auth) {
    const Auth& a = *r.auth;
    std::string p = at + ".auth";
    for (auto& m : a.methods)
      if (!one_of(m, {"users", "password", "pin", "email", "share-links", "basic", "mtls"}))
        o.add(p + ".methods", "'" + m + "': not a method");
    o.range(p + ".pin_digits", a.pin_digits, 4, 12);
    o.range(p + ".session_ttl", a.session_ttl, 1, 10LL * 366 * 86400);
    o.range(p + ".rate_per_sec", a.rate_per_sec, 0, 1000000);
    o.range(p + ".rate_burst", a.rate_burst, 0, 1000000);
    for (auto& e : a.email_allow)
      o.check(p + ".email_allow", check_email("x", e.size() && e[0] == '@' ? "x" + e : e));
    if (!a.is_public) {
      auto set = [](const Secret& s) { return (s.hash && !s.hash->empty()) || s.plain; };
      if (a.methods.empty()) o.add(p + ".methods", "a protected resource needs a method");
      if (a.has("password") && !set(a.password))
        o.add(p + ".password", "the password method needs a password");
      if (a.has("pin") && !set(a.pin)) o.add(p + ".pin", "the pin method needs a PIN");
      if (a.has("email") && a.email_allow.empty())
        o.add(p + ".email_allow", "the email method needs an allow list");
      if (a.has("mtls") && r.client_ca.empty())
        o.add(p + ".methods", "the mtls method needs the resource's client_ca");
    }
  }
  for (size_t i = 0; i < r.rules.size(); ++i) {
    const Rule& ru = r.rules[i];
    std::string p = at + ".rules." + std::to_string(i + 1);
    if (!one_of(ru.action, {"ACCEPT", "DROP", "PASS"}))
      o.add(p + ".action", "'" + ru.action + "': ACCEPT, DROP or PASS");
    o.range(p + ".priority", ru.priority, 0, 1000000);
  }
  return v;
}

std::vector<Problem> validate_forward(const Forward& f, const std::string& at) {
  std::vector<Problem> v;
  Out o{v};
  if (!f.name.empty()) o.check(at + ".name", check_name("x", f.name));
  if (!one_of(f.protocol, {"tcp", "udp"}))
    o.add(at + ".protocol", "'" + f.protocol + "': tcp or udp");
  if (f.port == 0) o.add(at + ".port", "port 0 is not allowed");
  o.check(at + ".site", check_name("x", f.site));
  o.check(at + ".target", check_host_port("x", f.target));
  for (auto& a : f.allow) o.check(at + ".allow", check_cidr("x", a));
  for (auto& a : f.deny) o.check(at + ".deny", check_cidr("x", a));
  for (auto* list : {&f.allow_countries, &f.deny_countries})
    for (auto& c : *list)
      if (c.size() != 2 || !std::isupper(static_cast<unsigned char>(c[0])) ||
          !std::isupper(static_cast<unsigned char>(c[1])))
        o.add(at + (list == &f.allow_countries ? ".allow_countries" : ".deny_countries"),
              "'" + c + "': not an ISO 3166-1 alpha-2 code");
  o.range(at + ".max_conns", f.max_conns, 0, 1000000);
  o.range(at + ".conn_rate", f.conn_rate, 0, 1000000);
  o.range(at + ".conn_burst", f.conn_burst, 0, 1000000);
  if (f.tls_client_cert && f.protocol != "tcp")
    o.add(at + ".tls_client_cert", "TLS is for tcp forwards");
  return v;
}

std::vector<Problem> validate(const Installation& m) {
  std::vector<Problem> v;
  Out o{v};
  auto append = [&](std::vector<Problem> more) {
    for (auto& p : more) v.push_back(std::move(p));
  };
  for (auto& [n, s] : m.sites) o.check("sites." + n, check_name("x", n));
  for (auto& [k, f] : m.forwards) {
    std::string at = "forwards." + k.first + "." + std::to_string(k.second);
    append(validate_forward(f, at));
    if (!m.sites.count(f.site)) o.add(at + ".site", "no site " + f.site);
  }
  std::set<std::pair<std::string, std::string>> served;
  for (auto& [n, r] : m.resources) {
    std::string at = "resources." + n;
    append(validate_resource(r, at));
    if (!served.insert({r.host, r.path}).second)
      o.add(at + ".host", "another resource already serves " + r.host + r.path);
    for (size_t i = 0; i < r.targets.size(); ++i)
      if (!r.targets[i].site.empty() && !m.sites.count(r.targets[i].site))
        o.add(at + ".targets." + std::to_string(i + 1) + ".site", "no site " + r.targets[i].site);
    for (auto& ro : r.roles)
      if (!m.roles.count(ro)) o.add(at + ".roles", "no role " + ro);
    for (auto& u : r.users)
      if (!m.users.count(u)) o.add(at + ".users", "no user " + u);
  }
  for (auto& [n, r] : m.roles) o.check("roles." + n, check_name("x", n));
  for (auto& [e, u] : m.users) {
    o.check("users." + e, check_email("x", e));
    for (auto& ro : u.roles)
      if (!m.roles.count(ro)) o.add("users." + e + ".roles", "no role " + ro);
  }
  return v;
}

}  // namespace model
