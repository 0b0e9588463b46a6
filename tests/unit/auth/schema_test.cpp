#include "../support.h"
#include "store/store.h"

// Migration 0040: the tables exist, reference resources, cascade, and check their values.
TEST_CASE("schema 0040 holds users, policies, rules, sessions and cascades", "[auth]") {
  testing::TempDir dir;
  auto db = store::open_dir(dir.path);
  REQUIRE(db);
  REQUIRE(db->schema_version() >= 40);
  auto exec = [&](const std::string& sql) { return static_cast<bool>(db->exec(sql)); };
  REQUIRE(exec("INSERT INTO resources(id, name, host) VALUES (1, 'app', 'app.example.com')"));
  REQUIRE(
      exec("INSERT INTO users(id, email, name, password_hash, created_at) "
           "VALUES (1, 'alice@example.com', 'Alice', '$argon2id$x', 1)"));
  REQUIRE_FALSE(exec("INSERT INTO users(email, created_at) VALUES ('alice@example.com', 1)"));
  REQUIRE(exec("INSERT INTO roles(name, created_at) VALUES ('admin', 1)"));
  REQUIRE(exec("INSERT INTO user_roles VALUES (1, 'admin')"));
  REQUIRE_FALSE(exec("INSERT INTO user_roles VALUES (1, 'nosuchrole')"));
  REQUIRE(
      exec("INSERT INTO resource_auth(resource_id, m_password, m_pin, pin_digits, "
           "password_hash) VALUES (1, 1, 1, 6, '$argon2id$y')"));
  REQUIRE_FALSE(exec("INSERT INTO resource_auth(resource_id, pin_digits) VALUES (1, 3)"));
  REQUIRE(exec("INSERT INTO resource_email_allow VALUES (1, '@example.com')"));
  REQUIRE(exec("INSERT INTO resource_roles VALUES (1, 'admin')"));
  REQUIRE(exec("INSERT INTO resource_users VALUES (1, 1)"));
  REQUIRE(
      exec("INSERT INTO share_links(id, resource_id, token_hash, created_at, expires_at) "
           "VALUES ('abc', 1, 'h', 1, 100)"));
  REQUIRE(exec("INSERT INTO api_keys(id, key_hash, user_id, created_at) VALUES ('k1','h',1,1)"));
  REQUIRE(
      exec("INSERT INTO rules(resource_id, priority, action, ips, created_at) "
           "VALUES (1, 10, 'DROP', '10.0.0.0/8', 1)"));
  REQUIRE_FALSE(exec("INSERT INTO rules(resource_id, action, created_at) VALUES (1, 'ALLOW', 1)"));
  REQUIRE(
      exec("INSERT INTO sessions(token_hash, resource_id, user_id, method, created_at, "
           "last_seen, expires_at, ttl) VALUES ('t1', 1, 1, 'users', 1, 1, 100, 50)"));
  REQUIRE(
      exec("INSERT INTO sessions(token_hash, resource_id, method, share_link_id, created_at, "
           "last_seen, expires_at, ttl, sliding) VALUES ('t2',1,'share_link','abc',1,1,9,9,0)"));
  REQUIRE(
      exec("INSERT INTO email_codes(resource_id, address, code_hash, created_at, expires_at) "
           "VALUES (1, 'bob@example.com', 'h', 1, 901)"));
  REQUIRE(exec("INSERT INTO auth_failures VALUES ('192.0.2.1', 1, 3, 5, 0)"));
  REQUIRE_FALSE(
      exec("INSERT INTO sessions(token_hash, resource_id, method, created_at, "
           "last_seen, expires_at, ttl) VALUES ('t3', 99, 'pin', 1, 1, 2, 1)"));
  auto count = [&](const char* table) {
    auto st = db->prepare(std::string("SELECT count(*) FROM ") + table);
    REQUIRE(st);
    REQUIRE(*st->step());
    return st->col_int(0);
  };
  // Deleting the share link ends its sessions; deleting the resource removes everything of it.
  REQUIRE(exec("DELETE FROM share_links WHERE id='abc'"));
  REQUIRE(count("sessions") == 1);
  REQUIRE(exec("DELETE FROM resources WHERE id=1"));
  for (auto t : {"resource_auth", "resource_email_allow", "resource_roles", "resource_users",
                 "rules", "sessions", "email_codes", "auth_failures"})
    REQUIRE(count(t) == 0);
  REQUIRE(count("users") == 1);
  REQUIRE(count("api_keys") == 1);  // tied to the user, not the resource
  REQUIRE(exec("DELETE FROM users WHERE id=1"));
  REQUIRE(count("user_roles") == 0);
  REQUIRE(count("api_keys") == 0);
}
