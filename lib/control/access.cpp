// control access: see access.h.
#include "control/access.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "auth/db.h"
#include "auth/rules.h"
#include "auth/session.h"
#include "control/detail.h"
#include "control/input.h"
#include "control/resources.h"
#include "core/text.h"
#include "crypto/crypto.h"
#include "model/check.h"
#include "model/model.h"

namespace control {

using core::Errc;
namespace bj = boost::json;

namespace {

core::Result<int64_t> user_id(store::Db& db, std::string_view email) {
  WARREN_TRY(u, find_user(db, email));
  return u.id;
}

core::Result<void> need_role(store::Db& db, std::string_view role) {
  WARREN_TRY(found, detail::exists_row(db, "SELECT 1 FROM roles WHERE name = ?1", role));
  if (!found) return detail::missing("role", role);
  return {};
}

std::vector<std::string> words(const std::string& s) {
  return core::split(s, ' ');
}

std::optional<int64_t> opt_time(int64_t t) {
  return t ? std::optional<int64_t>(t) : std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// users

core::Result<std::vector<User>> list_users(store::Db& db) {
  WARREN_TRY(st, db.prepare("SELECT id, email, name, password_hash IS NOT NULL, "
                            "totp_secret IS NOT NULL, enabled, created_at FROM users "
                            "ORDER BY email"));
  WARREN_TRY(rs, db.prepare("SELECT role FROM user_roles WHERE user_id = ?1 ORDER BY role"));
  std::vector<User> out;
  for (;;) {
    WARREN_TRY(row, st.step());
    if (!row) break;
    User u;
    u.id = st.col_int(0);
    u.email = st.col_text(1);
    u.name = st.col_text(2);
    u.has_password = st.col_int(3) != 0;
    u.totp = st.col_int(4) != 0;
    u.enabled = st.col_int(5) != 0;
    u.created_at = st.col_int(6);
    rs.reset();
    rs.bind(1, u.id);
    for (;;) {
      WARREN_TRY(r, rs.step());
      if (!r) break;
      u.roles.push_back(rs.col_text(0));
    }
    out.push_back(std::move(u));
  }
  return out;
}

core::Result<User> find_user(store::Db& db, std::string_view email) {
  std::string e = core::to_lower(email);
  WARREN_TRY(all, list_users(db));
  for (auto& u : all)
    if (u.email == e) return u;
  return detail::missing("user", e);
}

core::Result<int64_t> add_user(store::Db& db, const User& u, const std::string& password_hash,
                               const std::string& totp_secret, std::string_view actor,
                               int64_t now) {
  WARREN_TRY(email, model::check_email("EMAIL", u.email));
  if (u.name.size() > 200 || u.name.find_first_of("\r\n") != std::string::npos)
    return core::err(Errc::data, "--name: at most 200 characters on one line");
  for (const auto& r : u.roles) WARREN_CHECK(check_role("--role", r));
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(dup, detail::exists_row(db, "SELECT 1 FROM users WHERE email = ?1", email));
  if (dup) return detail::exists("user", email);
  WARREN_TRY(st, db.prepare("INSERT INTO users (email, name, password_hash, totp_secret, enabled, "
                            "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"));
  auto opt = [](const std::string& s) {
    return s.empty() ? std::optional<std::string>() : std::optional<std::string>(s);
  };
  st.bind(1, email).bind(2, u.name).bind(3, opt(password_hash)).bind(4, opt(totp_secret));
  st.bind(5, u.enabled ? 1 : 0).bind(6, now);
  WARREN_CHECK(st.run());
  int64_t id = db.last_insert_rowid();
  bj::array roles;
  for (const auto& r : u.roles) {
    WARREN_CHECK(need_role(db, r));
    WARREN_TRY(ins, db.prepare("INSERT INTO user_roles (user_id, role) VALUES (?1, ?2) "
                               "ON CONFLICT DO NOTHING"));
    ins.bind(1, id).bind(2, r);
    WARREN_CHECK(ins.run());
    roles.push_back(bj::value(r));
  }
  bj::object d{{"name", u.name},
               {"password", !password_hash.empty()},
               {"totp", !totp_secret.empty()},
               {"roles", std::move(roles)}};
  WARREN_CHECK(store::audit(db, actor, "user.add", email, detail::json(d)));
  WARREN_CHECK(tx.commit());
  return id;
}

core::Result<void> set_user_password(store::Db& db, std::string_view email,
                                     const std::string& password_hash, std::string_view actor,
                                     int64_t now) {
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(id, user_id(db, email));
  WARREN_TRY(st, db.prepare("UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1"));
  st.bind(1, id).bind(2, password_hash).bind(3, now);
  WARREN_CHECK(st.run());
  WARREN_CHECK(store::audit(db, actor, "user.passwd", core::to_lower(email)));
  return tx.commit();
}

core::Result<void> update_user(store::Db& db, std::string_view email,
                               const std::optional<std::string>& name,
                               const std::optional<std::string>& totp_secret,
                               std::string_view actor, int64_t now) {
  if (name && (name->size() > 200 || name->find_first_of("\r\n") != std::string::npos))
    return core::err(Errc::data, "--name: at most 200 characters on one line");
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(id, user_id(db, email));
  WARREN_TRY(st, db.prepare("UPDATE users SET name = coalesce(?2, name), "
                            "totp_secret = CASE WHEN ?3 IS NULL THEN totp_secret "
                            "WHEN ?3 = '' THEN NULL ELSE ?3 END, "
                            "totp_last_step = CASE WHEN ?3 IS NULL THEN totp_last_step ELSE 0 END, "
                            "updated_at = ?4 WHERE id = ?1"));
  st.bind(1, id).bind(2, name).bind(3, totp_secret).bind(4, now);
  WARREN_CHECK(st.run());
  bj::object d;
  if (name) d["name"] = *name;
  if (totp_secret) d["totp"] = !totp_secret->empty();
  WARREN_CHECK(store::audit(db, actor, "user.set", core::to_lower(email), detail::json(d)));
  return tx.commit();
}

core::Result<void> set_user_enabled(store::Db& db, std::string_view email, bool enabled,
                                    std::string_view actor, int64_t now) {
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(id, user_id(db, email));
  WARREN_TRY(st, db.prepare("UPDATE users SET enabled = ?2, updated_at = ?3 WHERE id = ?1"));
  st.bind(1, id).bind(2, enabled ? 1 : 0).bind(3, now);
  WARREN_CHECK(st.run());
  WARREN_CHECK(
      store::audit(db, actor, enabled ? "user.enable" : "user.disable", core::to_lower(email)));
  return tx.commit();
}

core::Result<void> remove_user(store::Db& db, std::string_view email, std::string_view actor) {
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(id, user_id(db, email));
  WARREN_TRY(st, db.prepare("DELETE FROM users WHERE id = ?1"));
  st.bind(1, id);
  WARREN_CHECK(st.run());
  WARREN_CHECK(store::audit(db, actor, "user.rm", core::to_lower(email)));
  return tx.commit();
}

core::Result<void> set_user_role(store::Db& db, std::string_view email, std::string_view role,
                                 bool member, std::string_view actor) {
  WARREN_CHECK(check_role("--role", role));
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(id, user_id(db, email));
  WARREN_CHECK(need_role(db, role));
  WARREN_TRY(st, db.prepare(member ? "INSERT INTO user_roles (user_id, role) VALUES (?1, ?2) "
                                     "ON CONFLICT DO NOTHING"
                                   : "DELETE FROM user_roles WHERE user_id = ?1 AND role = ?2"));
  st.bind(1, id).bind(2, role);
  WARREN_CHECK(st.run());
  if (db.changes() == 0)
    return core::err(member ? Errc::data : Errc::noinput,
                     "user " + core::to_lower(email) +
                         (member ? " already has" : " does not have") + " role " +
                         std::string(role));
  WARREN_CHECK(store::audit(db, actor, member ? "user.role.add" : "user.role.rm",
                            core::to_lower(email), detail::json({{"role", role}})));
  return tx.commit();
}

// ---------------------------------------------------------------------------------------------
// roles

core::Result<std::string> check_role(std::string_view field, std::string_view v) {
  WARREN_TRY(n, model::check_name(field, v));
  for (char ch : n)
    if (std::isupper(static_cast<unsigned char>(ch)))
      return core::err(Errc::data, std::string(field) + ": '" + n +
                                       "': role names are lower-case ([a-z0-9._-])");
  return n;
}

core::Result<std::vector<Role>> list_roles(store::Db& db) {
  WARREN_TRY(st, db.prepare("SELECT r.name, r.description, r.created_at, "
                            "(SELECT count(*) FROM user_roles u WHERE u.role = r.name) "
                            "FROM roles r ORDER BY r.name"));
  std::vector<Role> out;
  for (;;) {
    WARREN_TRY(row, st.step());
    if (!row) break;
    out.push_back(Role{st.col_text(0), st.col_text(1), st.col_int(2), st.col_int(3)});
  }
  return out;
}

core::Result<void> add_role(store::Db& db, const Role& r, std::string_view actor, int64_t now) {
  WARREN_TRY(name, check_role("NAME", r.name));
  if (r.description.size() > 200 || r.description.find_first_of("\r\n") != std::string::npos)
    return core::err(Errc::data, "--description: at most 200 characters on one line");
  return detail::change(db, actor, now, [&](model::Installation& m) -> core::Result<void> {
    if (m.roles.count(name)) return detail::exists("role", name);
    m.roles[name] = model::Role{name, r.description};
    return {};
  });
}

core::Result<void> remove_role(store::Db& db, std::string_view name, std::string_view actor) {
  return detail::change(db, actor, ::time(nullptr),
                        [&](model::Installation& m) -> core::Result<void> {
                          auto it = m.roles.find(std::string(name));
                          if (it == m.roles.end()) return detail::missing("role", name);
                          m.roles.erase(it);
                          // Its members and grants go with it (as the store's foreign keys do).
                          auto drop = [&](std::vector<std::string>& v) {
                            v.erase(std::remove(v.begin(), v.end(), name), v.end());
                          };
                          for (auto& [e, u] : m.users) drop(u.roles);
                          for (auto& [n, res] : m.resources) drop(res.roles);
                          return {};
                        });
}

// ---------------------------------------------------------------------------------------------
// grants

core::Result<std::vector<Grant>> list_grants(store::Db& db, std::string_view resource) {
  WARREN_TRY(m, model::read(db));
  if (!resource.empty()) WARREN_CHECK(detail::http_of(m, resource));
  std::vector<Grant> out;
  for (auto& [n, r] : m.resources) {
    if (!resource.empty() && n != resource) continue;
    for (auto& ro : r.roles) out.push_back(Grant{n, "role", ro});
    for (auto& u : r.users) out.push_back(Grant{n, "user", u});
  }
  return out;
}

namespace {

core::Result<void> write_grant(store::Db& db, const Grant& g, bool add, std::string_view actor) {
  std::string subject;
  if (g.kind == "user") {
    WARREN_TRY(email, model::check_email("--user", g.subject));
    subject = email;
  } else if (g.kind == "role") {
    WARREN_TRY(role, check_role("--role", g.subject));
    subject = role;
  } else {
    return core::err(Errc::usage, "grant: give --user EMAIL or --role ROLE");
  }
  return detail::change(
      db, actor, ::time(nullptr), [&](model::Installation& m) -> core::Result<void> {
        WARREN_TRY(r, detail::http_of(m, g.resource));
        if (g.kind == "user" && !m.users.count(subject)) return detail::missing("user", subject);
        if (g.kind == "role" && !m.roles.count(subject)) return detail::missing("role", subject);
        auto& list = g.kind == "user" ? r->users : r->roles;
        auto it = std::find(list.begin(), list.end(), subject);
        if (add == (it != list.end()))
          return core::err(add ? Errc::data : Errc::noinput,
                           g.kind + " " + subject +
                               (add ? " is already granted " : " has no grant on ") + g.resource);
        if (add) {
          list.push_back(subject);
          std::sort(list.begin(), list.end());
        } else {
          list.erase(it);
        }
        return {};
      });
}

}  // namespace

core::Result<void> add_grant(store::Db& db, const Grant& g, std::string_view actor) {
  return write_grant(db, g, true, actor);
}

core::Result<void> remove_grant(store::Db& db, const Grant& g, std::string_view actor) {
  return write_grant(db, g, false, actor);
}

// ---------------------------------------------------------------------------------------------
// share links

core::Result<NewLink> create_link(store::Db& db, const Link& l, std::string_view actor,
                                  int64_t now) {
  if (!l.path.empty()) WARREN_CHECK(model::check_path_prefix("--path", l.path));
  if (l.title.size() > 200 || l.title.find_first_of("\r\n") != std::string::npos)
    return core::err(Errc::data, "--title: at most 200 characters on one line");
  if (l.session_ttl < 0) return core::err(Errc::data, "--session-ttl: must be positive");
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(rid, http_resource_id(db, l.resource));
  auth::ShareToken tok = auth::new_share_token();
  NewLink out{l, auth::to_string(tok)};
  out.link.id = tok.id;
  out.link.created_at = now;
  WARREN_TRY(st, db.prepare("INSERT INTO share_links (id, resource_id, token_hash, title, "
                            "path_prefix, created_at, expires_at, session_ttl) "
                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
  st.bind(1, tok.id).bind(2, rid).bind(3, auth::hash_token(tok.secret)).bind(4, l.title);
  st.bind(5, l.path).bind(6, now).bind(7, opt_time(l.expires_at)).bind(8, opt_time(l.session_ttl));
  WARREN_CHECK(st.run());
  crypto::wipe(tok.secret.data(), tok.secret.size());
  bj::object d{{"id", out.link.id}, {"title", l.title}, {"path", l.path}};
  d["expires_at"] = l.expires_at ? bj::value(l.expires_at) : bj::value(nullptr);
  WARREN_CHECK(store::audit(db, actor, "link.create", l.resource, detail::json(d)));
  WARREN_CHECK(tx.commit());
  return out;
}

core::Result<std::vector<Link>> list_links(store::Db& db, std::string_view resource, int64_t now) {
  if (!resource.empty()) WARREN_CHECK(http_resource_id(db, resource));
  WARREN_TRY(st, db.prepare("SELECT l.id, r.name, l.title, l.path_prefix, l.created_at, "
                            "coalesce(l.expires_at, 0), coalesce(l.session_ttl, 0), l.revoked, "
                            "(SELECT count(*) FROM sessions s WHERE s.share_link_id = l.id AND "
                            "s.revoked = 0 AND s.expires_at > ?2) FROM share_links l "
                            "JOIN resources r ON r.id = l.resource_id WHERE ?1 = '' OR r.name = ?1 "
                            "ORDER BY r.name, l.created_at, l.id"));
  st.bind(1, resource).bind(2, now);
  std::vector<Link> out;
  for (;;) {
    WARREN_TRY(row, st.step());
    if (!row) break;
    out.push_back(Link{st.col_text(0), st.col_text(1), st.col_text(2), st.col_text(3),
                       st.col_int(4), st.col_int(5), st.col_int(6), st.col_int(7) != 0,
                       st.col_int(8)});
  }
  return out;
}

core::Result<int> revoke_link(store::Db& db, std::string_view id, std::string_view actor) {
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(st, db.prepare("SELECT r.name, l.revoked FROM share_links l "
                            "JOIN resources r ON r.id = l.resource_id WHERE l.id = ?1"));
  st.bind(1, id);
  WARREN_TRY(row, st.step());
  if (!row) return detail::missing("share link", id);
  std::string resource = st.col_text(0);
  if (st.col_int(1))
    return core::err(Errc::data, "share link " + std::string(id) + " is already revoked");
  WARREN_TRY(up, db.prepare("UPDATE share_links SET revoked = 1 WHERE id = ?1"));
  up.bind(1, id);
  WARREN_CHECK(up.run());
  WARREN_TRY(ss, db.prepare("UPDATE sessions SET revoked = 1 WHERE share_link_id = ?1 "
                            "AND revoked = 0"));
  ss.bind(1, id);
  WARREN_CHECK(ss.run());
  int ended = db.changes();
  WARREN_CHECK(store::audit(db, actor, "link.revoke", resource,
                            detail::json({{"id", id}, {"sessions", ended}})));
  WARREN_CHECK(tx.commit());
  return ended;
}

// ---------------------------------------------------------------------------------------------
// API keys

core::Result<std::string> check_scope(std::string_view field, std::string_view v) {
  bool ok = !v.empty() && v.size() <= 64;
  for (char ch : v)
    if (!(std::islower(static_cast<unsigned char>(ch)) ||
          std::isdigit(static_cast<unsigned char>(ch)) || ch == ':' || ch == '.' || ch == '_' ||
          ch == '-' || ch == '*'))
      ok = false;
  if (!ok)
    return core::err(Errc::data, std::string(field) + ": '" + std::string(v) +
                                     "': not a scope (1-64 of a-z 0-9 : . _ - *)");
  return std::string(v);
}

core::Result<NewApiKey> create_apikey(store::Db& db, const ApiKey& k, std::string_view actor,
                                      int64_t now) {
  for (const auto& s : k.scopes) WARREN_CHECK(check_scope("--scope", s));
  WARREN_TRY(tx, store::Tx::begin(db));
  std::optional<int64_t> uid, rid;
  NewApiKey out{k, {}};
  if (!k.user.empty()) {
    WARREN_TRY(email, model::check_email("--user", k.user));
    WARREN_TRY(id, user_id(db, email));
    uid = id;
    out.key.user = email;
  }
  if (!k.resource.empty()) {
    WARREN_TRY(id, http_resource_id(db, k.resource));
    rid = id;
  }
  // "wk_" + 16 base64url characters: no ':' so it works as a Basic user name.
  out.key.id = "wk_" + crypto::random_token(12);
  out.secret = auth::new_token();
  out.key.created_at = now;
  WARREN_TRY(st, db.prepare("INSERT INTO api_keys (id, key_hash, user_id, resource_id, scopes, "
                            "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  st.bind(1, out.key.id).bind(2, auth::hash_token(out.secret)).bind(3, uid).bind(4, rid);
  st.bind(5, join(k.scopes, " ")).bind(6, now).bind(7, opt_time(k.expires_at));
  WARREN_CHECK(st.run());
  bj::array scopes;
  for (const auto& s : k.scopes) scopes.push_back(bj::value(s));
  bj::object d{{"user", out.key.user}, {"resource", k.resource}, {"scopes", std::move(scopes)}};
  d["expires_at"] = k.expires_at ? bj::value(k.expires_at) : bj::value(nullptr);
  WARREN_CHECK(store::audit(db, actor, "apikey.create", out.key.id, detail::json(d)));
  WARREN_CHECK(tx.commit());
  return out;
}

core::Result<std::vector<ApiKey>> list_apikeys(store::Db& db) {
  WARREN_TRY(st, db.prepare("SELECT k.id, coalesce(u.email, ''), coalesce(r.name, ''), k.scopes, "
                            "k.created_at, coalesce(k.expires_at, 0), coalesce(k.last_used, 0), "
                            "k.revoked, coalesce(u.enabled, 1) "
                            "FROM api_keys k LEFT JOIN users u ON u.id = k.user_id "
                            "LEFT JOIN resources r ON r.id = k.resource_id "
                            "ORDER BY k.created_at, k.id"));
  std::vector<ApiKey> out;
  for (;;) {
    WARREN_TRY(row, st.step());
    if (!row) break;
    out.push_back(ApiKey{st.col_text(0), st.col_text(1), st.col_text(2), words(st.col_text(3)),
                         st.col_int(4), st.col_int(5), st.col_int(6), st.col_int(7) != 0,
                         st.col_int(8) != 0});
  }
  return out;
}

core::Result<void> revoke_apikey(store::Db& db, std::string_view id, std::string_view actor) {
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(st, db.prepare("SELECT revoked FROM api_keys WHERE id = ?1"));
  st.bind(1, id);
  WARREN_TRY(row, st.step());
  if (!row) return detail::missing("API key", id);
  if (st.col_int(0))
    return core::err(Errc::data, "API key " + std::string(id) + " is already revoked");
  WARREN_TRY(up, db.prepare("UPDATE api_keys SET revoked = 1 WHERE id = ?1"));
  up.bind(1, id);
  WARREN_CHECK(up.run());
  WARREN_CHECK(store::audit(db, actor, "apikey.revoke", id));
  return tx.commit();
}

// ---------------------------------------------------------------------------------------------
// rules

core::Result<RuleRow> check_rule(const RuleRow& in) {
  RuleRow r = in;
  std::string up;
  for (char ch : r.action) up += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (up != "ACCEPT" && up != "DROP" && up != "PASS")
    return core::err(Errc::data, "--action: '" + r.action + "': ACCEPT, DROP or PASS");
  r.action = up;
  if (r.priority < 0 || r.priority > 1000000)
    return core::err(Errc::data, "--priority: '" + std::to_string(r.priority) + "': 0 to 1000000");
  for (auto& ip : r.ips) {
    WARREN_TRY(c, model::check_cidr("--ip", ip));
    ip = c;
  }
  for (auto& m : r.methods) {
    bool ok = !m.empty() && m.size() <= 32;
    for (char& ch : m) {
      ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (!std::isupper(static_cast<unsigned char>(ch))) ok = false;
    }
    if (!ok) return core::err(Errc::data, "--method: '" + m + "': not an HTTP method");
  }
  for (auto& cc : r.countries) {
    for (char& ch : cc) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (cc.size() != 2 || !std::isupper(static_cast<unsigned char>(cc[0])) ||
        !std::isupper(static_cast<unsigned char>(cc[1])))
      return core::err(Errc::data, "--country: '" + cc + "': not an ISO 3166 code (e.g. DE)");
  }
  if (!r.path_glob.empty()) {
    if (r.path_glob.front() != '/' || r.path_glob.size() > 1024 ||
        r.path_glob.find_first_of(" \t\r\n?#") != std::string::npos)
      return core::err(Errc::data, "--path: '" + r.path_glob + "': not a path glob (e.g. /api/**)");
  }
  // The same parse edged does: what passes here loads there.
  auto parsed = auth::make_rule(0, r.priority, r.action, join(r.ips, " "), r.path_glob,
                                join(r.methods, " "), join(r.countries, " "));
  if (!parsed) return std::move(parsed.error()).context("rule");
  return r;
}

namespace {

RuleRow rule_view(const model::Resource& r, const model::Rule& x) {
  RuleRow v;
  v.id = x.id;
  v.resource = r.name;
  v.priority = static_cast<int>(x.priority);
  v.action = x.action;
  v.ips = words(x.ips);
  v.path_glob = x.path;
  v.methods = words(x.methods);
  v.countries = words(x.countries);
  v.enabled = x.enabled;
  return v;
}

}  // namespace

core::Result<int64_t> add_rule(store::Db& db, const RuleRow& in, std::string_view actor,
                               int64_t now) {
  WARREN_TRY(r, check_rule(in));
  WARREN_TRY(tx, store::Tx::begin(db));  // the new id is read back in the same transaction
  int64_t before = 0;
  WARREN_CHECK(detail::change(db, actor, now, [&](model::Installation& m) -> core::Result<void> {
    WARREN_TRY(res, detail::http_of(m, r.resource));
    for (auto& [n, x] : m.resources)
      for (auto& ru : x.rules) before = std::max(before, ru.id);
    model::Rule ru;
    ru.priority = r.priority;
    ru.action = r.action;
    ru.ips = join(r.ips, " ");
    ru.path = r.path_glob;
    ru.methods = join(r.methods, " ");
    ru.countries = join(r.countries, " ");
    ru.enabled = r.enabled;
    res->rules.push_back(std::move(ru));
    return {};
  }));
  WARREN_TRY(m, model::read(db));
  WARREN_TRY(res, detail::http_of(m, r.resource));
  for (auto& ru : res->rules)
    if (ru.id > before) {
      WARREN_CHECK(tx.commit());
      return ru.id;
    }
  return core::err(Errc::internal, "rule added but not found");
}

core::Result<std::vector<RuleRow>> list_rules(store::Db& db, std::string_view resource) {
  WARREN_TRY(m, model::read(db));
  if (!resource.empty()) WARREN_CHECK(detail::http_of(m, resource));
  std::vector<RuleRow> out;
  for (auto& [n, r] : m.resources) {
    if (!resource.empty() && n != resource) continue;
    for (auto& x : r.rules) out.push_back(rule_view(r, x));
  }
  return out;
}

core::Result<void> remove_rule(store::Db& db, int64_t id, std::string_view actor) {
  return detail::change(db, actor, ::time(nullptr),
                        [&](model::Installation& m) -> core::Result<void> {
                          for (auto& [n, r] : m.resources)
                            for (auto it = r.rules.begin(); it != r.rules.end(); ++it)
                              if (it->id == id) {
                                r.rules.erase(it);
                                return {};
                              }
                          return detail::missing("rule", std::to_string(id));
                        });
}

// ---------------------------------------------------------------------------------------------
// sessions

core::Result<std::vector<SessionRow>> list_sessions(store::Db& db, std::string_view resource,
                                                    std::string_view user, int64_t now) {
  if (!resource.empty()) WARREN_CHECK(http_resource_id(db, resource));
  std::string email = core::to_lower(user);
  if (!email.empty()) WARREN_CHECK(user_id(db, email));
  WARREN_TRY(st, db.prepare("SELECT substr(s.token_hash, 1, 16), r.name, coalesce(u.email, ''), "
                            "s.method, s.subject, s.created_at, s.last_seen, s.expires_at "
                            "FROM sessions s JOIN resources r ON r.id = s.resource_id "
                            "LEFT JOIN users u ON u.id = s.user_id "
                            "WHERE s.revoked = 0 AND s.expires_at > ?3 "
                            "AND (?1 = '' OR r.name = ?1) AND (?2 = '' OR u.email = ?2) "
                            "ORDER BY s.created_at, s.token_hash"));
  st.bind(1, resource).bind(2, email).bind(3, now);
  std::vector<SessionRow> out;
  for (;;) {
    WARREN_TRY(row, st.step());
    if (!row) break;
    out.push_back(SessionRow{st.col_text(0), st.col_text(1), st.col_text(2), st.col_text(3),
                             st.col_text(4), st.col_int(5), st.col_int(6), st.col_int(7)});
  }
  return out;
}

core::Result<int> revoke_sessions(store::Db& db, std::string_view id, std::string_view resource,
                                  std::string_view user, std::string_view actor) {
  WARREN_TRY(tx, store::Tx::begin(db));
  int n = 0;
  bj::object d;
  if (!id.empty()) {
    bool hex = id.size() >= 8 && id.size() <= 64 &&
               id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
    if (!hex)
      return core::err(Errc::data, "--id: '" + std::string(id) +
                                       "': a session id (8-64 lower-case hex characters)");
    WARREN_TRY(st,
               db.prepare("SELECT token_hash FROM sessions WHERE substr(token_hash, 1, ?2) = ?1 "
                          "AND revoked = 0"));
    st.bind(1, id).bind(2, int64_t(id.size()));
    std::vector<std::string> hits;
    for (;;) {
      WARREN_TRY(row, st.step());
      if (!row) break;
      hits.push_back(st.col_text(0));
    }
    if (hits.empty()) return detail::missing("live session", id);
    if (hits.size() > 1)
      return core::err(Errc::data, "--id: '" + std::string(id) + "' matches " +
                                       std::to_string(hits.size()) + " sessions: give more of it");
    WARREN_TRY(up, db.prepare("UPDATE sessions SET revoked = 1 WHERE token_hash = ?1"));
    up.bind(1, hits.front());
    WARREN_CHECK(up.run());
    n = 1;
    d["id"] = id;
  } else {
    int64_t rid = 0, uid = 0;
    if (!resource.empty()) {
      WARREN_TRY(r, http_resource_id(db, resource));
      rid = r;
      d["resource"] = resource;
    }
    if (!user.empty()) {
      WARREN_TRY(u, user_id(db, user));
      uid = u;
      d["user"] = core::to_lower(user);
    }
    WARREN_TRY(ended, auth::revoke_sessions(db, rid, uid));
    n = ended;
  }
  d["sessions"] = n;
  WARREN_CHECK(store::audit(db, actor, "session.revoke",
                            resource.empty() ? std::string_view("*") : resource, detail::json(d)));
  WARREN_CHECK(tx.commit());
  return n;
}

}  // namespace control
