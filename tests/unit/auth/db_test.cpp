#include "auth/db.h"
#include "../support.h"
#include "auth/session.h"
#include "crypto/crypto.h"

using namespace auth;

namespace {
constexpr int64_t kNow = 1795399200;

struct Store {
  testing::TempDir dir;
  store::Db db;
  Store() {
    auto d = store::open_dir(dir.path);
    REQUIRE(d);
    db = std::move(*d);
    exec(
        "INSERT INTO resources(id, name, host) VALUES (1, 'wiki', 'wiki.example.com'), "
        "(2, 'open', 'open.example.com')");
  }
  void exec(const std::string& sql) { REQUIRE(db.exec(sql)); }
};
}  // namespace

TEST_CASE("db: sessions round-trip, slide, revoke and die with their user or link", "[auth]") {
  Store s;
  s.exec("INSERT INTO roles(name, created_at) VALUES ('staff', 1)");
  s.exec("INSERT INTO users(id, email, name, created_at) VALUES (5, 'al@example.com', 'Al', 1)");
  s.exec("INSERT INTO user_roles VALUES (5, 'staff')");
  Policy p;
  p.resource_id = 1;
  auto ns = new_session(p, Identity{5, "al@example.com", "al@example.com", "Al", {}}, "users", true,
                        kNow);
  REQUIRE(insert_session(s.db, ns.row));
  auto got = find_session(s.db, hash_token(ns.token));
  REQUIRE(got);
  REQUIRE(*got);
  REQUIRE((*got)->identity.user_id == 5);
  REQUIRE((*got)->identity.email == "al@example.com");
  REQUIRE((*got)->identity.roles == std::vector<std::string>{"staff"});
  REQUIRE_FALSE((*got)->identity.granted);
  s.exec("INSERT INTO resource_users VALUES (1, 5)");
  REQUIRE((*find_session(s.db, hash_token(ns.token)))->identity.granted);
  REQUIRE((*got)->expires_at == kNow + p.session_ttl);
  REQUIRE_FALSE((*got)->revoked);
  REQUIRE_FALSE(*find_session(s.db, hash_token(new_token())));

  REQUIRE(touch_session(s.db, {ns.row.token_hash, kNow + 10, kNow + 99999}));
  REQUIRE((*find_session(s.db, ns.row.token_hash))->expires_at == kNow + 99999);

  s.exec("UPDATE users SET enabled = 0 WHERE id = 5");
  REQUIRE((*find_session(s.db, ns.row.token_hash))->revoked);
  s.exec("UPDATE users SET enabled = 1 WHERE id = 5");
  REQUIRE(revoke_session(s.db, ns.row.token_hash));  // logout
  REQUIRE((*find_session(s.db, ns.row.token_hash))->revoked);
  s.exec("UPDATE sessions SET revoked = 0");
  REQUIRE(*revoke_sessions(s.db, 0, 5) == 1);
  REQUIRE((*find_session(s.db, ns.row.token_hash))->revoked);

  // A share-link session ends when its link is revoked.
  auto t = new_share_token();
  s.exec("INSERT INTO share_links(id, resource_id, token_hash, path_prefix, created_at) VALUES ('" +
         t.id + "', 1, '" + hash_token(t.secret) + "', '/docs', 1)");
  auto link = find_share_link(s.db, t.id);
  REQUIRE(link);
  REQUIRE(*link);
  REQUIRE((*link)->token_hash == hash_token(t.secret));
  REQUIRE((*link)->path_prefix == "/docs");
  REQUIRE((*link)->expires_at == 0);
  auto ls = new_session(p, Identity{0, "share-link:" + t.id, "", "share link", {}}, "share_link",
                        true, kNow, 600, false);
  ls.row.path_prefix = "/docs";
  ls.row.share_link_id = t.id;
  REQUIRE(insert_session(s.db, ls.row));
  auto lsr = *find_session(s.db, ls.row.token_hash);
  REQUIRE_FALSE(lsr->revoked);
  REQUIRE_FALSE(lsr->sliding);
  REQUIRE(lsr->path_prefix == "/docs");
  REQUIRE(lsr->share_link_id == t.id);
  s.exec("UPDATE share_links SET revoked = 1");
  REQUIRE((*find_session(s.db, ls.row.token_hash))->revoked);
  REQUIRE(*purge_sessions(s.db, kNow + 601) == 1);  // the link session expired; the user's not
}

