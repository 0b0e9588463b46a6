// blueprint::parse — TOML blueprint text into a model::Installation, every value validated where it
// is written so that errors name file:line:column and the dotted key.
#include <algorithm>
#include <set>

#include "blueprint/blueprint.h"
#include "config/config.h"
#include "control/access.h"
#include "control/resources.h"
#include "core/fs.h"
#include "core/text.h"
#include "crypto/crypto.h"
#include "model/check.h"
#include "tunnel/access.h"
#include "tunnel/sites.h"

namespace blueprint {

using namespace model;

namespace {

using config::Reader;

// Runs a control:: check; on failure records it at the key (without repeating the key).
template <class T>
bool check(Reader& r, std::string_view key, core::Result<T> res, T& out) {
  if (!res) {
    std::string m = res.error().message;
    std::string pre = std::string(key) + ": ";
    if (m.compare(0, pre.size(), pre) == 0) m.erase(0, pre.size());
    r.fail(key, m);
    return false;
  }
  out = std::move(*res);
  return true;
}

std::string join(const std::vector<std::string>& v, const char* sep = " ") {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

std::vector<std::string> sorted_unique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

void read_secret(Reader& r, const std::string& key, const std::string& base, Secret& out) {
  std::string hash, file;
  bool h = r.get(key + "_hash", hash);
  bool f = r.get(key + "_file", file);
  if (h && f) {
    r.fail(key + "_file", "give " + key + "_hash or " + key + "_file, not both");
    return;
  }
  if (h) {
    if (!core::starts_with(hash, "$argon2id$"))
      r.fail(key + "_hash", "expected an argon2id hash (\"$argon2id$v=19$...\")");
    else
      out.hash = hash;
  }
  if (f) {
    std::string path =
        (!file.empty() && file[0] != '/' && !base.empty()) ? base + "/" + file : file;
    auto text = core::read_file(path, 4096);
    if (!text) {
      r.fail(key + "_file", text.error().message);
      return;
    }
    std::string s = *text;
    if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
    if (!s.empty() && s.back() == '\r') s.pop_back();
    crypto::wipe(text->data(), text->size());
    if (s.empty()) {
      r.fail(key + "_file", path + ": empty");
      return;
    }
    out.plain = std::move(s);
  }
}

// A resource's grants: `roles` and `users` (in its auth table, or beside it without one).
void read_grants(Reader& a, Resource& res) {
  std::vector<std::string> list;
  if (a.get("roles", list)) {
    for (auto& x : list) {
      std::string v;
      if (!check(a, "roles", control::check_role("roles", x), v)) break;
      res.roles.push_back(v);
    }
    res.roles = sorted_unique(res.roles);
  }
  list.clear();
  if (a.get("users", list)) {
    for (auto& e : list) {
      std::string v;
      if (!check(a, "users", model::check_email("users", e), v)) break;
      res.users.push_back(v);
    }
    res.users = sorted_unique(res.users);
  }
}

void parse_auth(Reader& a, const std::string& base, Auth& au, Resource& res) {
  a.get("public", au.is_public);
  std::vector<std::string> methods;
  if (a.get("methods", methods)) {
    static const std::set<std::string> known = {"users",       "password", "pin", "email",
                                                "share-links", "basic",    "mtls"};
    for (auto& m : methods) {
      if (m == "share_links") m = "share-links";
      if (!known.count(m)) {
        a.fail("methods", "unknown method \"" + m +
                              "\" (users, password, pin, email, share-links, basic, mtls)");
        break;
      }
    }
    au.methods = sorted_unique(methods);
  }
  a.get("pin_digits", au.pin_digits, 4, 12);
  std::chrono::milliseconds ttl{au.session_ttl * 1000};
  if (a.get_duration("session_ttl", ttl, std::chrono::milliseconds(1000),
                     std::chrono::milliseconds(int64_t{10} * 365 * 86400 * 1000)))
    au.session_ttl = ttl.count() / 1000;
  a.get("rate_per_sec", au.rate_per_sec, 0, 1000000);
  a.get("rate_burst", au.rate_burst, 0, 1000000);
  std::vector<std::string> list;
  if (a.get("email_allow", list)) {
    for (auto& e : list) {
      std::string v;
      if (!check(a, "email_allow", control::check_email_allow("email_allow", e), v)) break;
      au.email_allow.push_back(v);
    }
    au.email_allow = sorted_unique(au.email_allow);
  }
  read_grants(a, res);
  read_secret(a, "password", base, au.password);
  read_secret(a, "pin", base, au.pin);
  if (au.pin.plain) {
    bool digits = std::all_of(au.pin.plain->begin(), au.pin.plain->end(),
                              [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || au.pin.plain->size() != size_t(au.pin_digits))
      a.fail("pin_file", "the PIN must be " + std::to_string(au.pin_digits) + " digits");
  }
}

// Checked as `peerctl rule add` checks it (control::check_rule: the parse edged does).
void parse_rule(Reader& x, Rule& ru) {
  control::RuleRow row;
  int64_t prio = 100;
  x.get("priority", prio, 0, 1000000);
  row.priority = static_cast<int>(prio);
  x.need("action", row.action);
  x.get("ips", row.ips);
  x.get("path", row.path_glob);
  x.get("methods", row.methods);
  x.get("countries", row.countries);
  x.get("enabled", ru.enabled);
  if (row.action.empty()) return;
  auto ok = control::check_rule(row);
  if (!ok) {
    // "--ip: '…': why" -> at the blueprint's key.
    static const std::pair<const char*, const char*> keys[] = {
        {"--action", "action"},  {"--priority", "priority"}, {"--ip", "ips"},
        {"--method", "methods"}, {"--country", "countries"}, {"--path", "path"}};
    std::string m = ok.error().message;
    const char* key = "action";
    for (auto& [flag, k] : keys)
      if (m.rfind(std::string(flag) + ": ", 0) == 0) {
        key = k;
        m.erase(0, std::string(flag).size() + 2);
      }
    x.fail(key, m);
    return;
  }
  ru.priority = ok->priority;
  ru.action = ok->action;
  ru.ips = join(ok->ips);
  ru.path = ok->path_glob;
  ru.methods = join(ok->methods);
  ru.countries = join(ok->countries);
}

void parse_resource(Reader& r, const std::string& name, const std::string& base, Resource& res) {
  res.name = name;
  std::string host;
  if (r.need("host", host)) check(r, "host", model::check_hostname("host", host), res.host);
  std::string path;
  if (r.get("path", path)) check(r, "path", model::check_path_prefix("path", path), res.path);
  r.get("enabled", res.enabled);
  r.get_enum("lb", res.lb, {"round_robin", "least_conn"});
  r.get("sticky", res.sticky);
  r.get("redirect_https", res.redirect_https);
  r.get("hsts", res.hsts, int64_t(0), int64_t(63072000));  // max-age in seconds (0: none)
  r.get_enum("mtls", res.mtls, {"off", "optional", "required"});
  r.get("client_ca", res.client_ca);
  r.get("client_crl", res.client_crl);
  if (res.mtls != "off" && res.client_ca.empty())
    r.fail("mtls", "needs client_ca (a PEM bundle, e.g. from cactl export chain)");
  r.get("host_header", res.host_header);
  r.get("tls", res.tls);
  std::vector<std::string> headers;
  if (r.get("headers", headers))
    for (auto& h : headers) {
      std::string v;
      if (!check(r, "headers", control::check_header("headers", h), v)) break;
      res.headers.push_back(v);
    }
  bool verify = true;
  std::string sni;
  r.get("tls_verify", verify);
  r.get("tls_sni", sni);
  for (const char* key : {"targets", "disabled_targets"}) {
    std::vector<std::string> urls;
    r.get(key, urls);
    for (auto& u : urls) {
      auto t = model::parse_target(u);
      if (!t) {
        r.fail(key, t.error().message);
        continue;
      }
      t->tls_verify = verify;
      t->tls_sni = sni;
      t->enabled = std::string_view(key) == "targets";
      res.targets.push_back(std::move(*t));
    }
  }
  // The long form, one table per target, for weights and per-target TLS settings.
  for (auto& x : r.tables("target")) {
    std::string url;
    if (!x.need("url", url)) continue;
    auto t = model::parse_target(url);
    if (!t) {
      x.fail("url", t.error().message);
      continue;
    }
    x.get("weight", t->weight, 0, 1000);
    x.get("tls_verify", t->tls_verify);
    x.get("tls_sni", t->tls_sni);
    x.get("enabled", t->enabled);
    res.targets.push_back(std::move(*t));
  }
  auto h = r.table("health");
  if (h.get("path", res.health_path) && !res.health_path.empty() && res.health_path[0] != '/')
    h.fail("path", "must start with /");
  std::chrono::milliseconds ms{};
  if (h.get_duration("interval", ms, std::chrono::milliseconds(0),
                     std::chrono::milliseconds(3600000)))
    res.health_interval_ms = ms.count();
  if (h.get_duration("timeout", ms, std::chrono::milliseconds(10),
                     std::chrono::milliseconds(600000)))
    res.health_timeout_ms = ms.count();
  h.get("rise", res.health_rise, 1, 100);
  h.get("fall", res.health_fall, 1, 100);
  read_grants(r, res);
  auto a = r.table("auth");
  if (a.present()) {
    Auth au;
    parse_auth(a, base, au, res);
    res.auth = std::move(au);
  }
  for (auto& x : r.tables("rules")) {
    Rule ru;
    parse_rule(x, ru);
    res.rules.push_back(std::move(ru));
  }
  std::stable_sort(res.rules.begin(), res.rules.end(),
                   [](const Rule& a, const Rule& b) { return a.priority < b.priority; });
}

core::Error as_data(core::Error e) {
  e.code = core::Errc::data;
  return e;
}

}  // namespace

core::Result<Installation> parse(std::string_view toml, const std::string& name,
                                 const std::string& base_dir) {
  auto rr = config::parse_string(toml, name);
  if (!rr) return as_data(rr.error());
  Reader& r = *rr;
  Installation m;
  int64_t version = 1;
  r.get("version", version, 1, 1);

  m.has_sites = r.has("sites");
  for (auto& [n, s] : r.named_tables("sites")) {
    Site site;
    site.name = n;
    if (auto ok = tunnel::check_site_name(n); !ok) s.fail("", ok.error().message);
    std::string key;
    if (s.get("public_key", key)) {
      if (auto k = crypto::key_from_base64(key); !k)
        s.fail("public_key", "expected a 44-character base64 X25519 key");
      else
        site.public_key = key;
    }
    s.get("enabled", site.enabled);
    m.sites[n] = std::move(site);
  }

  m.has_forwards = r.has("forwards");
  for (auto& f : r.tables("forwards")) {
    Forward fw;
    if (f.get("name", fw.name))
      if (auto ok = model::check_name("name", fw.name); !ok) f.fail("name", "bad name");
    f.need("protocol", fw.protocol);
    if (f.has("protocol") && fw.protocol != "tcp" && fw.protocol != "udp")
      f.fail("protocol", "expected tcp or udp");
    f.need("port", fw.port, 1, 65535);
    f.need("site", fw.site);
    if (f.has("site"))
      if (auto ok = tunnel::check_site_name(fw.site); !ok) f.fail("site", ok.error().message);
    std::string target;
    if (f.need("target", target)) {
      model::HostPort hp;
      if (check(f, "target", model::check_host_port("target", target), hp)) fw.target = target;
    }
    f.get("enabled", fw.enabled);
    // Access settings, as `peerctl resource add --tcp … --allow …` takes them.
    for (auto [key, out] : {std::pair{"allow", &fw.allow}, std::pair{"deny", &fw.deny}}) {
      std::vector<std::string> v;
      f.get(key, v);
      for (auto& a : v) {
        std::string c;
        if (!check(f, key, model::check_cidr(key, a), c)) break;
        out->push_back(c);
      }
    }
    for (auto [key, out] : {std::pair{"allow_countries", &fw.allow_countries},
                            std::pair{"deny_countries", &fw.deny_countries}}) {
      std::vector<std::string> v;
      f.get(key, v);
      for (auto& cc : v) {
        std::string c;
        if (!check(f, key, tunnel::check_country(cc), c)) break;
        out->push_back(c);
      }
    }
    f.get("max_conns", fw.max_conns, 0, 1000000);
    f.get("conn_rate", fw.conn_rate, 0, 1000000);
    f.get("conn_burst", fw.conn_burst, 0, 1000000);
    f.get("tls_client_cert", fw.tls_client_cert);
    if (fw.tls_client_cert && fw.protocol == "udp")
      f.fail("tls_client_cert", "TLS is for tcp forwards, not udp");
    auto key = std::make_pair(fw.protocol, fw.port);
    if (!m.forwards.emplace(key, fw).second)
      f.fail("port", fw.protocol + " port " + std::to_string(fw.port) + " is declared twice");
  }

  m.has_resources = r.has("resources");
  std::map<std::pair<std::string, std::string>, std::string> where;
  for (auto& [n, x] : r.named_tables("resources")) {
    Resource res;
    std::string checked;
    if (auto ok = model::check_name("name", n); !ok) x.fail("", ok.error().message);
    parse_resource(x, n, base_dir, res);
    auto [it, fresh] = where.emplace(std::make_pair(res.host, res.path), n);
    if (!fresh && !res.host.empty())
      x.fail("host", "host " + res.host + " path " + res.path + " is also resource " + it->second);
    m.resources[n] = std::move(res);
  }

  m.has_roles = r.has("roles");
  for (auto& [n, x] : r.named_tables("roles")) {
    if (auto ok = control::check_role("role", n); !ok) x.fail("", ok.error().message);
    Role role{n, ""};
    x.get("description", role.description);
    m.roles[n] = std::move(role);
  }

  m.has_users = r.has("users");
  for (auto& [n, x] : r.named_tables("users")) {
    User u;
    if (!check(x, "", model::check_email("", n), u.email)) continue;
    x.get("name", u.name);
    x.get("enabled", u.enabled);
    std::vector<std::string> roles;
    std::vector<std::string> checked;
    if (x.get("roles", roles))
      for (auto& ro : roles) {
        std::string v;
        if (!check(x, "roles", control::check_role("roles", ro), v)) break;
        checked.push_back(v);
      }
    u.roles = sorted_unique(checked);
    read_secret(x, "password", base_dir, u.password);
    if (m.users.count(u.email)) x.fail("", "user " + u.email + " is declared twice");
    m.users[u.email] = std::move(u);
  }

  if (auto f = r.finish(); !f) return as_data(f.error());
  // Then the model's one validator, for what the keys above do not check one by one (ranges
  // and combinations). Access settings are the diff's question: whether a method has its
  // secret depends on the stored one (unmanaged: kept), and their values are checked above.
  std::vector<model::Problem> problems;
  for (auto& [n, res] : m.resources)
    for (auto& p : model::validate_resource(res, "resources." + n)) problems.push_back(p);
  for (auto& [k, f] : m.forwards)
    for (auto& p :
         model::validate_forward(f, "forwards." + k.first + "." + std::to_string(k.second)))
      problems.push_back(p);
  for (auto& p : problems) {
    if (p.path.find(".auth.") != std::string::npos) continue;
    return core::err(core::Errc::data, name + ": " + p.path + ": " + p.message);
  }
  return m;
}

}  // namespace blueprint
