// model::read and model::apply — the store side: the current state as a Installation (a few
// whole-table SELECTs), and a Plan written with prepared statements in one transaction.
#include <boost/json.hpp>

#include <algorithm>

#include "core/text.h"
#include "model/model.h"
#include "store/store.h"

namespace model {

namespace {

std::optional<std::string> opt_text(const store::Stmt& q, int i) {
  if (q.col_null(i) || q.col_text(i).empty()) return std::nullopt;
  return q.col_text(i);
}

// Runs `q` to completion, calling fn for each row.
template <class Fn>
core::Result<void> each(store::Db& db, std::string_view sql, Fn fn) {
  WARREN_TRY(q, db.prepare(sql));
  for (;;) {
    WARREN_TRY(row, q.step());
    if (!row) return {};
    fn(q);
  }
}

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  for (auto& w : core::split(s, ' '))
    if (!w.empty()) out.push_back(w);
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (auto& w : v) out += (out.empty() ? "" : " ") + w;
  return out;
}

}  // namespace

core::Result<Installation> read(store::Db& db) {
  Installation m;
  m.has_sites = m.has_forwards = m.has_resources = m.has_roles = m.has_users = true;
  WARREN_CHECK(each(db,
                    "SELECT name, public_key, enabled, created_at, coalesce(key_rotated_at, 0), "
                    "coalesce(enrolled_at, 0) FROM sites",
                    [&](store::Stmt& q) {
                      Site s{q.col_text(0), q.col_text(1), q.col_int(2) != 0,
                             q.col_int(3),  q.col_int(4),  q.col_int(5)};
                      m.sites[s.name] = std::move(s);
                    }));
  WARREN_CHECK(each(db,
                    "SELECT protocol, listen_port, site, target, enabled, name, allow_ips, "
                    "deny_ips, allow_countries, deny_countries, max_conns, conn_rate, conn_burst, "
                    "tls_client_cert, created_at FROM forwards",
                    [&](store::Stmt& q) {
                      Forward f;
                      f.protocol = q.col_text(0);
                      f.port = static_cast<uint16_t>(q.col_int(1));
                      f.site = q.col_text(2);
                      f.target = q.col_text(3);
                      f.enabled = q.col_int(4) != 0;
                      f.name = q.col_null(5) ? "" : q.col_text(5);
                      f.allow = words(q.col_text(6));
                      f.deny = words(q.col_text(7));
                      f.allow_countries = words(q.col_text(8));
                      f.deny_countries = words(q.col_text(9));
                      f.max_conns = q.col_int(10);
                      f.conn_rate = q.col_int(11);
                      f.conn_burst = q.col_int(12);
                      f.tls_client_cert = q.col_int(13) != 0;
                      f.created_at = q.col_int(14);
                      m.forwards[{f.protocol, f.port}] = std::move(f);
                    }));
  WARREN_CHECK(each(db, "SELECT name, description FROM roles", [&](store::Stmt& q) {
    m.roles[q.col_text(0)] = Role{q.col_text(0), q.col_text(1)};
  }));
  std::map<int64_t, std::string> user_email;
  WARREN_CHECK(
      each(db, "SELECT id, email, name, enabled, password_hash, totp_secret IS NOT NULL FROM users",
           [&](store::Stmt& q) {
             User u;
             u.id = q.col_int(0);
             u.email = q.col_text(1);
             u.name = q.col_text(2);
             u.enabled = q.col_int(3) != 0;
             u.password.hash = opt_text(q, 4);
             u.has_totp = q.col_int(5) != 0;
             user_email[u.id] = u.email;
             m.users[u.email] = std::move(u);
           }));
  WARREN_CHECK(each(db, "SELECT user_id, role FROM user_roles ORDER BY role", [&](store::Stmt& q) {
    auto it = user_email.find(q.col_int(0));
    if (it != user_email.end()) m.users[it->second].roles.push_back(q.col_text(1));
  }));

  std::map<int64_t, Resource*> by_id;
  WARREN_CHECK(each(db,
                    "SELECT id, name, host, path_prefix, enabled, lb, sticky, redirect_https, "
                    "mtls, client_ca, client_crl, host_header, health_path, health_interval_ms, "
                    "health_timeout_ms, health_rise, health_fall, tls, headers, hsts, created_at, "
                    "updated_at FROM resources",
                    [&](store::Stmt& q) {
                      Resource r;
                      r.id = q.col_int(0);
                      r.name = q.col_text(1);
                      r.host = q.col_text(2);
                      r.path = q.col_text(3);
                      r.enabled = q.col_int(4) != 0;
                      r.lb = q.col_text(5);
                      r.sticky = q.col_int(6) != 0;
                      r.redirect_https = q.col_int(7) != 0;
                      r.mtls = q.col_text(8);
                      r.client_ca = q.col_text(9);
                      r.client_crl = q.col_text(10);
                      r.host_header = q.col_text(11);
                      r.health_path = q.col_text(12);
                      r.health_interval_ms = q.col_int(13);
                      r.health_timeout_ms = q.col_int(14);
                      r.health_rise = q.col_int(15);
                      r.health_fall = q.col_int(16);
                      r.tls = q.col_int(17) != 0;
                      for (auto& h : core::split(q.col_text(18), '\n')) r.headers.push_back(h);
                      r.hsts = q.col_int(19);
                      r.created_at = q.col_int(20);
                      r.updated_at = q.col_int(21);
                      auto& slot = m.resources[r.name];
                      slot = std::move(r);
                      by_id[slot.id] = &slot;
                    }));
  auto res = [&](int64_t id) -> Resource* {
    auto it = by_id.find(id);
    return it == by_id.end() ? nullptr : it->second;
  };
  WARREN_CHECK(each(db,
                    "SELECT resource_id, scheme, site, host, port, tls_verify, tls_sni, enabled, "
                    "weight, id FROM targets ORDER BY resource_id, id",
                    [&](store::Stmt& q) {
                      Resource* r = res(q.col_int(0));
                      if (!r) return;
                      Target t;
                      t.tls = q.col_text(1) == "https";
                      t.site = q.col_null(2) ? "" : q.col_text(2);
                      t.host = q.col_text(3);
                      t.port = static_cast<uint16_t>(q.col_int(4));
                      t.tls_verify = q.col_int(5) != 0;
                      t.tls_sni = q.col_text(6);
                      t.enabled = q.col_int(7) != 0;
                      t.weight = q.col_int(8);
                      t.id = q.col_int(9);
                      r->targets.push_back(std::move(t));
                    }));
  WARREN_CHECK(each(db,
                    "SELECT resource_id, public, m_users, m_password, m_pin, m_email, "
                    "m_share_links, m_basic, m_mtls, pin_digits, password_hash, pin_hash, "
                    "session_ttl, rate_per_sec, rate_burst FROM resource_auth",
                    [&](store::Stmt& q) {
                      Resource* r = res(q.col_int(0));
                      if (!r) return;
                      Auth a;
                      a.is_public = q.col_int(1) != 0;
                      // Sorted, as parse() sorts them.
                      const char* names[] = {"users",       "password", "pin", "email",
                                             "share-links", "basic",    "mtls"};
                      for (int i = 0; i < 7; ++i)
                        if (q.col_int(2 + i)) a.methods.push_back(names[i]);
                      std::sort(a.methods.begin(), a.methods.end());
                      a.pin_digits = q.col_int(9);
                      a.password.hash = opt_text(q, 10);
                      a.pin.hash = opt_text(q, 11);
                      a.session_ttl = q.col_int(12);
                      a.rate_per_sec = q.col_int(13);
                      a.rate_burst = q.col_int(14);
                      r->auth = std::move(a);
                    }));
  WARREN_CHECK(each(db, "SELECT resource_id, entry FROM resource_email_allow ORDER BY entry",
                    [&](store::Stmt& q) {
                      Resource* r = res(q.col_int(0));
                      if (r && r->auth) r->auth->email_allow.push_back(q.col_text(1));
                    }));
  WARREN_CHECK(
      each(db, "SELECT resource_id, role FROM resource_roles ORDER BY role", [&](store::Stmt& q) {
        Resource* r = res(q.col_int(0));
        if (r) r->roles.push_back(q.col_text(1));
      }));
  WARREN_CHECK(each(db,
                    "SELECT ru.resource_id, u.email FROM resource_users ru JOIN users u ON "
                    "u.id = ru.user_id ORDER BY u.email",
                    [&](store::Stmt& q) {
                      Resource* r = res(q.col_int(0));
                      if (r) r->users.push_back(q.col_text(1));
                    }));
  WARREN_CHECK(each(db,
                    "SELECT resource_id, id, priority, action, ips, path_glob, methods, "
                    "countries, enabled FROM rules ORDER BY resource_id, priority, id",
                    [&](store::Stmt& q) {
                      Resource* r = res(q.col_int(0));
                      if (!r) return;
                      Rule ru;
                      ru.id = q.col_int(1);
                      ru.priority = q.col_int(2);
                      ru.action = q.col_text(3);
                      ru.ips = q.col_text(4);
                      ru.path = q.col_text(5);
                      ru.methods = q.col_text(6);
                      ru.countries = q.col_text(7);
                      ru.enabled = q.col_int(8) != 0;
                      r->rules.push_back(std::move(ru));
                    }));
  return m;
}