TEST_CASE("db: Basic with API keys and user passwords", "[auth]") {
  Store s;
  s.exec("INSERT INTO users(id, email, password_hash, created_at) VALUES (5, 'al@example.com', '" +
         *crypto::hash_password("pw") + "', 1)");
  auto secret = new_token();
  s.exec(
      "INSERT INTO api_keys(id, key_hash, resource_id, created_at, expires_at) VALUES "
      "('ci', '" +
      hash_token(secret) + "', 1, 1, " + std::to_string(kNow + 60) +
      "), "
      "('other', '" +
      hash_token(secret) + "', 2, 1, NULL)");
  auto id = check_basic(s.db, 1, "ci", secret, kNow);
  REQUIRE(id);
  REQUIRE(*id);
  REQUIRE((*id)->user == "apikey:ci");
  REQUIRE_FALSE(*check_basic(s.db, 1, "ci", "wrong", kNow));
  REQUIRE_FALSE(*check_basic(s.db, 1, "ci", secret, kNow + 60));  // expired
  REQUIRE_FALSE(*check_basic(s.db, 1, "other", secret, kNow));    // another resource's key
  REQUIRE((*check_basic(s.db, 1, "AL@example.com", "pw", kNow))->user_id == 5);
  REQUIRE_FALSE(*check_basic(s.db, 1, "al@example.com", "nope", kNow));
}

TEST_CASE("db: API key scopes, keys of users, last_used; Basic never skips a second factor",
          "[auth]") {
  Store s;
  std::vector<uint8_t> key(20, 1);
  s.exec("INSERT INTO roles(name, created_at) VALUES ('ops', 1)");
  s.exec(
      "INSERT INTO users(id, email, name, password_hash, created_at) VALUES "
      "(5, 'al@example.com', 'Al', '" +
      *crypto::hash_password("pw") + "', 1), (6, 'bo@example.com', 'Bo', '" +
      *crypto::hash_password("pw") + "', 1)");
  s.exec("UPDATE users SET totp_secret = '" + base32(key) + "' WHERE id = 6");
  s.exec("INSERT INTO user_roles(user_id, role) VALUES (5, 'ops')");
  auto secret = new_token();
  auto key_row = [&](const char* id, const char* user_id, const char* scopes) {
    s.exec(
        std::string("INSERT INTO api_keys(id, key_hash, user_id, scopes, created_at) VALUES ('") +
        id + "', '" + hash_token(secret) + "', " + user_id + ", '" + scopes + "', 1)");
  };
  key_row("plain", "NULL", "");  // made before scopes: proxying, as before
  key_row("proxy", "NULL", "proxy api:read");
  key_row("api", "NULL", "api:read api:write");  // for the management API only
  key_row("als", "5", "proxy");
  auto basic = [&](const char* id) { return *check_basic(s.db, 1, id, secret, kNow); };
  REQUIRE(basic("plain"));
  REQUIRE(basic("proxy"));
  REQUIRE_FALSE(basic("api"));
  // A user's key is the user: identity, roles; it ends with the user.
  auto al = basic("als");
  REQUIRE(al);
  REQUIRE(al->user_id == 5);
  REQUIRE(al->user == "al@example.com");
  REQUIRE(al->roles == std::vector<std::string>{"ops"});
  s.exec("UPDATE users SET enabled = 0 WHERE id = 5");
  REQUIRE_FALSE(basic("als"));
  s.exec("UPDATE users SET enabled = 1 WHERE id = 5");
  // last_used is kept, at most once a minute.
  auto last_used = [&](const char* id) {
    auto st = s.db.prepare("SELECT coalesce(last_used, 0) FROM api_keys WHERE id = ?1");
    REQUIRE(st);
    st->bind(1, id);
    REQUIRE(*st->step());
    return st->col_int(0);
  };
  REQUIRE(last_used("plain") == kNow);
  REQUIRE(*check_basic(s.db, 1, "plain", secret, kNow + 30));
  REQUIRE(last_used("plain") == kNow);
  REQUIRE(*check_basic(s.db, 1, "plain", secret, kNow + 61));
  REQUIRE(last_used("plain") == kNow + 61);
  REQUIRE(last_used("api") == 0);  // refused keys are not "used"
  // The password alone of a user with TOTP is not enough; without TOTP it is.
  REQUIRE((*check_basic(s.db, 1, "al@example.com", "pw", kNow))->user_id == 5);
  REQUIRE_FALSE(*check_basic(s.db, 1, "bo@example.com", "pw", kNow));
}

