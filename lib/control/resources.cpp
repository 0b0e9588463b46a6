// control resources: see resources.h.
#include "control/resources.h"

#include <algorithm>
#include <cctype>

#include <ctime>

#include "control/detail.h"
#include "control/input.h"
#include "core/text.h"
#include "model/check.h"
#include "model/model.h"
#include "tunnel/access.h"

namespace control {

using core::Errc;
namespace bj = boost::json;

namespace detail {
core::Result<bool> exists_row(store::Db& db, std::string_view sql, std::string_view arg) {
  WARREN_TRY(st, db.prepare(sql));
  st.bind(1, arg);
  return st.step();
}
}  // namespace detail

namespace {

bool is_token_char(char ch) {
  return std::isalnum(static_cast<unsigned char>(ch)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(ch) != std::string_view::npos;
}

// The name a forward shows when it has none in the store.
std::string forward_name(const std::string& name, const std::string& proto, int64_t port) {
  return name.empty() ? proto + ":" + std::to_string(port) : name;
}

// peerctl's flat view of the model's objects: an HTTP resource or a forward.
Resource view(const model::Resource& m) {
  Resource r;
  r.id = m.id;
  r.name = m.name;
  r.host = m.host;
  r.path = m.path;
  r.tls = m.tls;
  r.redirect_https = m.redirect_https;
  r.hsts = m.hsts;
  r.headers = m.headers;
  r.lb = m.lb;
  r.sticky = m.sticky;
  r.host_header = m.host_header;
  r.mtls = m.mtls;
  r.client_ca = m.client_ca;
  r.client_crl = m.client_crl;
  r.health_path = m.health_path;
  r.health_interval_ms = m.health_interval_ms;
  r.health_timeout_ms = m.health_timeout_ms;
  r.health_rise = m.health_rise;
  r.health_fall = m.health_fall;
  r.enabled = m.enabled;
  r.created_at = m.created_at;
  r.updated_at = m.updated_at;
  return r;
}

Resource view(const model::Forward& f) {
  Resource r;
  r.kind = f.protocol;
  r.port = f.port;
  r.name = forward_name(f.name, f.protocol, f.port);
  r.path.clear();
  r.site = f.site;
  r.to = f.target;
  r.enabled = f.enabled;
  r.created_at = f.created_at;
  r.allow = f.allow;
  r.deny = f.deny;
  r.allow_countries = f.allow_countries;
  r.deny_countries = f.deny_countries;
  r.max_conns = f.max_conns;
  r.conn_rate = f.conn_rate;
  r.conn_burst = f.conn_burst;
  r.tls_client_cert = f.tls_client_cert;
  return r;
}

// The view's fields into the model's object (what the noun can set; the rest stays).
void put(const Resource& r, model::Resource& m) {
  m.name = r.name;
  m.host = r.host;
  m.path = r.path;
  m.tls = r.tls;
  m.redirect_https = r.redirect_https;
  m.hsts = r.hsts;
  m.headers = r.headers;
  m.lb = r.lb;
  m.sticky = r.sticky;
  m.host_header = r.host_header;
  m.mtls = r.mtls;
  m.client_ca = r.client_ca;
  m.client_crl = r.client_crl;
  m.health_path = r.health_path;
  m.health_interval_ms = r.health_interval_ms;
  m.health_timeout_ms = r.health_timeout_ms;
  m.health_rise = r.health_rise;
  m.health_fall = r.health_fall;
  m.enabled = r.enabled;
}

model::Forward forward_of(const Resource& r) {
  model::Forward f;
  f.name = r.name;
  f.protocol = r.kind;
  f.port = r.port;
  f.site = r.site;
  f.target = r.to;
  f.enabled = r.enabled;
  f.allow = r.allow;
  f.deny = r.deny;
  f.allow_countries = r.allow_countries;
  f.deny_countries = r.deny_countries;
  f.max_conns = r.max_conns;
  f.conn_rate = r.conn_rate;
  f.conn_burst = r.conn_burst;
  f.tls_client_cert = r.tls_client_cert;
  return f;
}

Target target_view(const model::Resource& r, const model::Target& t) {
  Target v;
  v.id = t.id;
  v.resource = r.name;
  v.scheme = t.tls ? "https" : "http";
  v.site = t.site;
  v.host = t.host;
  v.port = t.port;
  v.weight = static_cast<int>(t.weight);
  v.tls_verify = t.tls_verify;
  v.sni = t.tls_sni;
  v.enabled = t.enabled;
  return v;
}

void put_target(const Target& v, model::Target& t) {
  t.tls = v.scheme == "https";
  t.site = v.site;
  t.host = v.host;
  t.port = v.port;
  t.weight = v.weight;
  t.tls_verify = v.tls_verify;
  t.tls_sni = v.sni;
  t.enabled = v.enabled;
}

// A problem model::validate_resource found, in the words of peerctl's flags: the neutral path
// "resources.app.auth.pin_digits" is "--pin-digits".
core::Error flag_error(const model::Problem& p) {
  static const std::pair<std::string_view, std::string_view> kFlags[] = {
      {".auth.pin_digits", "--pin-digits"},
      {".auth.session_ttl", "--session-ttl"},
      {".auth.rate_per_sec", "--rate"},
      {".auth.rate_burst", "--burst"},
      {".auth.email_allow", "--email-allow"},
      {".auth.methods", "--auth"},
      {".auth.password", "--password-file"},
      {".auth.pin", "--pin-file"},
      {".health.interval_ms", "--health-interval"},
      {".health.timeout_ms", "--health-timeout"},
      {".health.rise", "--health-rise"},
      {".health.fall", "--health-fall"},
      {".health.path", "--health-path"},
      {".host_header", "--host-header"},
      {".client_ca", "--client-ca"},
      {".mtls", "--mtls-mode"},
      {".hsts", "--hsts"},
      {".host", "--host"},
      {".path", "--path"},
      {".name", "NAME"},
      {".lb", "--lb"},
  };
  std::string_view path = p.path;
  for (auto [suffix, flag] : kFlags)
    if (path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix)
      return core::err(Errc::data, std::string(flag) + ": " + p.message);
  if (path.find(".targets.") != std::string_view::npos)
    return core::err(Errc::data, "target: " + p.message);
  return core::err(Errc::data, p.path + ": " + p.message);
}

core::Result<void> check_model(const model::Resource& r) {
  auto v = model::validate_resource(r, "resources." + r.name);
  if (!v.empty()) return flag_error(v.front());
  return {};
}

// The HTTP resource or the forward a noun names (a forward by its name or "tcp:PORT").
model::Resource* find_http(model::Installation& m, std::string_view name) {
  auto it = m.resources.find(std::string(name));
  return it == m.resources.end() ? nullptr : &it->second;
}

model::Forward* find_forward(model::Installation& m, std::string_view name) {
  for (auto& [k, f] : m.forwards)
    if (forward_name(f.name, f.protocol, f.port) == name) return &f;
  return nullptr;
}

// Errc::data when `name`, (host, path) or (protocol, port) is taken by another object than
// `self` (the name being replaced in an update).
core::Result<void> check_unique(const model::Installation& m, const Resource& r,
                                std::string_view self) {
  for (auto& [n, o] : m.resources) {
    if (n == self) continue;
    if (n == r.name) return detail::exists("resource", r.name);
    if (r.kind == "http" && o.host == r.host && o.path == r.path)
      return core::err(Errc::data, "resource " + n + " already serves " + r.host + r.path);
  }
  for (auto& [k, f] : m.forwards) {
    std::string n = forward_name(f.name, f.protocol, f.port);
    if (n == self) continue;
    if (n == r.name) return detail::exists("resource", r.name);
    if (r.kind == f.protocol && f.port == r.port)
      return core::err(Errc::data, "resource " + n + " already forwards " + r.kind + " port " +
                                       std::to_string(r.port));
  }
  return {};
}

core::Result<void> need_site(const model::Installation& m, const std::string& site) {
  if (!site.empty() && !m.sites.count(site)) return detail::missing("site", site);
  return {};
}

}  // namespace

core::Result<std::string> check_header(std::string_view field, std::string_view v) {
  size_t colon = v.find(':');
  auto bad = [&](const char* why) {
    return core::err(Errc::data,
                     std::string(field) + ": '" + std::string(v.substr(0, 200)) + "': " + why);
  };
  if (colon == v.npos || colon == 0) return bad("not a header (want 'Name: value')");
  std::string_view name = v.substr(0, colon);
  std::string_view value = core::trim(v.substr(colon + 1));
  for (char ch : name)
    if (!is_token_char(ch)) return bad("not a valid header name");
  for (char ch : value) {
    unsigned char u = static_cast<unsigned char>(ch);
    if ((u < 0x20 && ch != '\t') || u == 0x7f) return bad("control character in the value");
  }
  std::string lname = core::to_lower(name);
  if (lname == "host" || lname == "content-length" || lname == "transfer-encoding" ||
      lname == "connection" || core::starts_with(lname, "remote-"))
    return bad("this header is set by edged");
  return std::string(name) + ": " + std::string(value);
}

namespace {

// The access settings of a forward, as tunneld will read them (tunnel::make_forward_access).
core::Result<void> check_forward_access(const Resource& r) {
  auto field = [](const char* f, const core::Error& e) {
    return core::err(Errc::data, std::string(f) + ": " + e.message);
  };
  for (const auto& a : r.allow)
    if (auto c = auth::parse_cidr(a); !c) return field("--allow", c.error());
  for (const auto& a : r.deny)
    if (auto c = auth::parse_cidr(a); !c) return field("--deny", c.error());
  for (const auto& cc : r.allow_countries)
    if (auto c = tunnel::check_country(cc); !c || *c != cc)
      return field("--allow-country", c ? core::Error{Errc::data, "not upper-case"} : c.error());
  for (const auto& cc : r.deny_countries)
    if (auto c = tunnel::check_country(cc); !c || *c != cc)
      return field("--deny-country", c ? core::Error{Errc::data, "not upper-case"} : c.error());
  auto limit = [](const char* f, int64_t v) -> core::Result<void> {
    if (v < 0 || v > 1000000)
      return core::err(Errc::data, std::string(f) + ": " + std::to_string(v) + ": 0 to 1000000");
    return {};
  };
  WARREN_CHECK(limit("--max-conns", r.max_conns));
  WARREN_CHECK(limit("--conn-rate", r.conn_rate));
  WARREN_CHECK(limit("--conn-burst", r.conn_burst));
  if (r.tls_client_cert && r.kind != "tcp")
    return core::err(Errc::data, "--tls-client-cert: TLS is for tcp forwards, not " + r.kind);
  return {};
}

}  // namespace

core::Result<void> check_resource(const Resource& r) {
  WARREN_CHECK(model::check_name("NAME", r.name));
  if (r.name.find(':') != std::string::npos)
    return core::err(Errc::data, "NAME: '" + r.name + "': ':' is reserved");
  if (r.kind == "http") {
    WARREN_CHECK(model::check_hostname("--host", r.host));
    WARREN_CHECK(model::check_path_prefix("--path", r.path));
    for (const auto& h : r.headers) WARREN_CHECK(check_header("--header", h));
    if (r.mtls != "off" && r.mtls != "optional" && r.mtls != "required")
      return core::err(Errc::data, "--mtls-mode: '" + r.mtls + "': off, optional or required");
    if (r.mtls != "off" && r.client_ca.empty())
      return core::err(Errc::data, "--client-ca: mTLS needs a client CA bundle");
    if (!r.health_path.empty())
      WARREN_CHECK(model::check_path_prefix("--health-path", r.health_path));
    if (r.health_interval_ms < 0) return core::err(Errc::data, "--health-interval: negative");
    // The rest of a resource's values: model::validate_resource, when the change is made.
    return {};
  }
  if (r.kind != "tcp" && r.kind != "udp")
    return core::err(Errc::data, "kind '" + r.kind + "': http, tcp or udp");
  if (r.port == 0) return core::err(Errc::data, "--" + r.kind + ": port 0 is not allowed");
  WARREN_CHECK(model::check_name("--site", r.site));
  WARREN_CHECK(model::check_host_port("--to", r.to));
  return check_forward_access(r);
}

core::Result<std::vector<Resource>> list_resources(store::Db& db) {
  WARREN_TRY(m, model::read(db));
  std::vector<Resource> out;
  for (auto& [n, r] : m.resources) out.push_back(view(r));
  for (auto& [k, f] : m.forwards) out.push_back(view(f));
  std::stable_sort(out.begin(), out.end(),
                   [](const Resource& a, const Resource& b) { return a.name < b.name; });
  return out;
}

core::Result<Resource> find_resource(store::Db& db, std::string_view name) {
  WARREN_TRY(m, model::read(db));
  if (auto* r = find_http(m, name)) return view(*r);
  if (auto* f = find_forward(m, name)) return view(*f);
  return detail::missing("resource", name);
}

core::Result<int64_t> http_resource_id(store::Db& db, std::string_view name) {
  WARREN_TRY(r, find_resource(db, name));
  if (r.kind != "http")
    return core::err(Errc::data, "resource " + r.name + " is a " + r.kind +
                                     " forward (only HTTP resources have this)");
  return r.id;
}

core::Result<void> add_resource(store::Db& db, const Resource& r, std::string_view actor,
                                int64_t now) {
  WARREN_CHECK(check_resource(r));
  return detail::change(db, actor, now, [&](model::Installation& m) -> core::Result<void> {
    WARREN_CHECK(check_unique(m, r, ""));
    if (r.kind == "http") {
      model::Resource x;
      put(r, x);
      WARREN_CHECK(check_model(x));
      m.resources[r.name] = std::move(x);
    } else {
      WARREN_CHECK(need_site(m, r.site));
      m.forwards[{r.kind, r.port}] = forward_of(r);
    }
    return {};
  });
}

core::Result<void> update_resource(store::Db& db, std::string_view name, const Resource& r,
                                   std::string_view actor, int64_t now) {
  WARREN_CHECK(check_resource(r));
  return detail::change(db, actor, now, [&](model::Installation& m) -> core::Result<void> {
    auto* http = find_http(m, name);
    auto* fwd = http ? nullptr : find_forward(m, name);
    if (!http && !fwd) return detail::missing("resource", name);
    std::string kind = http ? "http" : fwd->protocol;
    if (kind != r.kind)
      return core::err(Errc::data,
                       "resource " + std::string(name) + " is " + kind + ", not " + r.kind);
    WARREN_CHECK(check_unique(m, r, name));
    if (http) {
      // A rename moves the object; the store keeps its id (and so its targets and grants).
      model::Resource x = *http;
      put(r, x);
      WARREN_CHECK(check_model(x));
      m.resources.erase(std::string(name));
      m.resources[r.name] = std::move(x);
    } else {
      if (r.site != fwd->site) WARREN_CHECK(need_site(m, r.site));
      model::Forward f = forward_of(r);
      f.created_at = fwd->created_at;
      m.forwards.erase({fwd->protocol, fwd->port});
      m.forwards[{f.protocol, f.port}] = std::move(f);
    }
    return {};
  });
}

core::Result<void> remove_resource(store::Db& db, std::string_view name, std::string_view actor) {
  return detail::change(db, actor, ::time(nullptr),
                        [&](model::Installation& m) -> core::Result<void> {
                          if (find_http(m, name)) {
                            m.resources.erase(std::string(name));
                          } else if (auto* f = find_forward(m, name)) {
                            m.forwards.erase({f->protocol, f->port});
                          } else {
                            return detail::missing("resource", name);
                          }
                          return {};
                        });
}

core::Result<void> set_resource_enabled(store::Db& db, std::string_view name, bool enabled,
                                        std::string_view actor, int64_t now) {
  return detail::change(db, actor, now, [&](model::Installation& m) -> core::Result<void> {
    if (auto* r = find_http(m, name))
      r->enabled = enabled;
    else if (auto* f = find_forward(m, name))
      f->enabled = enabled;
    else
      return detail::missing("resource", name);
    return {};
  });
}

// ---------------------------------------------------------------------------------------------
// targets

core::Result<void> parse_target(store::Db& db, std::string_view field, std::string_view spec,
                                Target& t) {
  auto m = model::parse_target(spec);
  if (!m) {  // "--to: bad target "x": why" -> "--to: 'x': why"
    const std::string& e = m.error().message;
    size_t why = e.find("\": ");
    return core::err(Errc::data, std::string(field) + ": '" + std::string(spec) + "'" +
                                     (why == std::string::npos ? ": " + e : e.substr(why + 1)));
  }
  if (!m->site.empty()) {
    WARREN_TRY(found, detail::exists_row(db, "SELECT 1 FROM sites WHERE name = ?1", m->site));
    if (!found) return detail::missing("site", m->site).context(std::string(field));
  }
  t.site = m->site;
  t.host = m->host;
  t.port = m->port;
  if (spec.find("://") != std::string_view::npos) t.scheme = m->tls ? "https" : "http";
  return {};
}

std::string target_address(const Target& t) {
  model::Target m;
  put_target(t, m);
  return m.str();
}

namespace {

core::Result<void> check_target(const Target& t) {
  if (t.scheme != "http" && t.scheme != "https")
    return core::err(Errc::data, "--scheme: '" + t.scheme + "': http or https");
  if (t.weight < 0 || t.weight > 1000)
    return core::err(Errc::data, "--weight: '" + std::to_string(t.weight) + "': 0 to 1000");
  if (t.host.empty() || t.port == 0) return core::err(Errc::data, "target: no host:port");
  if (!t.sni.empty()) WARREN_CHECK(model::check_hostname("--sni", t.sni));
  return {};
}

// The target with store id `id`, and its resource.
std::pair<model::Resource*, model::Target*> target_by_id(model::Installation& m, int64_t id) {
  for (auto& [n, r] : m.resources)
    for (auto& t : r.targets)
      if (t.id == id) return {&r, &t};
  return {nullptr, nullptr};
}

}  // namespace

core::Result<std::vector<Target>> list_targets(store::Db& db, std::string_view resource) {
  WARREN_TRY(m, model::read(db));
  WARREN_TRY(r, detail::http_of(m, resource));
  std::vector<Target> out;
  for (auto& t : r->targets) out.push_back(target_view(*r, t));
  return out;
}

core::Result<Target> find_target(store::Db& db, int64_t id) {
  WARREN_TRY(m, model::read(db));
  auto [r, t] = target_by_id(m, id);
  if (!t) return detail::missing("target", std::to_string(id));
  return target_view(*r, *t);
}

core::Result<int64_t> add_target(store::Db& db, const Target& t, std::string_view actor,
                                 int64_t now) {
  WARREN_CHECK(check_target(t));
  WARREN_TRY(tx, store::Tx::begin(db));  // the id is read back in the same transaction
  int64_t before = 0;
  WARREN_CHECK(detail::change(db, actor, now, [&](model::Installation& m) -> core::Result<void> {
    WARREN_TRY(r, detail::http_of(m, t.resource));
    for (const auto& o : r->targets)
      if (o.site == t.site && o.host == t.host && o.port == t.port)
        return core::err(Errc::data, "target " + std::to_string(o.id) + " of " + t.resource +
                                         " already goes to " + target_address(target_view(*r, o)));
    for (auto& [n, x] : m.resources)
      for (auto& o : x.targets) before = std::max(before, o.id);
    model::Target x;
    put_target(t, x);
    r->targets.push_back(std::move(x));
    return {};
  }));
  // The new row's id: the one target of the resource above every id there was.
  WARREN_TRY(m, model::read(db));
  WARREN_TRY(r, detail::http_of(m, t.resource));
  for (auto& o : r->targets)
    if (o.id > before) {
      WARREN_CHECK(tx.commit());
      return o.id;
    }
  return core::err(Errc::internal, "target added but not found");
}

core::Result<void> update_target(store::Db& db, const Target& t, std::string_view actor) {
  WARREN_CHECK(check_target(t));
  return detail::change(db, actor, ::time(nullptr),
                        [&](model::Installation& m) -> core::Result<void> {
                          auto [r, x] = target_by_id(m, t.id);
                          if (!x) return detail::missing("target", std::to_string(t.id));
                          put_target(t, *x);
                          return {};
                        });
}

core::Result<void> remove_target(store::Db& db, int64_t id, std::string_view actor) {
  return detail::change(db, actor, ::time(nullptr),
                        [&](model::Installation& m) -> core::Result<void> {
                          auto [r, x] = target_by_id(m, id);
                          if (!x) return detail::missing("target", std::to_string(id));
                          r->targets.erase(r->targets.begin() + (x - r->targets.data()));
                          return {};
                        });
}

// ---------------------------------------------------------------------------------------------
// auth settings

std::vector<std::string> auth_methods(const Auth& a) {
  std::vector<std::string> m;
  if (a.users) m.push_back("users");
  if (a.password) m.push_back("password");
  if (a.pin) m.push_back("pin");
  if (a.email) m.push_back("email");
  if (a.share_links) m.push_back("share-links");
  if (a.basic) m.push_back("basic");
  if (a.mtls) m.push_back("mtls");
  return m;
}

bool set_auth_method(Auth& a, std::string_view m, bool on) {
  bool* f = m == "users"                                 ? &a.users
            : m == "password"                            ? &a.password
            : m == "pin"                                 ? &a.pin
            : m == "email"                               ? &a.email
            : (m == "share-links" || m == "share_links") ? &a.share_links
            : m == "basic"                               ? &a.basic
            : m == "mtls"                                ? &a.mtls
                                                         : nullptr;
  if (!f) return false;
  *f = on;
  return true;
}

core::Result<std::string> check_email_allow(std::string_view field, std::string_view v) {
  if (!v.empty() && v.front() == '@') {
    WARREN_TRY(e, model::check_email(field, "x" + std::string(v)));
    return e.substr(1);
  }
  return model::check_email(field, v);
}

namespace {

Auth auth_view(const model::Resource& r) {
  Auth a;
  a.roles = r.roles;
  if (!r.auth) return a;
  const model::Auth& m = *r.auth;
  a.configured = true;
  a.is_public = m.is_public;
  for (auto& x : m.methods) set_auth_method(a, x, true);
  a.pin_digits = static_cast<int>(m.pin_digits);
  a.password_hash = m.password.hash.value_or("");
  a.pin_hash = m.pin.hash.value_or("");
  a.session_ttl = m.session_ttl;
  a.rate_per_sec = m.rate_per_sec;
  a.rate_burst = m.rate_burst;
  a.email_allow = m.email_allow;
  return a;
}

}  // namespace

core::Result<Auth> load_auth(store::Db& db, int64_t rid) {
  WARREN_TRY(m, model::read(db));
  for (auto& [n, r] : m.resources)
    if (r.id == rid) return auth_view(r);
  return Auth{};
}

core::Result<void> save_auth(store::Db& db, std::string_view resource, const Auth& a,
                             std::string_view actor, int64_t now) {
  if (!a.is_public) {
    if (auth_methods(a).empty())
      return core::err(Errc::data,
                       "--auth: a protected resource needs at least one method (or --public)");
    if (a.password && a.password_hash.empty())
      return core::err(Errc::data, "--auth: the password method needs --password-file");
    if (a.pin && a.pin_hash.empty())
      return core::err(Errc::data, "--auth: the pin method needs --pin-file");
    if (a.email && a.email_allow.empty())
      return core::err(Errc::data, "--auth: the email method needs --email-allow");
  }
  std::vector<std::string> allow;
  for (const auto& e : a.email_allow) {
    WARREN_TRY(entry, check_email_allow("--email-allow", e));
    if (std::find(allow.begin(), allow.end(), entry) == allow.end()) allow.push_back(entry);
  }
  std::sort(allow.begin(), allow.end());
  return detail::change(db, actor, now, [&](model::Installation& m) -> core::Result<void> {
    WARREN_TRY(r, detail::http_of(m, resource));
    if (a.mtls && !a.is_public && r->client_ca.empty())
      return core::err(Errc::data, "--mtls: resource " + r->name +
                                       " has no client CA (peerctl resource set " + r->name +
                                       " --client-ca FILE)");
    for (const auto& role : a.roles)
      if (!m.roles.count(role)) return detail::missing("role", role).context("--role");
    model::Auth x = r->auth.value_or(model::Auth{});
    x.is_public = a.is_public;
    x.methods = auth_methods(a);
    std::sort(x.methods.begin(), x.methods.end());
    x.pin_digits = a.pin_digits;
    x.password = model::Secret{a.password_hash, std::nullopt};  // "" clears it
    x.pin = model::Secret{a.pin_hash, std::nullopt};
    x.session_ttl = a.session_ttl;
    x.rate_per_sec = a.rate_per_sec;
    x.rate_burst = a.rate_burst;
    x.email_allow = allow;
    r->auth = std::move(x);
    WARREN_CHECK(check_model(*r));
    r->roles = a.roles;  // the roles that may pass are the resource's role grants
    std::sort(r->roles.begin(), r->roles.end());
    r->roles.erase(std::unique(r->roles.begin(), r->roles.end()), r->roles.end());
    return {};
  });
}

namespace detail {

core::Result<void> change(store::Db& db, std::string_view actor, int64_t now,
                          const std::function<core::Result<void>(model::Installation&)>& edit) {
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(have, model::read(db));
  model::Installation want = have;
  WARREN_CHECK(edit(want));
  WARREN_TRY(plan, model::diff(want, have));
  WARREN_CHECK(model::apply(db, plan, actor, now, "peerctl"));
  return tx.commit();
}

core::Result<model::Resource*> http_of(model::Installation& m, std::string_view name) {
  if (auto* r = find_http(m, name)) return r;
  if (auto* f = find_forward(m, name))
    return core::err(Errc::data, "resource " + std::string(name) + " is a " + f->protocol +
                                     " forward (only HTTP resources have this)");
  return missing("resource", name);
}

}  // namespace detail

}  // namespace control
