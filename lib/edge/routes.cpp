#include "edge/routes.h"

#include <time.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cstring>
#include <set>

#include "auth/auth.h"
#include "auth/rules.h"
#include "blueprint/blueprint.h"
#include "config/config.h"
#include "core/fs.h"
#include "core/text.h"
#include "model/model.h"
#include "net/endpoint.h"
#include "store/store.h"

namespace edge {

int64_t now_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string TargetSpec::address() const {
  return net::HostPort(host, port).str();
}

std::string TargetSpec::str() const {
  std::string s;
  if (!site.empty())
    s = (tls ? "site+https://" : "site://") + site + "/";
  else
    s = tls ? "https://" : "http://";
  return s + address();
}

core::Result<TargetSpec> parse_target(std::string_view s) {
  WARREN_TRY(t, model::parse_target(s));
  return target_spec(t);
}

void TargetState::record(bool ok, int64_t now, int fail_limit, Millis cooldown) {
  if (ok) {
    fails.store(0, std::memory_order_relaxed);
    return;
  }
  failures.fetch_add(1, std::memory_order_relaxed);
  int n = fails.fetch_add(1, std::memory_order_relaxed) + 1;
  if (fail_limit > 0 && n >= fail_limit) {
    down_until.store(now + cooldown.count(), std::memory_order_relaxed);
    fails.store(0, std::memory_order_relaxed);
  }
}

std::string TargetState::down_reason(int64_t now, const char** kind) {
  const char* k = nullptr;
  std::string why;
  std::lock_guard lk(mu);
  if (!site_up.load(std::memory_order_relaxed)) {
    k = "site";
    why = site_reason;
  } else if (!healthy.load(std::memory_order_relaxed)) {
    k = "health_check";
    why = last_error.empty() ? "health check failing" : last_error;
  } else if (down_until.load(std::memory_order_relaxed) > now) {
    k = "passive";
    why = last_error.empty() ? "recent failures" : last_error;
  }
  if (kind) *kind = k;
  return why;
}

static std::string cookie_for(const std::string& key) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : key) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::shared_ptr<TargetState> TargetRegistry::get(const std::string& route, const TargetSpec& t) {
  std::string key = route + " " + t.str();
  std::lock_guard lk(mu_);
  auto& slot = map_[key];
  if (!slot) {
    slot = std::make_shared<TargetState>();
    slot->spec = t;
    slot->key = key;
    slot->cookie = cookie_for(key);
  }
  slot->spec = t;  // same identity; verify/SNI options may have changed
  return slot;
}

std::shared_ptr<Cursor> TargetRegistry::cursor(const std::string& route,
                                               const std::string& signature) {
  std::lock_guard lk(mu_);
  auto& slot = cursors_[route + "\n" + signature];
  if (!slot) slot = std::make_shared<Cursor>();
  return slot;
}

void TargetRegistry::prune() {
  std::lock_guard lk(mu_);
  for (auto it = map_.begin(); it != map_.end();)
    it = it->second.use_count() == 1 ? map_.erase(it) : std::next(it);
  for (auto it = cursors_.begin(); it != cursors_.end();)
    it = it->second.use_count() == 1 ? cursors_.erase(it) : std::next(it);
}

TargetState* Route::pick(int64_t now, std::string_view sticky_cookie,
                         const TargetState* skip) const {
  const size_t n = targets.size();
  if (n == 0) return nullptr;
  if (spec.sticky && !sticky_cookie.empty())
    for (auto& t : targets)
      if (t->cookie == sticky_cookie && t.get() != skip && t->up(now)) return t.get();
  if (spec.lb == Lb::least_conn) {
    TargetState* best = nullptr;
    int best_n = 0;
    uint32_t start = rr->next.fetch_add(1, std::memory_order_relaxed);
    for (size_t i = 0; i < n; ++i) {
      TargetState* t = targets[(start + i) % n].get();
      if (t == skip || !t->up(now)) continue;
      int a = t->active.load(std::memory_order_relaxed);
      if (!best || a < best_n) {
        best = t;
        best_n = a;
      }
    }
    return best;
  }
  uint32_t start = rr->next.fetch_add(1, std::memory_order_relaxed);
  if (!wheel.empty()) {
    if (wheel[0] == UINT32_MAX) return nullptr;  // every target drained (weight 0)
    const size_t w = wheel.size();
    for (size_t i = 0; i < w; ++i) {
      TargetState* t = targets[wheel[(start + i) % w]].get();
      if (t != skip && t->up(now)) return t;
    }
    return nullptr;
  }
  for (size_t i = 0; i < n; ++i) {
    TargetState* t = targets[(start + i) % n].get();
    if (t != skip && t->up(now)) return t;
  }
  return nullptr;
}

