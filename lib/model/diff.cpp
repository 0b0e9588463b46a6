// model::diff — the plan that turns the store's state into the blueprint's, one Change per
// object (and per rule), plus the writes apply() performs. Secrets given as files are verified
// against the stored hash and hashed only when they differ.
#include <algorithm>
#include <map>
#include <set>

#include "crypto/crypto.h"
#include "model/model.h"

namespace model {

namespace {

std::string yn(bool b) {
  return b ? "true" : "false";
}

std::string list_text(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
  return out + "]";
}

template <class T>
void field(std::vector<std::string>& d, const char* name, const T& a, const T& b) {
  if (a == b) return;
  if constexpr (std::is_same_v<T, bool>)
    d.push_back(std::string(name) + " " + yn(a) + " -> " + yn(b));
  else if constexpr (std::is_same_v<T, std::string>)
    d.push_back(std::string(name) + " " + (a.empty() ? "\"\"" : a) + " -> " +
                (b.empty() ? "\"\"" : b));
  else if constexpr (std::is_same_v<T, std::vector<std::string>>)
    d.push_back(std::string(name) + " " + list_text(a) + " -> " + list_text(b));
  else
    d.push_back(std::string(name) + " " + std::to_string(a) + " -> " + std::to_string(b));
}

std::vector<std::string> target_list(const std::vector<Target>& ts) {
  std::vector<std::string> out;
  for (auto& t : ts) {
    std::string s = t.str();
    if (!t.enabled) s += " (disabled)";
    if (!t.tls_verify) s += " (no verify)";
    if (!t.tls_sni.empty()) s += " (sni " + t.tls_sni + ")";
    if (t.weight != 1) s += " (weight " + std::to_string(t.weight) + ")";
    out.push_back(s);
  }
  return out;
}

std::string rule_text(const Rule& r) {
  std::string s = std::to_string(r.priority) + " " + r.action;
  if (!r.ips.empty()) s += " ips=" + r.ips;
  if (!r.path.empty()) s += " path=" + r.path;
  if (!r.methods.empty()) s += " methods=" + r.methods;
  if (!r.countries.empty()) s += " countries=" + r.countries;
  if (!r.enabled) s += " (disabled)";
  return s;
}

// Resolves a blueprint secret against the stored hash: the hash to write, and whether it
// changes. Unmanaged keeps the stored one.
core::Result<bool> resolve(Secret& want, const std::optional<std::string>& have) {
  if (want.plain) {
    if (have && crypto::verify_password(*have, *want.plain)) {
      want.hash = have;
    } else {
      WARREN_TRY(h, crypto::hash_password(*want.plain));
      want.hash = h;
    }
    crypto::wipe(want.plain->data(), want.plain->size());
    want.plain.reset();
    return want.hash != have;
  }
  if (want.hash && want.hash->empty()) return have.has_value();  // cleared
  if (want.hash) return want.hash != have;
  want.hash = have;
  return false;
}

// Names that exist once the plan is applied.
template <class Map>
std::set<std::string> final_names(bool managed, bool prune, const Map& want, const Map& have) {
  std::set<std::string> out;
  if (!managed || !prune)
    for (auto& [k, v] : have) out.insert(k);
  if (managed)
    for (auto& [k, v] : want) out.insert(k);
  return out;
}

// Gives each wanted target without an id the id of an equal stored one (each stored target at
// most once), so applying leaves equal targets alone; whether the list differs.
bool keep_target_ids(const std::vector<Target>& have, std::vector<Target>& want) {
  std::vector<bool> used(have.size(), false);
  for (auto& w : want) {
    if (!w.id) continue;
    size_t i = 0;
    while (i < have.size() && (used[i] || have[i].id != w.id)) ++i;
    if (i < have.size())
      used[i] = true;
    else
      w.id = 0;  // not one of this resource's: a new target
  }
  for (auto& w : want) {
    if (w.id) continue;
    for (size_t i = 0; i < have.size(); ++i)
      if (!used[i] && have[i].same(w)) {
        w.id = have[i].id;
        used[i] = true;
        break;
      }
  }
  if (have.size() != want.size()) return true;
  for (size_t i = 0; i < have.size(); ++i)
    if (want[i].id != have[i].id || !want[i].same(have[i])) return true;
  return false;
}

core::Error ref_error(const std::string& what) {
  return core::err(core::Errc::data, what);
}

}  // namespace

std::string Change::line() const {
  std::string s(1, op);
  s += " " + kind + " " + name;
  for (size_t i = 0; i < details.size(); ++i) s += (i ? "; " : ": ") + details[i];
  return s;
}

std::string Plan::text() const {
  if (changes.empty()) return "no changes\n";
  std::string out;
  for (auto& c : changes) out += c.line() + "\n";
  return out;
}

core::Result<Plan> diff(const Installation& want_in, const Installation& have,
                        const DiffOptions& opt) {
  Plan p;
  p.want = want_in;
  p.have = have;
  Installation& want = p.want;
  const bool prune = opt.prune;
  auto add = [&](char op, const char* kind, const std::string& name,
                 std::vector<std::string> d = {}) {
    p.changes.push_back(Change{op, kind, name, std::move(d)});
  };

  // References must hold after the plan.
  auto sites = final_names(want.has_sites, prune, want.sites, have.sites);
  auto roles = final_names(want.has_roles, prune, want.roles, have.roles);
  auto users = final_names(want.has_users, prune, want.users, have.users);
  if (want.has_forwards)
    for (auto& [k, f] : want.forwards)
      if (!sites.count(f.site))
        return ref_error("forwards: " + k.first + " port " + std::to_string(k.second) +
                         ": no site " + f.site);
  if (want.has_resources)
    for (auto& [n, r] : want.resources) {
      for (auto& t : r.targets)
        if (!t.site.empty() && !sites.count(t.site))
          return ref_error("resources." + n + ".targets: no site " + t.site);
      for (auto& ro : r.roles)
        if (!roles.count(ro)) return ref_error("resources." + n + ".roles: no role " + ro);
      for (auto& u : r.users)
        if (!users.count(u)) return ref_error("resources." + n + ".users: no user " + u);
    }
  if (want.has_users)
    for (auto& [e, u] : want.users)
      for (auto& ro : u.roles)
        if (!roles.count(ro)) return ref_error("users." + e + ".roles: no role " + ro);
  // Pruning a site, role or user that unmanaged objects still use would break them silently.
  if (prune && want.has_sites && !want.has_forwards)
    for (auto& [k, f] : have.forwards)
      if (!sites.count(f.site))
        return ref_error("sites: site " + f.site + " is used by " + k.first + " forward " +
                         std::to_string(k.second) + " (add a [[forwards]] list, or keep it)");

  // Roles first: users and resources refer to them.
  if (want.has_roles) {
    for (auto& [n, r] : want.roles) {
      auto it = have.roles.find(n);
      if (it == have.roles.end()) {
        p.role_add.push_back(n);
        add('+', "role", n);
      } else if (it->second.description != r.description) {
        p.role_set.push_back(n);
        std::vector<std::string> d;
        field(d, "description", it->second.description, r.description);
        add('~', "role", n, d);
      }
    }
    if (prune)
      for (auto& [n, r] : have.roles)
        if (!want.roles.count(n)) {
          p.role_rm.push_back(n);
          add('-', "role", n);
        }
  }

  if (want.has_sites) {
    for (auto& [n, s] : want.sites) {
      auto it = have.sites.find(n);
      if (it == have.sites.end()) {
        std::vector<std::string> d;
        if (!s.public_key) {
          s.public_key = crypto::key_to_base64(crypto::generate_keypair().pub);
          d.push_back("no public key yet: run peerctl site rotate-key " + n);
        }
        p.site_add.push_back(n);
        add('+', "site", n, d);
        continue;
      }
      std::vector<std::string> d;
      if (!s.public_key) s.public_key = it->second.public_key;
      if (s.public_key != it->second.public_key) d.push_back("public key changes");
      field(d, "enabled", it->second.enabled, s.enabled);
      if (!d.empty()) {
        p.site_set.push_back(n);
        add('~', "site", n, d);
      }
    }
    if (prune)
      for (auto& [n, s] : have.sites)
        if (!want.sites.count(n)) {
          p.site_rm.push_back(n);
          add('-', "site", n);
        }
  }

  if (want.has_forwards) {
    auto name = [](const Plan::FwdKey& k) { return k.first + " " + std::to_string(k.second); };
    // A named forward that moves to another port (or protocol) is changed, not replaced.
    std::set<Plan::FwdKey> moved;
    for (auto& [k, f] : want.forwards) {
      auto it = have.forwards.find(k);
      if (it == have.forwards.end() && !f.name.empty())
        for (auto h = have.forwards.begin(); h != have.forwards.end(); ++h)
          if (h->second.name == f.name && !want.forwards.count(h->first)) {
            it = h;
            moved.insert(h->first);
            p.fwd_from[k] = h->first;
          }
      if (it == have.forwards.end()) {
        p.fwd_add.push_back(k);
        add('+', "forward", name(k), {"-> " + f.site + " " + f.target});
      } else if (!it->second.same(f)) {
        const Forward& h = it->second;
        std::vector<std::string> d;
        field(d, "protocol", h.protocol, f.protocol);
        field(d, "port", int64_t(h.port), int64_t(f.port));
        field(d, "name", h.name, f.name);
        field(d, "site", h.site, f.site);
        field(d, "target", h.target, f.target);
        field(d, "enabled", h.enabled, f.enabled);
        field(d, "allow", h.allow, f.allow);
        field(d, "deny", h.deny, f.deny);
        field(d, "allow_countries", h.allow_countries, f.allow_countries);
        field(d, "deny_countries", h.deny_countries, f.deny_countries);
        field(d, "max_conns", h.max_conns, f.max_conns);
        field(d, "conn_rate", h.conn_rate, f.conn_rate);
        field(d, "conn_burst", h.conn_burst, f.conn_burst);
        field(d, "tls_client_cert", h.tls_client_cert, f.tls_client_cert);
        p.fwd_set.push_back(k);
        if (d.size() == 1 && d[0].rfind("enabled ", 0) == 0) p.fwd_toggle.insert(k);
        add('~', "forward", name(k), d);
      }
    }
    if (prune)
      for (auto& [k, f] : have.forwards)
        if (!want.forwards.count(k) && !moved.count(k)) {
          p.fwd_rm.push_back(k);
          add('-', "forward", name(k));
        }
  }

  if (want.has_users) {
    for (auto& [e, u] : want.users) {
      auto it = have.users.find(e);
      if (it == have.users.end()) {
        WARREN_CHECK(resolve(u.password, std::nullopt));
        p.user_add.push_back(e);
        add('+', "user", e);
        continue;
      }
      const User& h = it->second;
      u.id = h.id;
      std::vector<std::string> d;
      field(d, "name", h.name, u.name);
      field(d, "enabled", h.enabled, u.enabled);
      field(d, "roles", h.roles, u.roles);
      WARREN_TRY(pw, resolve(u.password, h.password.hash));
      if (pw) d.push_back("password changes");
      if (!d.empty()) {
        p.user_set.push_back(e);
        add('~', "user", e, d);
      }
    }
    if (prune)
      for (auto& [e, u] : have.users)
        if (!want.users.count(e)) {
          p.user_rm.push_back(e);
          add('-', "user", e);
        }
  }

  if (want.has_resources) {
    std::vector<Change> rule_changes;
    // A wanted resource that carries the store id of one under another name is that one
    // renamed: it keeps its id (and its targets, grants, links and sessions).
    std::map<int64_t, std::string> have_name;
    for (auto& [n, r] : have.resources) have_name[r.id] = n;
    std::set<std::string> renamed;
    for (auto& [n, r] : want.resources) {
      auto it = have.resources.find(n);
      if (it == have.resources.end() && r.id && have_name.count(r.id) &&
          !want.resources.count(have_name[r.id])) {
        it = have.resources.find(have_name[r.id]);
        renamed.insert(it->first);
      } else if (it == have.resources.end()) {
        r.id = 0;
      }
      if (it == have.resources.end()) {
        if (r.auth) {
          WARREN_CHECK(resolve(r.auth->password, std::nullopt));
          WARREN_CHECK(resolve(r.auth->pin, std::nullopt));
        }
        for (auto& t : r.targets) t.id = 0;
        Plan::ResourceOp op{n,     true, true,   bool(r.auth), !r.roles.empty() || !r.users.empty(),
                            false, {},   r.rules};
        p.res_add.push_back(std::move(op));
        add('+', "resource", n, {r.host + r.path});
        for (auto& ru : r.rules) rule_changes.push_back(Change{'+', "rule", n, {rule_text(ru)}});
        continue;
      }
      const Resource& h = it->second;
      r.id = h.id;
      Plan::ResourceOp op{n};
      std::vector<std::string> d;
      field(d, "name", h.name, r.name);
      field(d, "host", h.host, r.host);
      field(d, "path", h.path, r.path);
      field(d, "enabled", h.enabled, r.enabled);
      field(d, "tls", h.tls, r.tls);
      field(d, "headers", h.headers, r.headers);
      field(d, "lb", h.lb, r.lb);
      field(d, "sticky", h.sticky, r.sticky);
      field(d, "redirect_https", h.redirect_https, r.redirect_https);
      field(d, "hsts", h.hsts, r.hsts);
      field(d, "mtls", h.mtls, r.mtls);
      field(d, "client_ca", h.client_ca, r.client_ca);
      field(d, "client_crl", h.client_crl, r.client_crl);
      field(d, "host_header", h.host_header, r.host_header);
      field(d, "health.path", h.health_path, r.health_path);
      field(d, "health.interval_ms", h.health_interval_ms, r.health_interval_ms);
      field(d, "health.timeout_ms", h.health_timeout_ms, r.health_timeout_ms);
      field(d, "health.rise", h.health_rise, r.health_rise);
      field(d, "health.fall", h.health_fall, r.health_fall);
      op.row = !d.empty();
      op.only_enabled = d.size() == 1 && d[0].rfind("enabled ", 0) == 0;
      if (keep_target_ids(h.targets, r.targets)) {
        op.targets = true;
        field(d, "targets", target_list(h.targets), target_list(r.targets));
      }
      if (bool(h.auth) != bool(r.auth)) {
        op.auth = true;
        d.push_back(r.auth ? "auth added" : "auth removed (public)");
        if (r.auth) {
          WARREN_CHECK(resolve(r.auth->password, std::nullopt));
          WARREN_CHECK(resolve(r.auth->pin, std::nullopt));
        }
      } else if (r.auth) {
        const Auth& ha = *h.auth;
        Auth& wa = *r.auth;
        size_t before = d.size();
        field(d, "auth.public", ha.is_public, wa.is_public);
        field(d, "auth.methods", ha.methods, wa.methods);
        field(d, "auth.pin_digits", ha.pin_digits, wa.pin_digits);
        field(d, "auth.session_ttl", ha.session_ttl, wa.session_ttl);
        field(d, "auth.rate_per_sec", ha.rate_per_sec, wa.rate_per_sec);
        field(d, "auth.rate_burst", ha.rate_burst, wa.rate_burst);
        field(d, "auth.email_allow", ha.email_allow, wa.email_allow);
        WARREN_TRY(pw, resolve(wa.password, ha.password.hash));
        if (pw) d.push_back("auth.password changes");
        WARREN_TRY(pin, resolve(wa.pin, ha.pin.hash));
        if (pin) d.push_back("auth.pin changes");
        op.auth = d.size() != before;
      }
      {
        size_t before = d.size();
        field(d, "roles", h.roles, r.roles);
        field(d, "users", h.users, r.users);
        op.grants = d.size() != before;
      }
      // Rules: equal ones stay (as a multiset); the rest are removed or added.
      std::vector<bool> kept(h.rules.size(), false);
      for (auto& wr : r.rules) {
        bool found = false;
        for (size_t i = 0; i < h.rules.size() && !found; ++i)
          if (!kept[i] && h.rules[i].same(wr)) kept[i] = found = true;
        if (!found) {
          op.rules_add.push_back(wr);
          rule_changes.push_back(Change{'+', "rule", n, {rule_text(wr)}});
        }
      }
      for (size_t i = 0; i < h.rules.size(); ++i)
        if (!kept[i]) {
          op.rules_rm.push_back(h.rules[i].id);
          rule_changes.push_back(Change{
              '-', "rule", std::to_string(h.rules[i].id), {n + " " + rule_text(h.rules[i])}});
        }
      if (!d.empty()) add('~', "resource", n, d);
      if (op.row || op.targets || op.auth || op.grants || !op.rules_add.empty() ||
          !op.rules_rm.empty())
        p.res_set.push_back(std::move(op));
    }
    if (prune)
      for (auto& [n, r] : have.resources)
        if (!want.resources.count(n) && !renamed.count(n)) {
          p.res_rm.push_back(n);
          add('-', "resource", n);
        }
    for (auto& c : rule_changes) p.changes.push_back(std::move(c));
  }
  // What the resources' auth settings need once secrets are resolved (as peerctl resource auth).
  for (auto& [n, r] : want.resources) {
    if (!r.auth || r.auth->is_public) continue;
    const Auth& a = *r.auth;
    auto has = [&](const char* m) {
      return std::find(a.methods.begin(), a.methods.end(), m) != a.methods.end();
    };
    std::string at = "resources." + n + ".auth: ";
    if (a.methods.empty()) return ref_error(at + "a protected resource needs methods");
    auto set = [](const Secret& x) { return x.hash && !x.hash->empty(); };
    if (has("password") && !set(a.password))
      return ref_error(at + "the password method needs password_file or password_hash");
    if (has("pin") && !set(a.pin))
      return ref_error(at + "the pin method needs pin_file or pin_hash");
    if (has("email") && a.email_allow.empty())
      return ref_error(at + "the email method needs email_allow");
    if (has("mtls") && r.client_ca.empty())
      return ref_error(at + "the mtls method needs the resource's client_ca");
  }
  return p;
}

}  // namespace model
