// model: the one model of the installation — store -> model -> TOML -> model -> store is the
// identity, the diff keeps what it can (target ids, renamed resources, moved forwards), the
// audit rows have one format, and validation names neutral paths.
#include "model/model.h"
#include "../support.h"
#include "blueprint/blueprint.h"
#include "store/store.h"

namespace {

const char* kFull = R"(version = 1
[sites.homelab]
public_key = "cFAr3d+EBuaNjSF4ZHwTztKt+rRR/NBArwS5lQafRCM="

[[forwards]]
name = "ssh"
protocol = "tcp"
port = 2222
site = "homelab"
target = "192.168.1.5:22"
allow = ["10.0.0.0/8", "192.0.2.7"]
deny_countries = ["RU"]
max_conns = 4
conn_rate = 2
tls_client_cert = true

[roles.ops]
description = "Operators"

[users."alice@example.com"]
roles = ["ops"]

[resources.app]
host = "app.example.com"
lb = "least_conn"
sticky = true
host_header = "@target"
health = { path = "/healthz", interval = "5s", timeout = "750ms", rise = 3, fall = 5 }
[[resources.app.target]]
url = "http://10.0.0.5:8080"
weight = 3
[[resources.app.target]]
url = "site+https://homelab/[fd00::10]:8443"
tls_verify = false
tls_sni = "nas.lan"
[resources.app.auth]
methods = ["users", "email"]
email_allow = ["@example.com"]
roles = ["ops"]
users = ["alice@example.com"]
pin_digits = 8
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

void apply(store::Db& db, const model::Installation& want, bool prune = true) {
  auto have = model::read(db);
  REQUIRE(have);
  model::DiffOptions o;
  o.prune = prune;
  auto p = model::diff(want, *have, o);
  REQUIRE(p);
  auto ok = model::apply(db, *p, "test", 1800000000, "test");
  if (!ok) FAIL(ok.error().message);
}

model::Installation parse(std::string_view text) {
  auto m = blueprint::parse(text, "bp.toml", "");
  if (!m) FAIL(m.error().message);
  return std::move(*m);
}

std::string audit(store::Db& db) {
  auto q = db.prepare("SELECT group_concat(action || ' ' || object, ', ') FROM audit");
  REQUIRE(q);
  REQUIRE(*q->step());
  return q->col_text(0);
}

}  // namespace

TEST_CASE("store -> model -> TOML -> model -> store is the identity", "[model]") {
  testing::TempDir d;
  auto db = open_db(d);
  apply(db, parse(kFull));
  auto once = model::read(db);
  REQUIRE(once);
  const model::Resource& app = once->resources.at("app");
  CHECK(app.lb == "least_conn");
  CHECK(app.sticky);
  CHECK(app.host_header == "@target");
  CHECK(app.health_timeout_ms == 750);
  CHECK(app.health_rise == 3);
  CHECK(app.health_fall == 5);
  REQUIRE(app.targets.size() == 2);
  CHECK(app.targets[1].str() == "site+https://homelab/[fd00::10]:8443");
  CHECK(app.auth->pin_digits == 8);
  const model::Forward& ssh = once->forwards.at({"tcp", 2222});
  CHECK(ssh.allow == std::vector<std::string>{"10.0.0.0/8", "192.0.2.7"});
  CHECK(ssh.deny_countries == std::vector<std::string>{"RU"});
  CHECK(ssh.max_conns == 4);
  CHECK(ssh.tls_client_cert);
  // Rendered and parsed back, the model diffs to nothing against the store, and the text is
  // stable (a second round gives the same bytes).
  std::string text = blueprint::render(*once, true);
  auto again = parse(text);
  auto p = model::diff(again, *once);
  REQUIRE(p);
  CHECK(p->text() == "no changes\n");
  CHECK(blueprint::render(again, true) == text);
  CHECK(model::validate(*once).empty());
}

TEST_CASE("diff keeps ids: equal targets, a target changed in place, a renamed resource",
          "[model]") {
  testing::TempDir d;
  auto db = open_db(d);
  apply(db, parse(kFull));
  auto have = model::read(db);
  REQUIRE(have);
  int64_t app_id = have->resources.at("app").id;
  int64_t t1 = have->resources.at("app").targets[0].id;
  int64_t t2 = have->resources.at("app").targets[1].id;

  model::Installation want = *have;
  model::Resource moved = want.resources.at("app");
  want.resources.erase("app");
  moved.name = "web";
  moved.targets[0].weight = 7;                // changed in place (it has its id)
  moved.targets.push_back(moved.targets[1]);  // a copy of an existing one: a new row
  moved.targets.back().id = 0;
  moved.targets.back().port = 9443;
  want.resources["web"] = moved;
  auto p = model::diff(want, *have);
  REQUIRE(p);
  CHECK(p->res_add.empty());
  CHECK(p->res_rm.empty());
  REQUIRE(model::apply(db, *p, "test", 1800000001, "peerctl"));
  auto after = model::read(db);
  REQUIRE(after);
  const model::Resource& web = after->resources.at("web");
  CHECK(web.id == app_id);
  REQUIRE(web.targets.size() == 3);
  CHECK(web.targets[0].id == t1);
  CHECK(web.targets[0].weight == 7);
  CHECK(web.targets[1].id == t2);
  CHECK(web.targets[2].id > t2);
  CHECK(web.users == std::vector<std::string>{"alice@example.com"});  // grants kept
  // One audit format: a row per change, the object the resource.
  CHECK(audit(db).find("target.set web, target.add web, resource.set web") != std::string::npos);
}

