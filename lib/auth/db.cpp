#include "auth/db.h"

#include "auth/session.h"
#include "core/text.h"
#include "crypto/crypto.h"

namespace auth {

namespace {
std::vector<std::string> roles_of(store::Db& db, int64_t user_id, core::Error* err) {
  std::vector<std::string> out;
  auto st = db.prepare("SELECT role FROM user_roles WHERE user_id = ?1 ORDER BY role");
  if (!st) {
    *err = st.error();
    return out;
  }
  st->bind(1, user_id);
  while (true) {
    auto more = st->step();
    if (!more) {
      *err = more.error();
      return out;
    }
    if (!*more) break;
    out.push_back(st->col_text(0));
  }
  return out;
}

}  // namespace

core::Result<PortalSecrets> load_secrets(store::Db& db, int64_t resource_id) {
  WARREN_TRY(st, db.prepare("SELECT coalesce(password_hash, ''), coalesce(pin_hash, '') "
                            "FROM resource_auth WHERE resource_id = ?1"));
  st.bind(1, resource_id);
  PortalSecrets s;
  WARREN_TRY(row, st.step());
  if (row) {
    s.password_hash = st.col_text(0);
    s.pin_hash = st.col_text(1);
  }
  return s;
}

core::Result<std::optional<Session>> find_session(store::Db& db, std::string_view token_hash) {
  WARREN_TRY(st,
             db.prepare("SELECT s.token_hash, s.resource_id, s.method, s.subject, s.path_prefix, "
                        "s.created_at, s.last_seen, s.expires_at, s.ttl, s.sliding, s.revoked, "
                        "coalesce(s.user_id, 0), coalesce(u.email, ''), coalesce(u.name, ''), "
                        "coalesce(u.enabled, 1), coalesce(l.revoked, 0), "
                        "EXISTS (SELECT 1 FROM resource_users g "
                        "        WHERE g.user_id = s.user_id AND g.resource_id = s.resource_id), "
                        "coalesce(s.share_link_id, ''), s.secret_tag "
                        "FROM sessions s LEFT JOIN users u ON u.id = s.user_id "
                        "LEFT JOIN share_links l ON l.id = s.share_link_id "
                        "WHERE s.token_hash = ?1"));
  st.bind(1, token_hash);
  WARREN_TRY(row, st.step());
  if (!row) return std::optional<Session>{};
  Session s;
  s.token_hash = st.col_text(0);
  s.resource_id = st.col_int(1);
  s.method = st.col_text(2);
  s.identity.user = st.col_text(3);
  s.path_prefix = st.col_text(4);
  s.created_at = st.col_int(5);
  s.last_seen = st.col_int(6);
  s.expires_at = st.col_int(7);
  s.ttl = st.col_int(8);
  s.sliding = st.col_int(9) != 0;
  s.share_link_id = st.col_text(17);
  s.secret_tag = st.col_text(18);
  s.revoked = st.col_int(10) != 0 || st.col_int(14) == 0 || st.col_int(15) != 0;
  s.identity.user_id = st.col_int(11);
  if (s.identity.user_id) {
    s.identity.email = st.col_text(12);
    s.identity.name = st.col_text(13);
    s.identity.granted = st.col_int(16) != 0;
    if (s.identity.user.empty()) s.identity.user = s.identity.email;
    core::Error err;
    s.identity.roles = roles_of(db, s.identity.user_id, &err);
    if (!err.message.empty()) return err;
  } else if (s.method == "email") {
    s.identity.email = s.identity.user;
  } else if (s.method == "share_link") {
    s.identity.name = "share link";
  }
  return std::optional<Session>{std::move(s)};
}

core::Result<void> insert_session(store::Db& db, const Session& s) {
  WARREN_TRY(st, db.prepare("INSERT INTO sessions(token_hash, resource_id, user_id, method, "
                            "subject, share_link_id, path_prefix, created_at, last_seen, "
                            "expires_at, ttl, sliding, secret_tag) "
                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"));
  st.bind(1, s.token_hash).bind(2, s.resource_id);
  if (s.identity.user_id)
    st.bind(3, s.identity.user_id);
  else
    st.bind_null(3);
  st.bind(4, s.method).bind(5, s.identity.user);
  if (s.share_link_id.empty())
    st.bind_null(6);
  else
    st.bind(6, s.share_link_id);
  st.bind(7, s.path_prefix).bind(8, s.created_at).bind(9, s.last_seen).bind(10, s.expires_at);
  st.bind(11, s.ttl).bind(12, s.sliding ? 1 : 0).bind(13, s.secret_tag);
  return st.run();
}

core::Result<void> touch_session(store::Db& db, const SessionTouch& t) {
  WARREN_TRY(st, db.prepare("UPDATE sessions SET last_seen = ?2, expires_at = ?3 "
                            "WHERE token_hash = ?1 AND revoked = 0"));
  st.bind(1, t.token_hash).bind(2, t.last_seen).bind(3, t.expires_at);
  return st.run();
}

core::Result<void> revoke_session(store::Db& db, std::string_view token_hash) {
  WARREN_TRY(st, db.prepare("UPDATE sessions SET revoked = 1 WHERE token_hash = ?1"));
  st.bind(1, token_hash);
  return st.run();
}

core::Result<int> revoke_sessions(store::Db& db, int64_t resource_id, int64_t user_id) {
  WARREN_TRY(st, db.prepare("UPDATE sessions SET revoked = 1 WHERE revoked = 0 "
                            "AND (?1 = 0 OR resource_id = ?1) AND (?2 = 0 OR user_id = ?2)"));
  st.bind(1, resource_id).bind(2, user_id);
  WARREN_CHECK(st.run());
  return db.changes();
}

core::Result<int> purge_sessions(store::Db& db, int64_t now) {
  WARREN_TRY(st, db.prepare("DELETE FROM sessions WHERE expires_at < ?1"));
  st.bind(1, now);
  WARREN_CHECK(st.run());
  return db.changes();
}

core::Result<std::optional<ShareLink>> find_share_link(store::Db& db, std::string_view id) {
  WARREN_TRY(st, db.prepare("SELECT id, resource_id, token_hash, path_prefix, "
                            "coalesce(expires_at, 0), coalesce(session_ttl, 0), revoked "
                            "FROM share_links WHERE id = ?1"));
  st.bind(1, id);
  WARREN_TRY(row, st.step());
  if (!row) return std::optional<ShareLink>{};
  return std::optional<ShareLink>{ShareLink{st.col_text(0), st.col_int(1), st.col_text(2),
                                            st.col_text(3), st.col_int(4), st.col_int(5),
                                            st.col_int(6) != 0}};
}

core::Result<std::optional<UserRecord>> find_user(store::Db& db, std::string_view email,
                                                  int64_t resource_id) {
  WARREN_TRY(st, db.prepare("SELECT u.id, u.email, u.name, coalesce(u.password_hash, ''), "
                            "coalesce(u.totp_secret, ''), u.totp_last_step, u.enabled, "
                            "EXISTS (SELECT 1 FROM resource_users g "
                            "        WHERE g.user_id = u.id AND g.resource_id = ?2) "
                            "FROM users u WHERE u.email = ?1"));
  st.bind(1, core::to_lower(email)).bind(2, resource_id);
  WARREN_TRY(row, st.step());
  if (!row) return std::optional<UserRecord>{};
  UserRecord u;
  u.identity.user_id = st.col_int(0);
  u.identity.user = u.identity.email = st.col_text(1);
  u.identity.name = st.col_text(2);
  u.password_hash = st.col_text(3);
  if (auto secret = st.col_text(4); !secret.empty()) {
    auto raw = unbase32(secret);
    if (!raw || raw->empty())
      return core::err(core::Errc::data, "user " + u.identity.email + ": bad TOTP secret");
    u.totp_secret = std::move(*raw);
  }
  u.totp_last_step = st.col_int(5);
  u.enabled = st.col_int(6) != 0;
  u.granted = u.identity.granted = st.col_int(7) != 0;
  core::Error err;
  u.identity.roles = roles_of(db, u.identity.user_id, &err);
  if (!err.message.empty()) return err;
  return std::optional<UserRecord>{std::move(u)};
}

namespace {
// Whether a key's space-separated scopes let it authenticate proxied requests (see
// kApiKeyScopes): no scopes (keys made before scopes) or "proxy".
bool proxy_scope(std::string_view scopes) {
  if (core::trim(scopes).empty()) return true;
  for (auto& s : core::split(scopes, ' '))
    if (core::trim(s) == "proxy") return true;
  return false;
}
}  // namespace

core::Result<std::optional<Identity>> check_basic(store::Db& db, int64_t resource_id,
                                                  std::string_view user, std::string_view password,
                                                  int64_t now) {
  WARREN_TRY(k, db.prepare("SELECT key_hash, coalesce(user_id, 0), scopes FROM api_keys "
                           "WHERE id = ?1 AND revoked = 0 "
                           "AND (expires_at IS NULL OR expires_at > ?2) "
                           "AND (resource_id IS NULL OR resource_id = ?3)"));
  k.bind(1, user).bind(2, now).bind(3, resource_id);
  WARREN_TRY(key_row, k.step());
  if (key_row) {
    if (!crypto::equal(hash_token(password), k.col_text(0))) return std::optional<Identity>{};
    if (!proxy_scope(k.col_text(2))) return std::optional<Identity>{};
    const int64_t owner = k.col_int(1);
    Identity id;
    if (owner != 0) {
      // A user's key is that user: their roles and grants, and nothing once they are disabled.
      WARREN_TRY(e, db.prepare("SELECT email FROM users WHERE id = ?1"));
      e.bind(1, owner);
      WARREN_TRY(erow, e.step());
      if (!erow) return std::optional<Identity>{};
      WARREN_TRY(u, find_user(db, e.col_text(0), resource_id));
      if (!u || !u->enabled) return std::optional<Identity>{};
      id = u->identity;
    } else {
      id.user = "apikey:" + std::string(user);
      id.name = "API key " + std::string(user);
    }
    // last_used, at most once a minute per key (a write per request would queue on the store).
    WARREN_TRY(lu, db.prepare("UPDATE api_keys SET last_used = ?2 WHERE id = ?1 AND "
                              "(last_used IS NULL OR last_used <= ?2 - 60)"));
    lu.bind(1, user).bind(2, now);
    WARREN_CHECK(lu.run());
    return std::optional<Identity>{std::move(id)};
  }
  WARREN_TRY(u, find_user(db, user, resource_id));
  bool ok = verify_secret(u && u->enabled ? std::string_view(u->password_hash) : std::string_view{},
                          password);
  // A user with a second factor cannot sign in with the password alone: Basic carries no code.
  if (!u || !u->enabled || !ok || !u->totp_secret.empty()) return std::optional<Identity>{};
  return std::optional<Identity>{u->identity};
}

core::Result<void> put_email_code(store::Db& db, int64_t resource_id, const EmailCode& c,
                                  int64_t now) {
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(del, db.prepare("DELETE FROM email_codes WHERE resource_id = ?1 AND address = ?2"));
  del.bind(1, resource_id).bind(2, c.address);
  WARREN_CHECK(del.run());
  WARREN_TRY(ins, db.prepare("INSERT INTO email_codes(resource_id, address, code_hash, "
                             "created_at, expires_at, attempts, used) "
                             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  ins.bind(1, resource_id).bind(2, c.address).bind(3, c.code_hash).bind(4, now);
  ins.bind(5, c.expires_at).bind(6, c.attempts).bind(7, c.used ? 1 : 0);
  WARREN_CHECK(ins.run());
  return tx.commit();
}

core::Result<std::optional<EmailCode>> find_email_code(store::Db& db, int64_t resource_id,
                                                       std::string_view address) {
  WARREN_TRY(st, db.prepare("SELECT address, code_hash, expires_at, attempts, used "
                            "FROM email_codes WHERE resource_id = ?1 AND address = ?2 "
                            "ORDER BY id DESC LIMIT 1"));
  st.bind(1, resource_id).bind(2, address);
  WARREN_TRY(row, st.step());
  if (!row) return std::optional<EmailCode>{};
  return std::optional<EmailCode>{EmailCode{st.col_text(0), st.col_text(1), st.col_int(2),
                                            static_cast<int>(st.col_int(3)), st.col_int(4) != 0}};
}

core::Result<void> update_email_code(store::Db& db, int64_t resource_id, std::string_view address,
                                     bool failed_attempt, bool used) {
  WARREN_TRY(st, db.prepare("UPDATE email_codes SET attempts = attempts + ?3, "
                            "used = CASE WHEN ?4 = 1 THEN 1 ELSE used END "
                            "WHERE resource_id = ?1 AND address = ?2"));
  st.bind(1, resource_id).bind(2, address).bind(3, failed_attempt ? 1 : 0).bind(4, used ? 1 : 0);
  return st.run();
}

core::Result<bool> claim_totp_step(store::Db& db, int64_t user_id, int64_t step) {
  WARREN_TRY(st, db.prepare("UPDATE users SET totp_last_step = ?2 "
                            "WHERE id = ?1 AND totp_last_step < ?2"));
  st.bind(1, user_id).bind(2, step);
  WARREN_CHECK(st.run());
  return db.changes() == 1;
}

core::Result<bool> claim_email_code(store::Db& db, int64_t resource_id, std::string_view address) {
  WARREN_TRY(st, db.prepare("UPDATE email_codes SET used = 1 "
                            "WHERE resource_id = ?1 AND address = ?2 AND used = 0"));
  st.bind(1, resource_id).bind(2, address);
  WARREN_CHECK(st.run());
  return db.changes() >= 1;
}

core::Result<void> audit_decision(store::Db& db, const Decision& d, const Request& req,
                                  const Policy& policy, int64_t now) {
  return store::audit(db, "edged", std::string("access.") + outcome_name(d.outcome),
                      policy.resource, audit_json(d, req, policy, now));
}

}  // namespace auth