namespace {
// Smooth weighted round robin (as nginx): each round every target gains its weight, the
// richest is picked and pays the total. Weights 2,1 give 0,1,0; zero weights never appear.
std::vector<uint32_t> make_wheel(const std::vector<TargetSpec>& ts) {
  bool plain = true;
  int64_t total = 0;
  for (auto& t : ts) {
    plain = plain && t.weight == 1;
    total += t.weight;
  }
  std::vector<uint32_t> out;
  if (plain || total == 0) {
    if (!plain) out.push_back(UINT32_MAX);  // all drained: nothing to pick
    return out;
  }
  std::vector<int64_t> cur(ts.size(), 0);
  for (int64_t k = 0; k < total; ++k) {
    size_t best = 0;
    for (size_t i = 0; i < ts.size(); ++i) {
      cur[i] += ts[i].weight;
      if (cur[i] > cur[best]) best = i;
    }
    cur[best] -= total;
    out.push_back(static_cast<uint32_t>(best));
  }
  return out;
}
}  // namespace

bool Route::any_up(int64_t now) const {
  for (auto& t : targets)
    if (t->up(now)) return true;
  return false;
}

std::string_view normalize_host(std::string_view h, char* buf) {
  if (!h.empty() && h.front() == '[') {
    size_t close = h.find(']');
    if (close == std::string_view::npos) return {};
    h = h.substr(1, close - 1);
  } else {
    size_t colon = h.find(':');
    if (colon != std::string_view::npos) h = h.substr(0, colon);
  }
  if (!h.empty() && h.back() == '.') h.remove_suffix(1);
  if (h.empty() || h.size() > 255) return {};
  for (size_t i = 0; i < h.size(); ++i) {
    char c = h[i];
    buf[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  }
  return {buf, h.size()};
}

static bool prefix_match(std::string_view prefix, std::string_view path) {
  if (path.empty()) path = "/";
  if (path.size() < prefix.size() || path.compare(0, prefix.size(), prefix) != 0) return false;
  if (prefix.back() == '/' || path.size() == prefix.size()) return true;
  char next = path[prefix.size()];
  return next == '/' || next == '?';
}

std::vector<std::string> RouteTable::build(std::vector<RouteSpec> specs, TargetRegistry* reg) {
  std::vector<std::string> conflicts;
  std::set<std::pair<std::string, std::string>> seen;
  for (auto& s : specs) {
    s.host = core::to_lower(s.host);
    if (s.path.empty()) s.path = "/";
    if (!seen.insert({s.host, s.path}).second) {
      conflicts.push_back("route \"" + s.name + "\" (" + s.source + ") duplicates host " + s.host +
                          " path " + s.path + ": ignored");
      continue;
    }
    auto r = std::make_unique<Route>();
    for (auto& t : s.targets) {
      std::shared_ptr<TargetState> st;
      if (reg) {
        st = reg->get(s.name, t);
      } else {
        st = std::make_shared<TargetState>();
        st->spec = t;
        st->key = s.name + " " + t.str();
        st->cookie = cookie_for(st->key);
      }
      r->targets.push_back(std::move(st));
    }
    r->wheel = make_wheel(s.targets);
    std::string sig;
    for (auto& t : s.targets)
      sig.append(t.str()).append("*").append(std::to_string(t.weight)).append(" ");
    r->rr = reg ? reg->cursor(s.name, sig) : std::make_shared<Cursor>();
    r->spec = std::move(s);
    const Route* rp = r.get();
    const std::string& h = rp->spec.host;
    if (h == "*")
      any_.push_back(rp);
    else if (h.size() > 2 && h[0] == '*' && h[1] == '.')
      wildcard_[h.substr(2)].push_back(rp);
    else
      exact_[h].push_back(rp);
    routes_.push_back(std::move(r));
  }
  auto by_len = [](const Route* a, const Route* b) {
    return a->spec.path.size() > b->spec.path.size();
  };
  for (auto& [k, v] : exact_) std::stable_sort(v.begin(), v.end(), by_len);
  for (auto& [k, v] : wildcard_) std::stable_sort(v.begin(), v.end(), by_len);
  std::stable_sort(any_.begin(), any_.end(), by_len);
  conflicts_.insert(conflicts_.end(), conflicts.begin(), conflicts.end());
  return conflicts;
}

void RouteTable::add_conflicts(std::vector<std::string> more) {
  conflicts_.insert(conflicts_.begin(), more.begin(), more.end());
}

const Route* RouteTable::match(std::string_view host, std::string_view path) const {
  char buf[256];
  std::string_view h = normalize_host(host, buf);
  auto try_list = [&](const List& l) -> const Route* {
    for (const Route* r : l)
      if (prefix_match(r->spec.path, path)) return r;
    return nullptr;
  };
  if (!h.empty()) {
    if (!exact_.empty()) {
      auto it = exact_.find(std::string(h));
      if (it != exact_.end())
        if (const Route* r = try_list(it->second)) return r;
    }
    if (!wildcard_.empty()) {
      // *.example.com matches a.example.com and a.b.example.com; the longest suffix first.
      std::string_view rest = h;
      for (size_t dot = rest.find('.'); dot != std::string_view::npos; dot = rest.find('.')) {
        rest.remove_prefix(dot + 1);
        auto it = wildcard_.find(std::string(rest));
        if (it != wildcard_.end())
          if (const Route* r = try_list(it->second)) return r;
      }
    }
  }
  return try_list(any_);
}

const Route* RouteTable::mtls_route(std::string_view host) const {
  char buf[256];
  std::string_view h = normalize_host(host, buf);
  auto scan = [](const List& l) -> const Route* {
    for (const Route* r : l)
      if (r->spec.mtls != Mtls::off) return r;
    return nullptr;
  };
  if (!h.empty()) {
    auto it = exact_.find(std::string(h));
    if (it != exact_.end()) return scan(it->second);
    std::string_view rest = h;
    for (size_t dot = rest.find('.'); dot != std::string_view::npos; dot = rest.find('.')) {
      rest.remove_prefix(dot + 1);
      auto w = wildcard_.find(std::string(rest));
      if (w != wildcard_.end()) return scan(w->second);
    }
  }
  return scan(any_);
}

boost::json::array RouteTable::to_json(int64_t now) const {
  boost::json::array out;
  for (auto& r : routes_) {
    const RouteSpec& s = r->spec;
    boost::json::object o;
    o["name"] = s.name;
    o["source"] = s.source;
    o["host"] = s.host;
    o["path"] = s.path;
    o["lb"] = s.lb == Lb::least_conn ? "least_conn" : "round_robin";
    o["sticky"] = s.sticky;
    o["redirect_https"] = s.redirect_https;
    o["mtls"] = s.mtls == Mtls::off ? "off" : s.mtls == Mtls::optional ? "optional" : "required";
    o["host_header"] = s.host_header;
    o["hsts"] = s.hsts;
    if (s.resource_id) o["resource_id"] = s.resource_id;
    if (!s.policy_error.empty())
      o["access"] = "error: " + s.policy_error;
    else if (!s.policy || s.policy->is_public)
      o["access"] = s.policy ? "public+rules" : "public";
    else {
      const auth::Methods& m = s.policy->methods;
      std::string a;
      auto add = [&](bool on, const char* n) {
        if (on) a += (a.empty() ? "" : ",") + std::string(n);
      };
      add(m.users, "users");
      add(m.password, "password");
      add(m.pin, "pin");
      add(m.email, "email");
      add(m.share_links, "share_links");
      add(m.basic, "basic");
      add(m.mtls, "mtls");
      o["access"] = a.empty() ? "deny" : a;
    }
    boost::json::array ts;
    for (auto& t : r->targets) {
      boost::json::object to;
      to["target"] = t->spec.str();
      to["up"] = t->up(now);
      to["healthy"] = t->healthy.load();
      to["passive_down"] = t->down_until.load() > now;
      if (!t->spec.site.empty()) to["site_up"] = t->site_up.load();
      if (std::string why = t->down_reason(now); !why.empty()) to["reason"] = why;
      to["active"] = t->active.load();
      to["requests"] = t->requests.load();
      to["failures"] = t->failures.load();
      {
        std::lock_guard lk(t->mu);
        if (!t->last_error.empty()) to["last_error"] = t->last_error;
      }
      ts.push_back(std::move(to));
    }
    o["targets"] = std::move(ts);
    out.push_back(std::move(o));
  }
  return out;
}

// ---- sources ---------------------------------------------------------------------------------

static bool valid_route_host(const std::string& h) {
  if (h == "*") return true;
  std::string_view v = h;
  if (v.size() > 2 && v[0] == '*' && v[1] == '.') v.remove_prefix(2);
  if (v.empty() || v.size() > 253) return false;
  for (char c : v)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'))
      return false;
  return v.front() != '.' && v.back() != '.';
}

static core::Result<std::vector<RouteSpec>> read_routes(config::Reader& root) {
  std::vector<RouteSpec> out;
  std::set<std::string> names;
  for (auto& r : root.tables("route")) {
    RouteSpec s;
    r.need("name", s.name);
    if (r.has("name") && !names.insert(s.name).second) r.fail("name", "duplicate route name");
    if (r.need("host", s.host) && !valid_route_host(s.host))
      r.fail("host", "expected a host name, *.domain or *");
    if (r.get("path", s.path) && (s.path.empty() || s.path[0] != '/'))
      r.fail("path", "must start with /");
    std::vector<std::string> targets;
    r.get("targets", targets);
    bool verify = true;
    std::string sni;
    r.get("tls_verify", verify);
    r.get("tls_sni", sni);
    for (auto& t : targets) {
      auto ts = parse_target(t);
      if (!ts) {
        r.fail("targets", ts.error().message);
        continue;
      }
      ts->tls_verify = verify;
      ts->sni = sni;
      s.targets.push_back(std::move(*ts));
    }
    r.get_enum("lb", s.lb, {{"round_robin", Lb::round_robin}, {"least_conn", Lb::least_conn}});
    r.get("sticky", s.sticky);
    r.get("redirect_https", s.redirect_https);
    r.get_enum("mtls", s.mtls,
               {{"off", Mtls::off}, {"optional", Mtls::optional}, {"required", Mtls::required}});
    r.get("client_ca", s.client_ca);
    r.get("client_crl", s.client_crl);
    if (s.mtls != Mtls::off && s.client_ca.empty())
      r.fail("mtls", "needs client_ca (a PEM bundle, e.g. from cactl export chain)");
    r.get("host_header", s.host_header);
    Millis hsts{s.hsts * 1000};
    if (r.get_duration("hsts", hsts, Millis(0), Millis(63072000000LL)))
      s.hsts = hsts.count() / 1000;
    r.get("passive_failures", s.passive_fail, 0, 1000);
    r.get_duration("passive_cooldown", s.passive_cooldown, Millis(0), Millis(3600000));
    auto h = r.table("health");
    h.get_duration("interval", s.health.interval, Millis(0), Millis(3600000));
    h.get_duration("timeout", s.health.timeout, Millis(10), Millis(600000));
    if (h.get("path", s.health.path) && !s.health.path.empty() && s.health.path[0] != '/')
      h.fail("path", "must start with /");
    h.get("expect_min", s.health.expect_min, 100, 599);
    h.get("expect_max", s.health.expect_max, 100, 599);
    h.get("rise", s.health.rise, 1, 100);
    h.get("fall", s.health.fall, 1, 100);
    if (h.present() && !h.has("interval") && h.has("path")) s.health.interval = Millis(5000);
    out.push_back(std::move(s));
  }
  WARREN_CHECK(root.finish());
  return out;
}

// A routes file in the model's TOML form (a blueprint's [resources.NAME] tables): the same
// syntax as `peerctl apply` and `peerctl export`. Access settings, rules and grants live in the
// store (sessions and audit rows need a resource id), so a file resource is public.
static core::Result<std::vector<RouteSpec>> routes_from_model(std::string_view toml,
                                                              const std::string& name,
                                                              const std::string& base_dir) {
  auto m = blueprint::parse(toml, name, base_dir);
  if (!m) return core::err(core::Errc::config, m.error().message);
  if (!m->sites.empty() || !m->forwards.empty() || !m->roles.empty() || !m->users.empty())
    return core::err(core::Errc::config,
                     name +
                         ": a routes file holds [resources] only (sites, forwards, roles and "
                         "users live in the store)");
  std::vector<RouteSpec> out;
  for (auto& [n, res] : m->resources) {
    const model::Resource* r = &res;
    if (r->auth || !r->rules.empty() || !r->roles.empty() || !r->users.empty())
      return core::err(core::Errc::config,
                       name + ": resources." + r->name +
                           ": access settings, rules and grants live in the store (peerctl "
                           "resource auth, peerctl rule); a routes file resource is public");
    auto s = route_spec(*r);
    if (!s)
      return core::err(core::Errc::config, name + ": resources." + r->name + ": bad host or path");
    s->source = "file";
    s->resource_id = 0;
    // The file's own defaults where the model has none: a health path alone checks every 5 s.
    if (!r->health_path.empty() && r->health_interval_ms == 0) s->health.interval = Millis(5000);
    out.push_back(std::move(*s));
  }
  return out;
}

core::Result<std::vector<RouteSpec>> parse_routes(std::string_view toml, const std::string& name) {
  WARREN_TRY(r, config::parse_string(toml, name));
  if (r.has("resources") || r.has("version")) {
    std::string dir = ".";
    if (auto slash = name.rfind('/'); slash != std::string::npos) dir = name.substr(0, slash);
    return routes_from_model(toml, name, dir);
  }
  return read_routes(r);  // the older [[route]] form
}

core::Result<std::vector<RouteSpec>> load_routes_file(const std::string& path) {
  WARREN_TRY(text, core::read_file(path));
  return parse_routes(text, path);
}

TargetSpec target_spec(const model::Target& t) {
  TargetSpec ts;
  ts.tls = t.tls;
  ts.site = t.site;
  ts.host = t.host;
  ts.port = t.port;
  ts.tls_verify = t.tls_verify;
  ts.sni = t.tls_sni;
  ts.weight = static_cast<unsigned>(std::clamp<int64_t>(t.weight, 0, 1000));
  return ts;
}

std::optional<RouteSpec> route_spec(const model::Resource& r) {
  RouteSpec s;
  s.source = "store";
  s.resource_id = r.id;
  s.name = r.name;
  s.host = r.host;
  s.path = r.path;
  s.lb = r.lb == "least_conn" ? Lb::least_conn : Lb::round_robin;
  s.sticky = r.sticky;
  s.redirect_https = r.redirect_https;
  s.mtls = r.mtls == "required"   ? Mtls::required
           : r.mtls == "optional" ? Mtls::optional
                                  : Mtls::off;
  s.client_ca = r.client_ca;
  s.client_crl = r.client_crl;
  s.host_header = r.host_header;
  s.health.path = r.health_path;
  s.health.interval = Millis(r.health_interval_ms);
  s.health.timeout = Millis(std::max<int64_t>(10, r.health_timeout_ms));
  s.health.rise = static_cast<int>(std::max<int64_t>(1, r.health_rise));
  s.health.fall = static_cast<int>(std::max<int64_t>(1, r.health_fall));
  // "Name: value" lines (checked when written); CR/LF never reach the upstream head.
  for (auto& line : r.headers) {
    std::string l(core::trim(line));
    if (l.empty() || l.find('\r') != std::string::npos || l.find('\n') != std::string::npos ||
        l.find(':') == std::string::npos)
      continue;
    s.request_headers.append(l).append("\r\n");
  }
  s.hsts = std::clamp<int64_t>(r.hsts, 0, 63072000);
  if (!valid_route_host(s.host) || s.path.empty() || s.path[0] != '/') return std::nullopt;
  if (s.mtls != Mtls::off && s.client_ca.empty()) s.mtls = Mtls::required;  // fail closed
  for (auto& t : r.targets)
    if (t.enabled && !t.host.empty() && t.port != 0) s.targets.push_back(target_spec(t));
  auto p = policy(r);
  if (!p) {
    // A policy that does not convert is never taken as public: the route answers 503.
    s.policy_error = p.error().message;
    return s;
  }
  // A resource under a path prefix has its portal under it too ("/admin/.warren/auth"), so
  // its login pages and posts reach this route, never a neighbour on the same host.
  std::string_view prefix = s.path;
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  if (!prefix.empty()) p->portal_path = std::string(prefix) + p->portal_path;
  if (!p->is_public || !p->rules.empty() || p->rate_per_sec > 0)
    s.policy = std::make_shared<const auth::Policy>(std::move(*p));
  return s;
}

core::Result<auth::Policy> policy(const model::Resource& r) {
  auth::Policy p;
  p.resource_id = r.id;
  p.resource = r.name;
  for (auto& ru : r.rules) {
    if (!ru.enabled) continue;
    auto rule = auth::make_rule(ru.id, static_cast<int>(ru.priority), ru.action, ru.ips, ru.path,
                                ru.methods, ru.countries);
    if (!rule) return std::move(rule.error()).context("rule " + std::to_string(ru.id));
    if (!rule->countries.empty()) p.needs_country = true;
    p.rules.push_back(std::move(*rule));
  }
  if (!r.auth) return p;  // no access settings: public (its rules still apply)
  const model::Auth& a = *r.auth;
  p.is_public = a.is_public;
  p.methods.users = a.has("users");
  p.methods.password = a.has("password");
  p.methods.pin = a.has("pin");
  p.methods.email = a.has("email");
  p.methods.share_links = a.has("share-links");
  p.methods.basic = a.has("basic");
  p.methods.mtls = a.has("mtls");
  p.pin_digits = static_cast<int>(a.pin_digits);
  p.session_ttl = a.session_ttl;
  p.rate_per_sec = a.rate_per_sec;
  p.rate_burst = a.rate_burst;
  p.password_tag = auth::secret_tag(a.password.hash.value_or(""));
  p.pin_tag = auth::secret_tag(a.pin.hash.value_or(""));
  p.email_allow = a.email_allow;
  p.allowed_roles = r.roles;
  return p;
}

core::Result<std::vector<RouteSpec>> load_routes_store(store::Db& db) {
  WARREN_TRY(m, model::read(db));
  std::vector<const model::Resource*> by_id;
  for (auto& [name, r] : m.resources)
    if (r.enabled) by_id.push_back(&r);
  std::sort(by_id.begin(), by_id.end(), [](auto* a, auto* b) { return a->id < b->id; });
  std::vector<RouteSpec> out;
  for (auto* r : by_id)
    if (auto s = route_spec(*r)) out.push_back(std::move(*s));
  return out;
}

std::vector<RouteSpec> merge_routes(std::vector<RouteSpec> file, std::vector<RouteSpec> store,
                                    std::vector<std::string>& conflicts) {
  std::set<std::pair<std::string, std::string>> where;
  std::set<std::string> names;
  for (auto& f : file) {
    where.insert({core::to_lower(f.host), f.path.empty() ? "/" : f.path});
    names.insert(f.name);
  }
  for (auto& s : store) {
    if (where.count({core::to_lower(s.host), s.path.empty() ? "/" : s.path})) {
      conflicts.push_back("store resource \"" + s.name + "\" (host " + s.host + " path " + s.path +
                          ") conflicts with the routes file: the file wins");
      continue;
    }
    if (names.count(s.name)) {
      conflicts.push_back("store resource \"" + s.name +
                          "\" has the name of a route in the routes file: the file wins");
      continue;
    }
    file.push_back(std::move(s));
  }
  return file;
}

}  // namespace edge