TEST_CASE("a named forward moved to another port is changed, not replaced", "[model]") {
  testing::TempDir d;
  auto db = open_db(d);
  apply(db, parse(kFull));
  auto have = model::read(db);
  REQUIRE(have);
  model::Installation want = *have;
  model::Forward f = want.forwards.at({"tcp", 2222});
  want.forwards.erase({"tcp", 2222});
  f.port = 2223;
  want.forwards[{"tcp", 2223}] = f;
  auto p = model::diff(want, *have);
  REQUIRE(p);
  CHECK(p->fwd_add.empty());
  CHECK(p->fwd_rm.empty());
  REQUIRE(p->fwd_set.size() == 1);
  CHECK(p->text() == "~ forward tcp 2223: port 2222 -> 2223\n");
  REQUIRE(model::apply(db, *p, "test", 1800000001, "peerctl"));
  auto after = model::read(db);
  REQUIRE(after);
  CHECK(after->forwards.count({"tcp", 2223}) == 1);
  CHECK(after->forwards.at({"tcp", 2223}).created_at == f.created_at);
  // Disabling is the only change: audited as such.
  want = *after;
  want.forwards.at({"tcp", 2223}).enabled = false;
  p = model::diff(want, *after);
  REQUIRE(p);
  REQUIRE(model::apply(db, *p, "test", 1800000002, "peerctl"));
  CHECK(audit(db).find("resource.disable ssh") != std::string::npos);
}

TEST_CASE("an empty secret hash clears the stored one; an unset one keeps it", "[model]") {
  testing::TempDir d;
  auto db = open_db(d);
  auto want = parse(kFull);
  auto& a = *want.resources.at("app").auth;
  a.methods = {"password", "users"};
  a.password.hash = "$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
  apply(db, want);
  auto have = model::read(db);
  REQUIRE(have);
  CHECK(have->resources.at("app").auth->password.hash == a.password.hash);
  want = *have;
  want.resources.at("app").auth->password = {};  // unmanaged: kept
  auto p = model::diff(want, *have);
  REQUIRE(p);
  CHECK(p->empty());
  want.resources.at("app").auth->methods = {"users"};
  want.resources.at("app").auth->password.hash = "";  // cleared
  p = model::diff(want, *have);
  REQUIRE(p);
  REQUIRE(model::apply(db, *p, "test", 1800000001, "peerctl"));
  auto after = model::read(db);
  REQUIRE(after);
  CHECK_FALSE(after->resources.at("app").auth->password.hash);
}

TEST_CASE("validate names neutral paths", "[model]") {
  auto m = parse(kFull);
  m.resources.at("app").auth->pin_digits = 3;
  m.resources.at("app").targets[1].site = "elsewhere";
  m.resources.at("app").health_rise = 0;
  m.forwards.at({"tcp", 2222}).allow_countries = {"xx"};
  m.users.at("alice@example.com").roles = {"nobody"};
  auto v = model::validate(m);
  std::vector<std::string> paths;
  for (auto& p : v) paths.push_back(p.path + ": " + p.message);
  CHECK(paths == std::vector<std::string>{
                     "forwards.tcp.2222.allow_countries: 'xx': not an ISO 3166-1 alpha-2 code",
                     "resources.app.health.rise: '0': 1 to 100",
                     "resources.app.auth.pin_digits: '3': 4 to 12",
                     "resources.app.targets.2.site: no site elsewhere",
                     "users.alice@example.com.roles: no role nobody"});
}

TEST_CASE("targets: one canonical form, the short spellings as input only", "[model]") {
  auto t = model::parse_target("homelab:[fd00::1]:80");
  REQUIRE(t);
  CHECK(t->str() == "site://homelab/[fd00::1]:80");
  t = model::parse_target("10.0.0.5:8080");
  REQUIRE(t);
  CHECK(t->str() == "http://10.0.0.5:8080");
  t = model::parse_target("site+https://homelab/nas.lan:443/");
  REQUIRE(t);
  CHECK(t->str() == "site+https://homelab/nas.lan:443");
  for (const char* bad : {"ftp://x:1", "x", "x:0", "site:///x:1", "a/b:h:1", "[::1:80", "h:99999"})
    CHECK_FALSE(model::parse_target(bad));
  CHECK(model::parse_target("x:0").error().message ==
        "bad target \"x:0\": not a valid port (1-65535)");
}

TEST_CASE("a blueprint is checked by the same validator, at the same paths", "[model]") {
  auto bad = blueprint::parse(
      "version = 1\n[resources.app]\nhost = \"a.example\"\nhost_header = \"a..b\"\n", "bp.toml",
      "");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == core::Errc::data);
  CHECK(bad.error().message == "bp.toml: resources.app.host_header: 'a..b': not a valid hostname");
}
