// blueprint: parse (positions in errors), diff/plan lines, apply in one transaction, read back,
// render round trip, idempotence, secrets verified rather than re-hashed.
#include <fstream>

#include "../support.h"
#include "blueprint/blueprint.h"
#include "model/model.h"
#include "store/store.h"

namespace {

const char* kBlueprint = R"(version = 1
[sites.homelab]
public_key = "cFAr3d+EBuaNjSF4ZHwTztKt+rRR/NBArwS5lQafRCM="

[[forwards]]
protocol = "tcp"
port = 2222
site = "homelab"
target = "192.168.1.5:22"

[roles.ops]
description = "Operators"

[users."Alice@Example.com"]
roles = ["ops"]

[resources.app]
host = "App.Example.com"
targets = ["http://10.0.0.5:8080", "site://homelab/192.168.1.10:8080"]
[resources.app.auth]
methods = ["users", "email"]
email_allow = ["@example.com"]
roles = ["ops"]
users = ["alice@example.com"]
[[resources.app.rules]]
action = "drop"
path = "/admin/**"
[[resources.app.rules]]
priority = 10
action = "ACCEPT"
ips = ["10.0.0.0/8"]
)";

store::Db open_db(const testing::TempDir& d) {
  auto db = store::open_dir(d.path);
  REQUIRE(db);
  return std::move(*db);
}

model::Plan plan_for(store::Db& db, std::string_view text, bool prune = true) {
  auto want = blueprint::parse(text, "bp.toml", "");
  REQUIRE(want);
  auto have = model::read(db);
  REQUIRE(have);
  model::DiffOptions o;
  o.prune = prune;
  auto p = model::diff(*want, *have, o);
  REQUIRE(p);
  return std::move(*p);
}

}  // namespace

TEST_CASE("blueprint: errors name file:line:column and the key, as bad data") {
  auto r = blueprint::parse("[resources.x]\nhost = \"a..b\"\n", "bp.toml", "");
  REQUIRE(!r);
  CHECK(r.error().code == core::Errc::data);
  CHECK(r.error().message.rfind("bp.toml:2:8: resources.x.host:", 0) == 0);
  r = blueprint::parse("[resources.x]\nhost = \"a.b\"\nport = 1\n", "bp.toml", "");
  REQUIRE(!r);
  CHECK(r.error().message == "bp.toml:3:1: unknown key \"resources.x.port\"");
  r = blueprint::parse(
      "[[forwards]]\nprotocol = \"sctp\"\nport = 1\nsite = \"s\"\ntarget = \"h:1\"\n", "f", "");
  REQUIRE(!r);
  CHECK(r.error().message.find("expected tcp or udp") != std::string::npos);
  r = blueprint::parse("[resources.a]\nhost = \"h.example\"\n[resources.b]\nhost = \"h.example\"\n",
                       "f", "");
  REQUIRE(!r);
  CHECK(r.error().message.find("is also resource a") != std::string::npos);
  r = blueprint::parse("x = [", "f", "");
  REQUIRE(!r);
  CHECK(r.error().code == core::Errc::data);
}

TEST_CASE("blueprint: apply, read back, render round trip, second plan empty") {
  testing::TempDir d;
  auto db = open_db(d);
  auto p = plan_for(db, kBlueprint);
  CHECK(p.text() ==
        "+ role ops\n+ site homelab\n+ forward tcp 2222: -> homelab 192.168.1.5:22\n"
        "+ user alice@example.com\n+ resource app: app.example.com/\n"
        "+ rule app: 10 ACCEPT ips=10.0.0.0/8\n+ rule app: 100 DROP path=/admin/**\n");
  REQUIRE(model::apply(db, p, "test", 1000));
  CHECK(plan_for(db, kBlueprint).text() == "no changes\n");

  auto have = model::read(db);
  REQUIRE(have);
  const auto& app = have->resources.at("app");
  CHECK(app.host == "app.example.com");
  REQUIRE(app.targets.size() == 2);
  CHECK(app.targets[1].site == "homelab");
  REQUIRE(app.auth);
  CHECK(app.users == std::vector<std::string>{"alice@example.com"});
  CHECK(app.rules.size() == 2);
  CHECK(app.rules[0].priority == 10);

  std::string text = blueprint::render(*have);
  CHECK(plan_for(db, text).text() == "no changes\n");
  auto again = blueprint::parse(text, "export", "");
  REQUIRE(again);
  CHECK(blueprint::render(*again) == text);
}

TEST_CASE("blueprint: changes and prunes; --no-prune keeps; kinds left out are untouched") {
  testing::TempDir d;
  auto db = open_db(d);
  REQUIRE(model::apply(db, plan_for(db, kBlueprint), "test", 1000));
  std::string changed = kBlueprint;
  changed.replace(changed.find("App.Example.com"), 15, "new.example.com");
  changed.replace(changed.find("priority = 10"), 13, "priority = 20");
  auto p = plan_for(db, changed);
  CHECK(p.text() ==
        "~ resource app: host app.example.com -> new.example.com\n"
        "+ rule app: 20 ACCEPT ips=10.0.0.0/8\n- rule 1: app 10 ACCEPT ips=10.0.0.0/8\n");
  REQUIRE(model::apply(db, p, "test", 1001));
  CHECK(plan_for(db, changed).empty());

  // Only [resources]: sites, users and roles stay.
  const char* other = "[resources.b]\nhost = \"b.example\"\ntargets = [\"http://1.2.3.4:80\"]\n";
  CHECK(plan_for(db, other).text() == "+ resource b: b.example/\n- resource app\n");
  CHECK(plan_for(db, other, false).text() == "+ resource b: b.example/\n");
  // An empty table prunes its kind.
  CHECK(plan_for(db, "[roles]\n[users]\n").text() == "- role ops\n- user alice@example.com\n");
}

