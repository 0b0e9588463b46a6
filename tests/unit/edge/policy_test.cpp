// edge::policy: the access policy edged enforces, converted from the model (lib/model reads
// the store; no SQL of edged's own).
#include "../support.h"
#include "auth/auth.h"
#include "auth/db.h"
#include "edge/routes.h"
#include "model/model.h"
#include "store/store.h"

namespace {

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

TEST_CASE("policies convert from the model read from the store; no row means public", "[edge]") {
  Store s;
  auto open = edge::policy(*model::read_resource(s.db, "open"));
  REQUIRE(open);
  REQUIRE(open->is_public);
  s.exec("INSERT INTO roles(name, created_at) VALUES ('staff', 1)");
  s.exec(
      "INSERT INTO resource_auth(resource_id, m_password, m_share_links, m_basic, pin_digits, "
      "session_ttl, password_hash) VALUES (1, 1, 1, 1, 8, 3600, 'HASH')");
  s.exec("INSERT INTO resource_email_allow VALUES (1, '@example.com')");
  s.exec("INSERT INTO resource_roles VALUES (1, 'staff')");
  s.exec(
      "INSERT INTO rules(id, resource_id, priority, action, ips, path_glob, methods, "
      "created_at, enabled) VALUES (1, 1, 20, 'DROP', '203.0.113.0/24', '', '', 1, 1), "
      "(2, 1, 10, 'ACCEPT', '', '/health', 'GET', 1, 1), (3, 1, 1, 'DROP', '', '/**', '', 1, 0)");
  auto p = edge::policy(*model::read_resource(s.db, "wiki"));
  REQUIRE(p);
  REQUIRE_FALSE(p->is_public);
  REQUIRE(p->methods.password);
  REQUIRE(p->methods.share_links);
  REQUIRE(p->methods.basic);
  REQUIRE_FALSE(p->methods.pin);
  REQUIRE(p->pin_digits == 8);
  REQUIRE(p->session_ttl == 3600);
  REQUIRE(p->email_allow == std::vector<std::string>{"@example.com"});
  REQUIRE(p->allowed_roles == std::vector<std::string>{"staff"});
  REQUIRE(p->rules.size() == 2);  // the disabled rule is not loaded
  REQUIRE(p->rules[0].id == 2);
  REQUIRE(auth::load_secrets(s.db, 1)->password_hash == "HASH");
  // A rule the parser refuses fails the load (never silently skipped).
  s.exec("INSERT INTO rules(resource_id, action, ips, created_at) VALUES (1, 'DROP', 'x', 1)");
  auto bad = edge::policy(*model::read_resource(s.db, "wiki"));
  REQUIRE_FALSE(bad);
  REQUIRE(bad.error().code == core::Errc::data);
}