TEST_CASE("db: users, TOTP steps, email codes, audit rows", "[auth]") {
  Store s;
  std::vector<uint8_t> key(20, 1);
  s.exec(
      "INSERT INTO users(id, email, name, totp_secret, created_at) VALUES "
      "(5, 'al@example.com', 'Al', '" +
      base32(key) + "', 1)");
  s.exec("INSERT INTO resource_users VALUES (1, 5)");
  auto u = find_user(s.db, "Al@Example.com", 1);
  REQUIRE(u);
  REQUIRE(*u);
  REQUIRE((*u)->totp_secret == key);
  REQUIRE((*u)->granted);
  REQUIRE_FALSE((*find_user(s.db, "al@example.com", 2))->granted);
  REQUIRE(*claim_totp_step(s.db, 5, 100));
  REQUIRE_FALSE(*claim_totp_step(s.db, 5, 100));  // a step is used once
  REQUIRE_FALSE(*claim_totp_step(s.db, 5, 50));   // never goes back
  REQUIRE((*find_user(s.db, "al@example.com", 1))->totp_last_step == 100);

  auto c = make_email_code("bob@example.com", "ABCD2345", kNow);
  REQUIRE(put_email_code(s.db, 1, c, kNow));
  REQUIRE(put_email_code(s.db, 1, make_email_code("bob@example.com", "ZZZZ2345", kNow), kNow));
  auto got = find_email_code(s.db, 1, "bob@example.com");
  REQUIRE(got);
  REQUIRE(check_email_code(**got, "ZZZZ2345", kNow) == CodeCheck::ok);
  REQUIRE(check_email_code(**got, "ABCD2345", kNow) == CodeCheck::wrong);  // replaced
  REQUIRE(update_email_code(s.db, 1, "bob@example.com", true, false));
  REQUIRE((*find_email_code(s.db, 1, "bob@example.com"))->attempts == 1);
  REQUIRE(*claim_email_code(s.db, 1, "bob@example.com"));
  REQUIRE((*find_email_code(s.db, 1, "bob@example.com"))->used);
  REQUIRE_FALSE(*claim_email_code(s.db, 1, "bob@example.com"));  // used once

  Policy p;
  p.resource_id = 1;
  p.resource = "wiki";
  Request req;
  req.method = "GET";
  req.target = "/";
  req.client = *parse_ip("192.0.2.1");
  Decision d;
  d.outcome = Outcome::deny;
  d.status = 403;
  d.reason = "rule_drop";
  REQUIRE(audit_decision(s.db, d, req, p, kNow));
  auto st = s.db.prepare("SELECT actor, action, object, detail FROM audit");
  REQUIRE(st);
  REQUIRE(*st->step());
  REQUIRE(st->col_text(0) == "edged");
  REQUIRE(st->col_text(1) == "access.deny");
  REQUIRE(st->col_text(2) == "wiki");
  REQUIRE(st->col_text(3).find("\"reason\":\"rule_drop\"") != std::string::npos);
}