TEST_CASE("blueprint: references must exist; a failed apply writes nothing") {
  testing::TempDir d;
  auto db = open_db(d);
  auto want = blueprint::parse(
      "[resources.a]\nhost = \"a.example\"\ntargets = "
      "[\"site://nope/1.2.3.4:80\"]\n",
      "f", "");
  REQUIRE(want);
  auto have = model::read(db);
  auto p = model::diff(*want, *have);
  REQUIRE(!p);
  CHECK(p.error().message == "resources.a.targets: no site nope");

  // A constraint failure half-way rolls everything back.
  REQUIRE(db.exec("INSERT INTO resources (name, host) VALUES ('x', 'taken.example')"));
  auto q = plan_for(db,
                    "[resources.a]\nhost = \"a.example\"\n[resources.b]\nhost = "
                    "\"taken.example\"\n",
                    false);
  auto r = model::apply(db, q, "test", 1);
  REQUIRE(!r);
  CHECK(r.error().code == core::Errc::data);
  auto after = model::read(db);
  CHECK(after->resources.size() == 1);
}

TEST_CASE("blueprint: password files are verified against the stored hash, not re-hashed") {
  testing::TempDir d;
  auto db = open_db(d);
  std::ofstream(d.path + "/pw") << "hunter2\n";
  std::string bp =
      "[resources.a]\nhost = \"a.example\"\n[resources.a.auth]\nmethods = "
      "[\"password\"]\npassword_file = \"pw\"\n";
  auto want = blueprint::parse(bp, "bp", d.path);
  REQUIRE(want);
  auto p = model::diff(*want, *model::read(db));
  REQUIRE(p);
  REQUIRE(model::apply(db, *p, "t", 1));
  auto have = model::read(db);
  auto hash = have->resources.at("a").auth->password.hash;
  REQUIRE(hash);
  CHECK(hash->rfind("$argon2id$", 0) == 0);
  auto p2 = model::diff(*blueprint::parse(bp, "bp", d.path), *have);
  CHECK(p2->empty());
  std::ofstream(d.path + "/pw") << "other\n";
  auto p3 = model::diff(*blueprint::parse(bp, "bp", d.path), *have);
  CHECK(p3->text() == "~ resource a: auth.password changes\n");
  // Without a secret key the stored hash stays.
  auto p4 = model::diff(*blueprint::parse(blueprint::render(*have), "x", ""), *have);
  CHECK(p4->empty());
}

TEST_CASE("blueprint: weights, per-target TLS, headers and forward names round-trip") {
  testing::TempDir d;
  auto db = open_db(d);
  const char* bp = R"([sites.s]
public_key = "cFAr3d+EBuaNjSF4ZHwTztKt+rRR/NBArwS5lQafRCM="
[[forwards]]
name = "ssh"
protocol = "tcp"
port = 2222
site = "s"
target = "10.0.0.1:22"
[resources.a]
host = "a.example"
tls = true
headers = ["X-Env: prod"]
[[resources.a.target]]
url = "https://10.0.0.1:443"
weight = 3
tls_sni = "a.internal"
[[resources.a.target]]
url = "site://s/10.0.0.2:80"
enabled = false
)";
  auto p = plan_for(db, bp);
  REQUIRE(model::apply(db, p, "t", 1));
  CHECK(plan_for(db, bp).empty());
  auto have = model::read(db);
  const auto& a = have->resources.at("a");
  CHECK(a.tls);
  CHECK(a.headers == std::vector<std::string>{"X-Env: prod"});
  REQUIRE(a.targets.size() == 2);
  CHECK(a.targets[0].weight == 3);
  CHECK(a.targets[0].tls_sni == "a.internal");
  CHECK(!a.targets[1].enabled);
  CHECK(have->forwards.begin()->second.name == "ssh");
  std::string text = blueprint::render(*have);
  CHECK(text.find("[[resources.a.target]]") != std::string::npos);
  CHECK(plan_for(db, text).empty());
}

TEST_CASE("blueprint: auth settings must be usable (as peerctl resource auth checks them)") {
  testing::TempDir d;
  auto db = open_db(d);
  auto check = [&](const std::string& auth) {
    auto want = blueprint::parse("[resources.a]\nhost = \"a.example\"\n[resources.a.auth]\n" + auth,
                                 "f", "");
    REQUIRE(want);
    auto p = model::diff(*want, *model::read(db));
    return p ? std::string("ok") : p.error().message;
  };
  CHECK(check("methods = []\n") == "resources.a.auth: a protected resource needs methods");
  CHECK(check("methods = [\"password\"]\n") ==
        "resources.a.auth: the password method needs password_file or password_hash");
  CHECK(check("methods = [\"email\"]\n") == "resources.a.auth: the email method needs email_allow");
  CHECK(check("methods = [\"email\"]\nemail_allow = [\"@example.com\"]\n") == "ok");
  CHECK(check("public = true\n") == "ok");
  auto bad = blueprint::parse(
      "[resources.a]\nhost = \"a.example\"\n[[resources.a.rules]]\n"
      "action = \"ACCEPT\"\nips = [\"10.0.0.0/33\"]\n",
      "f", "");
  REQUIRE(!bad);
  CHECK(bad.error().message.rfind("f:5:7: resources.a.rules[0].ips:", 0) == 0);
}
