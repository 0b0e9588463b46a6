#include "../support.h"
#include "edge/routes.h"
#include "model/model.h"

#include "auth/db.h"
#include "auth/session.h"
#include "control/access.h"
#include "control/audit.h"
#include "control/resources.h"
#include "store/store.h"

using core::Errc;

namespace {

store::Db open_db(const testing::TempDir& d) {
  auto db = store::open_dir(d.path);
  REQUIRE(db);
  return std::move(*db);
}

int64_t count(store::Db& db, const char* table) {
  auto st = db.prepare(std::string("SELECT count(*) FROM ") + table);
  REQUIRE(st);
  REQUIRE(*st->step());
  return st->col_int(0);
}

}  // namespace

TEST_CASE("a batch of control writes in one Tx is all or nothing", "[control]") {
  testing::TempDir d;
  auto db = open_db(d);
  control::Resource r;
  r.name = "web";
  r.host = "app.example.com";
  {
    auto tx = store::Tx::begin(db);
    REQUIRE(tx);
    REQUIRE(control::add_resource(db, r, "test", 1));
    control::Target t;
    t.resource = "web";
    t.host = "10.0.0.5";
    t.port = 80;
    REQUIRE(control::add_target(db, t, "test", 1));
    // no commit: a killed peerctl
  }
  REQUIRE(count(db, "resources") == 0);
  REQUIRE(count(db, "targets") == 0);
  REQUIRE(count(db, "audit") == 0);
  REQUIRE(control::add_resource(db, r, "test", 1));
  REQUIRE(count(db, "audit") == 1);
  auto dup = control::add_resource(db, r, "test", 1);
  REQUIRE(dup.error().code == Errc::data);
  REQUIRE(dup.error().message == "resource web already exists");
  REQUIRE(control::find_resource(db, "nope").error().code == Errc::noinput);
}

TEST_CASE("share links and API keys store hashes that lib/auth accepts", "[control]") {
  testing::TempDir d;
  auto db = open_db(d);
  control::Resource r;
  r.name = "api";
  r.host = "api.example.com";
  REQUIRE(control::add_resource(db, r, "test", 1));
  int64_t rid = *control::http_resource_id(db, "api");

  control::Link l;
  l.resource = "api";
  auto link = control::create_link(db, l, "test", 100);
  REQUIRE(link);
  auto tok = auth::parse_share_token(link->token);
  REQUIRE(tok);
  auto found = auth::find_share_link(db, tok->id);
  REQUIRE(found);
  REQUIRE(*found);
  REQUIRE((*found)->token_hash == auth::hash_token(tok->secret));

  control::ApiKey k;
  k.resource = "api";
  auto key = control::create_apikey(db, k, "test", 100);
  REQUIRE(key);
  auto ok = auth::check_basic(db, rid, key->key.id, key->secret, 200);
  REQUIRE(ok);
  REQUIRE(*ok);
  auto bad = auth::check_basic(db, rid, key->key.id, "wrong", 200);
  REQUIRE(bad);
  REQUIRE_FALSE(*bad);
  REQUIRE(control::revoke_apikey(db, key->key.id, "test"));
  auto gone = auth::check_basic(db, rid, key->key.id, key->secret, 200);
  REQUIRE(gone);
  REQUIRE_FALSE(*gone);
}

TEST_CASE("rules are normalised and converted by edge::policy", "[control]") {
  testing::TempDir d;
  auto db = open_db(d);
  control::Resource r;
  r.name = "app";
  r.host = "app.example.com";
  REQUIRE(control::add_resource(db, r, "test", 1));
  control::RuleRow rule;
  rule.resource = "app";
  rule.action = "drop";
  rule.ips = {"2001:DB8::/32"};
  rule.methods = {"get"};
  rule.countries = {"de"};
  rule.path_glob = "/admin/**";
  REQUIRE(control::add_rule(db, rule, "test", 1));
  control::Auth a;
  a.is_public = false;
  a.basic = true;
  REQUIRE(control::save_auth(db, "app", a, "test", 1));
  auto policy = edge::policy(*model::read_resource(db, "app"));
  REQUIRE(policy);
  REQUIRE(policy->rules.size() == 1);
  REQUIRE(policy->rules[0].action == auth::Action::drop);
  REQUIRE(policy->rules[0].methods == std::vector<std::string>{"GET"});
  rule.action = "ALLOW";
  REQUIRE(control::add_rule(db, rule, "test", 1).error().code == Errc::data);
}

TEST_CASE("audit queries filter and page by id", "[control]") {
  testing::TempDir d;
  auto db = open_db(d);
  REQUIRE(store::audit(db, "peerctl:a", "resource.add", "x"));
  REQUIRE(store::audit(db, "edged", "access.allow", "x"));
  REQUIRE(store::audit(db, "peerctl:b", "resource_add", "y"));
  control::AuditFilter f;
  f.action = "resource.*";
  auto rows = control::query_audit(db, f);
  REQUIRE(rows);
  REQUIRE(rows->size() == 1);
  f = {};
  f.actor = "peerctl:*";
  REQUIRE(control::query_audit(db, f)->size() == 2);
  f = {};
  f.limit = 1;
  REQUIRE(control::query_audit(db, f)->front().object == "y");
  f = {};
  f.after_id = rows->front().id;
  REQUIRE(control::query_audit(db, f)->size() == 2);
}