namespace {

// Prepared statements for one apply.
struct Writer {
  store::Db& db;
  std::string_view actor;
  int64_t now;
  std::string_view via;
  store::Stmt audit_q;

  // One audit row; `detail` gets {"via": via} added.
  core::Result<void> audit(const std::string& action, const std::string& object,
                           boost::json::object detail = {}) {
    detail["via"] = via;
    audit_q.reset();
    audit_q.bind(1, now).bind(2, actor).bind(3, action).bind(4, object);
    audit_q.bind(5, boost::json::serialize(detail));
    return audit_q.run();
  }
};

boost::json::object target_detail(const Target& t) {
  return {{"id", t.id}, {"target", t.str()}, {"weight", t.weight}, {"enabled", t.enabled}};
}

// NULL for an unset or cleared secret (an empty hash clears it).
std::optional<std::string> secret_column(const Secret& s) {
  if (!s.hash || s.hash->empty()) return std::nullopt;
  return s.hash;
}

std::string forward_object(const Forward& f) {
  return f.name.empty() ? f.protocol + ":" + std::to_string(f.port) : f.name;
}

core::Error constraint(core::Error e) {
  if (e.code == core::Errc::failure || e.code == core::Errc::internal) e.code = core::Errc::data;
  return std::move(e).context("apply");
}

core::Result<int64_t> user_id(store::Db& db, const std::string& email) {
  WARREN_TRY(q, db.prepare("SELECT id FROM users WHERE email = ?1"));
  q.bind(1, email);
  WARREN_TRY(row, q.step());
  if (!row) return core::err(core::Errc::data, "no user " + email);
  return q.col_int(0);
}

core::Result<void> apply_inner(store::Db& db, const Plan& p, std::string_view actor, int64_t now,
                               std::string_view via) {
  Writer w{db, actor, now, via, {}};
  WARREN_TRY(aq, db.prepare("INSERT INTO audit (ts, actor, action, object, detail) VALUES (?1, "
                            "?2, ?3, ?4, ?5)"));
  w.audit_q = std::move(aq);
  const Installation& want = p.want;
  const Installation& have = p.have;

  // Removals first, so that renamed hosts and freed ports do not collide.
  {
    WARREN_TRY(q, db.prepare("DELETE FROM rules WHERE id = ?1"));
    for (auto& op : p.res_set)
      for (int64_t id : op.rules_rm) {
        q.reset();
        q.bind(1, id);
        WARREN_CHECK(q.run());
        WARREN_CHECK(w.audit("rule.rm", op.name, {{"id", id}}));
      }
  }
  auto remove = [&](std::string_view sql, const std::vector<std::string>& names,
                    const char* action) -> core::Result<void> {
    WARREN_TRY(q, db.prepare(sql));
    for (auto& n : names) {
      q.reset();
      q.bind(1, n);
      WARREN_CHECK(q.run());
      WARREN_CHECK(w.audit(action, n));
    }
    return {};
  };
  WARREN_CHECK(remove("DELETE FROM resources WHERE name = ?1", p.res_rm, "resource.rm"));
  {
    WARREN_TRY(q, db.prepare("DELETE FROM forwards WHERE protocol = ?1 AND listen_port = ?2"));
    for (auto& k : p.fwd_rm) {
      q.reset();
      q.bind(1, k.first).bind(2, int64_t(k.second));
      WARREN_CHECK(q.run());
      WARREN_CHECK(w.audit("resource.rm", forward_object(have.forwards.at(k)),
                           {{"kind", k.first}, {"port", k.second}}));
    }
  }
  WARREN_CHECK(remove("DELETE FROM sites WHERE name = ?1", p.site_rm, "site.remove"));
  WARREN_CHECK(remove("DELETE FROM users WHERE email = ?1", p.user_rm, "user.rm"));
  WARREN_CHECK(remove("DELETE FROM roles WHERE name = ?1", p.role_rm, "role.rm"));

  // Roles, sites, forwards, users.
  {
    WARREN_TRY(ins, db.prepare("INSERT INTO roles (name, description, created_at) VALUES (?1, "
                               "?2, ?3)"));
    WARREN_TRY(upd, db.prepare("UPDATE roles SET description = ?2 WHERE name = ?1"));
    for (auto& n : p.role_add) {
      ins.reset();
      ins.bind(1, n).bind(2, want.roles.at(n).description).bind(3, now);
      WARREN_CHECK(ins.run());
      WARREN_CHECK(w.audit("role.add", n, {{"description", want.roles.at(n).description}}));
    }
    for (auto& n : p.role_set) {
      upd.reset();
      upd.bind(1, n).bind(2, want.roles.at(n).description);
      WARREN_CHECK(upd.run());
      WARREN_CHECK(w.audit("role.set", n));
    }
  }
  {
    WARREN_TRY(ins, db.prepare("INSERT INTO sites (name, public_key, enabled, created_at) VALUES "
                               "(?1, ?2, ?3, ?4)"));
    WARREN_TRY(upd, db.prepare("UPDATE sites SET public_key = ?2, enabled = ?3, key_rotated_at = "
                               "CASE WHEN public_key = ?2 THEN key_rotated_at ELSE ?4 END WHERE "
                               "name = ?1"));
    for (auto& n : p.site_add) {
      const Site& s = want.sites.at(n);
      ins.reset();
      ins.bind(1, n).bind(2, *s.public_key).bind(3, int64_t(s.enabled)).bind(4, now);
      WARREN_CHECK(ins.run());
      WARREN_CHECK(w.audit("site.add", n));
    }
    for (auto& n : p.site_set) {
      const Site& s = want.sites.at(n);
      upd.reset();
      upd.bind(1, n).bind(2, *s.public_key).bind(3, int64_t(s.enabled)).bind(4, now);
      WARREN_CHECK(upd.run());
      WARREN_CHECK(w.audit("site.set", n));
    }
  }
  {
    WARREN_TRY(ins, db.prepare("INSERT INTO forwards (protocol, listen_port, site, target, "
                               "enabled, name, allow_ips, deny_ips, allow_countries, "
                               "deny_countries, max_conns, conn_rate, conn_burst, "
                               "tls_client_cert, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                               "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"));
    WARREN_TRY(upd, db.prepare("UPDATE forwards SET site = ?3, target = ?4, enabled = ?5, name = "
                               "?6, allow_ips = ?7, deny_ips = ?8, allow_countries = ?9, "
                               "deny_countries = ?10, max_conns = ?11, conn_rate = ?12, "
                               "conn_burst = ?13, tls_client_cert = ?14, protocol = ?15, "
                               "listen_port = ?16 WHERE protocol = ?1 AND listen_port = ?2"));
    for (int pass = 0; pass < 2; ++pass)
      for (auto& k : pass ? p.fwd_set : p.fwd_add) {
        const Forward& f = want.forwards.at(k);
        store::Stmt& q = pass ? upd : ins;
        q.reset();
        auto from = p.fwd_from.find(k);
        const Plan::FwdKey& at = pass && from != p.fwd_from.end() ? from->second : k;
        q.bind(1, at.first).bind(2, int64_t(at.second)).bind(3, f.site).bind(4, f.target);
        if (pass) q.bind(15, f.protocol).bind(16, int64_t(f.port));
        q.bind(5, int64_t(f.enabled));
        if (f.name.empty())
          q.bind_null(6);
        else
          q.bind(6, f.name);
        q.bind(7, joined(f.allow)).bind(8, joined(f.deny)).bind(9, joined(f.allow_countries));
        q.bind(10, joined(f.deny_countries)).bind(11, f.max_conns).bind(12, f.conn_rate);
        q.bind(13, f.conn_burst).bind(14, int64_t(f.tls_client_cert));
        if (!pass) q.bind(15, now);
        if (auto ok = q.run(); !ok)
          return constraint(ok.error())
              .context("forward " + f.protocol + " " + std::to_string(f.port));
        const char* action = !pass                    ? "resource.add"
                             : !p.fwd_toggle.count(k) ? "resource.set"
                             : f.enabled              ? "resource.enable"
                                                      : "resource.disable";
        WARREN_CHECK(w.audit(action, forward_object(f), {{"kind", k.first}, {"port", k.second}}));
      }
  }
  {
    WARREN_TRY(ins, db.prepare("INSERT INTO users (email, name, enabled, password_hash, "
                               "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)"));
    WARREN_TRY(upd, db.prepare("UPDATE users SET name = ?2, enabled = ?3, password_hash = ?4, "
                               "updated_at = ?5 WHERE id = ?1"));
    WARREN_TRY(del_roles, db.prepare("DELETE FROM user_roles WHERE user_id = ?1"));
    WARREN_TRY(add_role, db.prepare("INSERT INTO user_roles (user_id, role) VALUES (?1, ?2)"));
    for (int pass = 0; pass < 2; ++pass)
      for (auto& e : pass ? p.user_set : p.user_add) {
        const User& u = want.users.at(e);
        int64_t id = u.id;
        if (pass) {
          upd.reset();
          upd.bind(1, id)
              .bind(2, u.name)
              .bind(3, int64_t(u.enabled))
              .bind(4, secret_column(u.password));
          upd.bind(5, now);
          WARREN_CHECK(upd.run());
          del_roles.reset();
          del_roles.bind(1, id);
          WARREN_CHECK(del_roles.run());
        } else {
          ins.reset();
          ins.bind(1, e)
              .bind(2, u.name)
              .bind(3, int64_t(u.enabled))
              .bind(4, secret_column(u.password));
          ins.bind(5, now);
          WARREN_CHECK(ins.run());
          id = db.last_insert_rowid();
        }
        for (auto& ro : u.roles) {
          add_role.reset();
          add_role.bind(1, id).bind(2, ro);
          WARREN_CHECK(add_role.run());
        }
        WARREN_CHECK(w.audit(pass ? "user.set" : "user.add", e));
      }
  }

  // Resources with their targets, auth and rules.
  WARREN_TRY(rins,
             db.prepare("INSERT INTO resources (name, host, path_prefix, enabled, lb, sticky, "
                        "redirect_https, mtls, client_ca, client_crl, host_header, health_path, "
                        "health_interval_ms, health_timeout_ms, health_rise, health_fall, "
                        "created_at, updated_at, tls, headers, hsts) VALUES (?1, ?2, ?3, ?4, ?5, "
                        "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17, ?19, ?20, "
                        "?21)"));
  WARREN_TRY(rupd,
             db.prepare("UPDATE resources SET name = ?1, host = ?2, path_prefix = ?3, enabled = "
                        "?4, lb = ?5, sticky = ?6, redirect_https = ?7, mtls = ?8, client_ca = ?9, "
                        "client_crl = ?10, host_header = ?11, health_path = ?12, "
                        "health_interval_ms = ?13, health_timeout_ms = ?14, health_rise = ?15, "
                        "health_fall = ?16, updated_at = ?17, tls = ?19, headers = ?20, hsts = ?21 "
                        "WHERE id = ?18"));
  WARREN_TRY(tdel, db.prepare("DELETE FROM targets WHERE id = ?1"));
  WARREN_TRY(tins,
             db.prepare("INSERT INTO targets (resource_id, scheme, site, host, port, tls_verify, "
                        "tls_sni, enabled, created_at, weight) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                        "?8, ?9, ?10)"));
  WARREN_TRY(tupd, db.prepare("UPDATE targets SET scheme = ?2, site = ?3, host = ?4, port = ?5, "
                              "tls_verify = ?6, tls_sni = ?7, enabled = ?8, weight = ?10 "
                              "WHERE id = ?1"));
  WARREN_TRY(adel, db.prepare("DELETE FROM resource_auth WHERE resource_id = ?1"));
  WARREN_TRY(edel, db.prepare("DELETE FROM resource_email_allow WHERE resource_id = ?1"));
  WARREN_TRY(rodel, db.prepare("DELETE FROM resource_roles WHERE resource_id = ?1"));
  WARREN_TRY(udel, db.prepare("DELETE FROM resource_users WHERE resource_id = ?1"));
  WARREN_TRY(ains,
             db.prepare("INSERT INTO resource_auth (resource_id, public, m_users, m_password, "
                        "m_pin, m_email, m_share_links, m_basic, m_mtls, pin_digits, "
                        "password_hash, pin_hash, session_ttl, rate_per_sec, rate_burst, "
                        "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
                        "?13, ?14, ?15, ?16)"));
  WARREN_TRY(eins,
             db.prepare("INSERT INTO resource_email_allow (resource_id, entry) VALUES (?1, ?2)"));
  WARREN_TRY(roins, db.prepare("INSERT INTO resource_roles (resource_id, role) VALUES (?1, ?2)"));
  WARREN_TRY(uins, db.prepare("INSERT INTO resource_users (resource_id, user_id) SELECT ?1, id "
                              "FROM users WHERE email = ?2"));
  WARREN_TRY(ruins,
             db.prepare("INSERT INTO rules (resource_id, priority, action, ips, path_glob, "
                        "methods, countries, enabled, created_at) VALUES (?1, ?2, ?3, ?4, ?5, "
                        "?6, ?7, ?8, ?9)"));

  for (int pass = 0; pass < 2; ++pass)
    for (auto& op : pass ? p.res_set : p.res_add) {
      const Resource& r = want.resources.at(op.name);
      int64_t id = r.id;
      if (op.row) {
        store::Stmt& q = pass ? rupd : rins;
        q.reset();
        q.bind(1, r.name).bind(2, r.host).bind(3, r.path).bind(4, int64_t(r.enabled));
        q.bind(5, r.lb).bind(6, int64_t(r.sticky)).bind(7, int64_t(r.redirect_https));
        q.bind(8, r.mtls).bind(9, r.client_ca).bind(10, r.client_crl).bind(11, r.host_header);
        q.bind(12, r.health_path).bind(13, r.health_interval_ms).bind(14, r.health_timeout_ms);
        q.bind(15, r.health_rise).bind(16, r.health_fall).bind(17, now);
        if (pass) q.bind(18, id);
        std::string headers;
        for (auto& h : r.headers) headers += (headers.empty() ? "" : "\n") + h;
        q.bind(19, int64_t(r.tls)).bind(20, headers).bind(21, r.hsts);
        if (auto ok = q.run(); !ok) return constraint(ok.error()).context("resource " + r.name);
        if (!pass) id = db.last_insert_rowid();
      }
      if (op.targets) {
        // Targets keep their ids: those gone are removed, those with an id changed in place.
        std::vector<Target> had;  // the stored targets (the resource may have been renamed)
        if (pass)
          for (auto& [hn, hr] : have.resources)
            if (hr.id == id) had = hr.targets;
        for (auto& h : had) {
          bool kept = false;
          for (auto& t : r.targets) kept = kept || t.id == h.id;
          if (kept) continue;
          tdel.reset();
          tdel.bind(1, h.id);
          WARREN_CHECK(tdel.run());
          WARREN_CHECK(w.audit("target.rm", r.name, target_detail(h)));
        }
        for (auto t : r.targets) {
          const Target* old = nullptr;
          for (auto& h : had)
            if (t.id && h.id == t.id) old = &h;
          if (old && old->same(t)) continue;
          store::Stmt& q = t.id ? tupd : tins;
          q.reset();
          q.bind(1, t.id ? t.id : id).bind(2, t.tls ? "https" : "http");
          if (t.site.empty())
            q.bind_null(3);
          else
            q.bind(3, t.site);
          q.bind(4, t.host).bind(5, int64_t(t.port)).bind(6, int64_t(t.tls_verify));
          q.bind(7, t.tls_sni).bind(8, int64_t(t.enabled)).bind(10, t.weight);
          if (!t.id) q.bind(9, now);
          if (auto ok = q.run(); !ok)
            return constraint(ok.error()).context("resource " + r.name + " target " + t.str());
          if (!t.id) t.id = db.last_insert_rowid();
          WARREN_CHECK(w.audit(old ? "target.set" : "target.add", r.name, target_detail(t)));
        }
      }
      if (op.auth) {
        if (pass)
          for (store::Stmt* q : {&adel, &edel}) {
            q->reset();
            q->bind(1, id);
            WARREN_CHECK(q->run());
          }
        if (r.auth) {
          const Auth& a = *r.auth;
          auto has = [&](const char* m) {
            return int64_t(std::find(a.methods.begin(), a.methods.end(), m) != a.methods.end());
          };
          ains.reset();
          ains.bind(1, id).bind(2, int64_t(a.is_public)).bind(3, has("users"));
          ains.bind(4, has("password")).bind(5, has("pin")).bind(6, has("email"));
          ains.bind(7, has("share-links")).bind(8, has("basic")).bind(9, has("mtls"));
          ains.bind(10, a.pin_digits)
              .bind(11, secret_column(a.password))
              .bind(12, secret_column(a.pin));
          ains.bind(13, a.session_ttl).bind(14, a.rate_per_sec).bind(15, a.rate_burst);
          ains.bind(16, now);
          WARREN_CHECK(ains.run());
          for (auto& e : a.email_allow) {
            eins.reset();
            eins.bind(1, id).bind(2, e);
            WARREN_CHECK(eins.run());
          }
        }
      }
      if (op.grants) {
        if (pass)
          for (store::Stmt* q : {&rodel, &udel}) {
            q->reset();
            q->bind(1, id);
            WARREN_CHECK(q->run());
          }
        for (auto& ro : r.roles) {
          roins.reset();
          roins.bind(1, id).bind(2, ro);
          WARREN_CHECK(roins.run());
        }
        for (auto& u : r.users) {
          WARREN_CHECK(user_id(db, u));
          uins.reset();
          uins.bind(1, id).bind(2, u);
          WARREN_CHECK(uins.run());
        }
        if (pass && !op.auth) {  // else the resource.auth row below names them
          std::vector<std::string> had_roles, had_users;
          for (auto& [hn, hr] : have.resources)
            if (hr.id == id) had_roles = hr.roles, had_users = hr.users;
          auto rows = [&](const char* kind, const std::vector<std::string>& before,
                          const std::vector<std::string>& after) -> core::Result<void> {
            for (auto& x : after)
              if (std::find(before.begin(), before.end(), x) == before.end())
                WARREN_CHECK(w.audit("grant.add", r.name, {{kind, x}}));
            for (auto& x : before)
              if (std::find(after.begin(), after.end(), x) == after.end())
                WARREN_CHECK(w.audit("grant.rm", r.name, {{kind, x}}));
            return {};
          };
          WARREN_CHECK(rows("role", had_roles, r.roles));
          WARREN_CHECK(rows("user", had_users, r.users));
        }
      }
      for (auto& ru : op.rules_add) {
        ruins.reset();
        ruins.bind(1, id).bind(2, ru.priority).bind(3, ru.action).bind(4, ru.ips);
        ruins.bind(5, ru.path).bind(6, ru.methods).bind(7, ru.countries);
        ruins.bind(8, int64_t(ru.enabled)).bind(9, now);
        WARREN_CHECK(ruins.run());
        if (pass)
          WARREN_CHECK(w.audit("rule.add", r.name,
                               {{"id", db.last_insert_rowid()},
                                {"priority", ru.priority},
                                {"action", ru.action},
                                {"ips", ru.ips},
                                {"path", ru.path},
                                {"methods", ru.methods},
                                {"countries", ru.countries}}));
      }
      if (!pass)
        WARREN_CHECK(w.audit("resource.add", r.name, {{"host", r.host}, {"path", r.path}}));
      else if (op.row)
        WARREN_CHECK(w.audit(!op.only_enabled ? "resource.set"
                             : r.enabled      ? "resource.enable"
                                              : "resource.disable",
                             r.name));
      if (op.auth) {
        boost::json::array methods;
        if (r.auth)
          for (auto& m : r.auth->methods) methods.emplace_back(m);
        WARREN_CHECK(w.audit("resource.auth", r.name,
                             {{"public", !r.auth || r.auth->is_public},
                              {"methods", std::move(methods)},
                              {"password_set", r.auth && secret_column(r.auth->password)},
                              {"pin_set", r.auth && secret_column(r.auth->pin)},
                              {"roles", boost::json::value_from(r.roles)}}));
      }
    }
  return {};
}

}  // namespace

core::Result<void> apply(store::Db& db, const Plan& p, std::string_view actor, int64_t now,
                         std::string_view via) {
  if (p.empty()) return {};
  WARREN_TRY(tx, store::Tx::begin(db));
  if (auto r = apply_inner(db, p, actor, now, via); !r) {
    auto e = r.error();
    if (e.message.find("constraint") != std::string::npos) e.code = core::Errc::data;
    return e;
  }
  return tx.commit();
}

core::Result<Resource> read_resource(store::Db& db, std::string_view name) {
  WARREN_TRY(m, read(db));
  auto it = m.resources.find(std::string(name));
  if (it == m.resources.end())
    return core::err(core::Errc::noinput, "no resource " + std::string(name));
  return std::move(it->second);
}

}  // namespace model
