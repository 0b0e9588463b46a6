// edge::RouteTable matching (exact, wildcard, "*", longest prefix), target parsing, the routes
// file (errors with file:line:column), the store schema (migration 0020), merging with
// conflicts, and target picking (round robin, least connections, sticky, passive failures).
#include <boost/json.hpp>
#include <map>
#include <set>
#include <thread>

#include "../support.h"
#include "edge/routes.h"
#include "store/store.h"

using namespace edge;

namespace {
RouteSpec spec(std::string name, std::string host, std::string path,
               std::vector<std::string> targets = {"127.0.0.1:9"}) {
  RouteSpec s;
  s.name = std::move(name);
  s.host = std::move(host);
  s.path = std::move(path);
  for (auto& t : targets) s.targets.push_back(*parse_target(t));
  return s;
}
std::string name_of(const Route* r) {
  return r ? r->spec.name : "none";
}
}  // namespace

TEST_CASE("targets parse in every form and print canonically") {
  auto t = parse_target("10.0.0.5:8080");
  REQUIRE(t);
  CHECK(t->str() == "http://10.0.0.5:8080");
  t = parse_target("https://app.internal:8443/");
  REQUIRE(t);
  CHECK(t->tls);
  CHECK(t->str() == "https://app.internal:8443");
  t = parse_target("site://homelab/192.168.1.10:8080");
  REQUIRE(t);
  CHECK(t->site == "homelab");
  CHECK(t->address() == "192.168.1.10:8080");
  t = parse_target("site+https://homelab/[::1]:443");
  REQUIRE(t);
  CHECK(t->tls);
  CHECK(t->str() == "site+https://homelab/[::1]:443");
  CHECK_FALSE(parse_target("ftp://x:1"));
  CHECK_FALSE(parse_target("x"));
  CHECK_FALSE(parse_target("x:0"));
  CHECK_FALSE(parse_target("site:///x:1"));
  CHECK(parse_target("x:99999").error().message ==
        "bad target \"x:99999\": not a valid port (1-65535)");
}

TEST_CASE("routes match exact host, then wildcards, then *, longest prefix first") {
  RouteTable t;
  auto conflicts =
      t.build({spec("app", "app.example.com", "/"), spec("api", "app.example.com", "/api"),
               spec("apiv2", "app.example.com", "/api/v2/"), spec("wild", "*.example.com", "/"),
               spec("deep", "*.b.example.com", "/"), spec("any", "*", "/static"),
               spec("dup", "APP.example.com", "/api")},
              nullptr);
  REQUIRE(conflicts.size() == 1);
  CHECK(conflicts[0].find("\"dup\"") != std::string::npos);
  CHECK(name_of(t.match("app.example.com", "/")) == "app");
  CHECK(name_of(t.match("APP.Example.com:8443", "/x")) == "app");
  CHECK(name_of(t.match("app.example.com.", "/api")) == "api");
  CHECK(name_of(t.match("app.example.com", "/api?x=1")) == "api");
  CHECK(name_of(t.match("app.example.com", "/api/users")) == "api");
  CHECK(name_of(t.match("app.example.com", "/apix")) == "app");
  CHECK(name_of(t.match("app.example.com", "/api/v2/x")) == "apiv2");
  CHECK(name_of(t.match("app.example.com", "/api/v2")) == "api");
  CHECK(name_of(t.match("x.example.com", "/")) == "wild");
  CHECK(name_of(t.match("y.x.example.com", "/")) == "wild");
  CHECK(name_of(t.match("c.b.example.com", "/")) == "deep");
  CHECK(name_of(t.match("example.com", "/")) == "none");
  CHECK(name_of(t.match("other.org", "/static/a.css")) == "any");
  CHECK(name_of(t.match("other.org", "/")) == "none");
  CHECK(name_of(t.match("", "/static")) == "any");
  CHECK(name_of(t.match("[::1]:80", "/static")) == "any");
}

TEST_CASE("picking targets: round robin, least connections, sticky, passive failures") {
  RouteTable t;
  auto s = spec("r", "*", "/", {"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"});
  s.passive_fail = 2;
  t.build({s}, nullptr);
  const Route* r = t.match("h", "/");
  REQUIRE(r);
  int64_t now = 1000;
  std::set<TargetState*> seen;
  for (int i = 0; i < 3; ++i) seen.insert(r->pick(now, {}, nullptr));
  CHECK(seen.size() == 3);
  TargetState* a = r->targets[0].get();
  a->record(false, now, 2, Millis(500));
  CHECK(a->up(now));
  a->record(false, now, 2, Millis(500));
  CHECK_FALSE(a->up(now));
  CHECK(a->up(now + 500));
  for (int i = 0; i < 6; ++i) CHECK(r->pick(now, {}, nullptr) != a);
  // Sticky: the cookie names a target; a down one is not used.
  const_cast<Route*>(r)->spec.sticky = true;
  TargetState* b = r->targets[1].get();
  for (int i = 0; i < 4; ++i) CHECK(r->pick(now, b->cookie, nullptr) == b);
  CHECK(r->pick(now, a->cookie, nullptr) != a);
  // skip excludes the target already tried.
  CHECK(r->pick(now, b->cookie, b) != b);
  // Least connections.
  const_cast<Route*>(r)->spec.sticky = false;
  const_cast<Route*>(r)->spec.lb = Lb::least_conn;
  r->targets[1]->active = 5;
  r->targets[2]->active = 1;
  CHECK(r->pick(now, {}, nullptr) == r->targets[2].get());
  r->targets[1]->healthy = false;
  r->targets[2]->healthy = false;
  CHECK(r->pick(now, {}, nullptr) == nullptr);
  CHECK_FALSE(r->any_up(now));
}

TEST_CASE("target state survives a rebuild through the registry") {
  TargetRegistry reg;
  auto t1 = std::make_unique<RouteTable>();
  t1->build({spec("r", "h", "/", {"127.0.0.1:1"})}, &reg);
  t1->routes()[0]->targets[0]->healthy = false;
  RouteTable t2;
  t2.build({spec("r", "h", "/", {"127.0.0.1:1", "127.0.0.1:2"})}, &reg);
  CHECK_FALSE(t2.routes()[0]->targets[0]->healthy);
  CHECK(t2.routes()[0]->targets[1]->healthy);
  t1.reset();
  reg.prune();
  CHECK(t2.routes()[0]->targets[0]->key == "r http://127.0.0.1:1");
}

TEST_CASE("the routes file: all keys, and errors with file:line:column") {
  auto r = parse_routes(R"(
[[route]]
name = "app"
host = "app.example.com"
path = "/api"
targets = ["10.0.0.5:8080", "site://homelab/192.168.1.10:8080"]
lb = "least_conn"
sticky = true
redirect_https = true
host_header = "@target"
[route.health]
path = "/healthz"
interval = "2s"
fall = 2
)",
                        "routes.toml");
  REQUIRE(r);
  REQUIRE(r->size() == 1);
  auto& s = (*r)[0];
  CHECK(s.lb == Lb::least_conn);
  CHECK(s.sticky);
  CHECK(s.targets.size() == 2);
  CHECK(s.targets[1].site == "homelab");
  CHECK(s.health.interval == Millis(2000));
  CHECK(s.health.fall == 2);
  auto bad =
      parse_routes("[[route]]\nname = \"a\"\nhost = \"a\"\ntargets = [\"nope\"]\n", "r.toml");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == core::Errc::config);
  CHECK(bad.error().message.rfind("r.toml:4:", 0) == 0);
  bad = parse_routes("[[route]]\nname = \"a\"\nhost = \"a\"\nlb = \"random\"\n", "r.toml");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.rfind("r.toml:4:", 0) == 0);
  bad = parse_routes("[[route]]\nname = \"a\"\nhost = \"a\"\nmtls = \"required\"\n", "r.toml");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("client_ca") != std::string::npos);
  bad = parse_routes("[[route]]\nname = \"a\"\nhost = \"a\"\ncolour = 1\n", "r.toml");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("colour") != std::string::npos);
  bad = parse_routes("[[route]]\nhost = \"a b\"\n", "r.toml");
  REQUIRE_FALSE(bad);
}

TEST_CASE("store resources and targets load; merging reports conflicts") {
  testing::TempDir d;
  auto db = store::open_dir(d.path);
  REQUIRE(db);
  REQUIRE(
      db->exec("INSERT INTO resources (name, host, path_prefix, sticky) VALUES "
               "('web', 'web.example.com', '/', 1), ('clash', 'app.example.com', '/', 0);"
               "INSERT INTO resources (name, host, enabled) VALUES ('off', 'x', 0);"
               "INSERT INTO targets (resource_id, host, port) VALUES (1, '10.0.0.1', 80);"
               "INSERT INTO targets (resource_id, scheme, site, host, port) VALUES "
               "(1, 'https', 'homelab', '192.168.1.10', 8443);"
               "INSERT INTO targets (resource_id, host, port, enabled) VALUES "
               "(1, '10.0.0.9', 80, 0);"));
  auto specs = load_routes_store(*db);
  REQUIRE(specs);
  REQUIRE(specs->size() == 2);
  auto& web = (*specs)[0];
  CHECK(web.source == "store");
  CHECK(web.sticky);
  REQUIRE(web.targets.size() == 2);
  CHECK(web.targets[1].str() == "site+https://homelab/192.168.1.10:8443");
  std::vector<std::string> conflicts;
  auto merged = merge_routes({spec("app", "app.example.com", "/")}, std::move(*specs), conflicts);
  CHECK(merged.size() == 2);
  REQUIRE(conflicts.size() == 1);
  CHECK(conflicts[0].find("\"clash\"") != std::string::npos);
  RouteTable t;
  t.build(std::move(merged), nullptr);
  auto j = t.to_json(0);
  CHECK(j.size() == 2);
  CHECK(j[1].as_object().at("targets").as_array().size() == 2);
}

TEST_CASE("weights: smooth weighted round robin, weight 0 drains, all drained picks none") {
  RouteTable t;
  auto s = spec("w", "*", "/", {"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"});
  s.targets[0].weight = 3;
  s.targets[1].weight = 1;
  s.targets[2].weight = 0;
  t.build({s}, nullptr);
  const Route* r = t.match("h", "/");
  REQUIRE(r);
  std::map<TargetState*, int> n;
  std::string order;
  for (int i = 0; i < 40; ++i) {
    TargetState* p = r->pick(1000, {}, nullptr);
    REQUIRE(p);
    n[p]++;
    if (i < 4) order += std::to_string(p->spec.port);
  }
  CHECK(n[r->targets[0].get()] == 30);
  CHECK(n[r->targets[1].get()] == 10);
  CHECK(n[r->targets[2].get()] == 0);
  // Interleaved, not 1,1,1,2: the heavy target never runs three times in a row.
  CHECK(order.find("111") == std::string::npos);
  // A down target is skipped by the weighted order too.
  r->targets[0]->healthy = false;
  for (int i = 0; i < 5; ++i) CHECK(r->pick(1000, {}, nullptr) == r->targets[1].get());
  RouteTable t2;
  auto z = spec("z", "*", "/", {"127.0.0.1:1"});
  z.targets[0].weight = 0;
  t2.build({z}, nullptr);
  CHECK(t2.match("h", "/")->pick(1000, {}, nullptr) == nullptr);
}

TEST_CASE("weights hold for the route across threads and reloads, not per thread or table") {
  TargetRegistry reg;
  auto s = spec("w", "*", "/", {"127.0.0.1:1", "127.0.0.1:2"});
  s.targets[0].weight = 3;
  s.targets[1].weight = 1;
  std::map<uint16_t, int> n;
  // Two picks from one table, six from a rebuilt one (a reload in the middle of a sequence):
  // the cursor carries over, so eight picks still split 6:2.
  auto t1 = std::make_unique<RouteTable>();
  t1->build({s}, &reg);
  for (int i = 0; i < 2; ++i) n[t1->match("h", "/")->pick(1000, {}, nullptr)->spec.port]++;
  RouteTable t2;
  t2.build({s}, &reg);
  t1.reset();
  reg.prune();
  for (int i = 0; i < 6; ++i) n[t2.match("h", "/")->pick(1000, {}, nullptr)->spec.port]++;
  CHECK(n[1] == 6);
  CHECK(n[2] == 2);
  // Two threads picking from the same table share one position: 4000 picks split 3000:1000.
  std::atomic<int> a{0}, b{0};
  auto work = [&] {
    for (int i = 0; i < 2000; ++i)
      (t2.match("h", "/")->pick(1000, {}, nullptr)->spec.port == 1 ? a : b)++;
  };
  std::thread x(work), y(work);
  x.join();
  y.join();
  CHECK(a.load() == 3000);
  CHECK(b.load() == 1000);
  // Other weights are another route shape: a fresh position.
  s.targets[1].weight = 2;
  RouteTable t3;
  t3.build({s}, &reg);
  CHECK(t3.match("h", "/")->rr != t2.match("h", "/")->rr);
}

TEST_CASE("a routes file in the model's TOML form reads as the [[route]] form does", "[edge]") {
  auto old = parse_routes(R"([[route]]
name = "app"
host = "app.example.com"
redirect_https = true
lb = "least_conn"
targets = ["10.0.0.5:8080", "site+https://homelab/[fd00::1]:8443"]
tls_verify = false
[route.health]
path = "/healthz"
)",
                          "routes.toml");
  REQUIRE(old);
  auto now = parse_routes(R"(version = 1
[resources.app]
host = "app.example.com"
redirect_https = true
lb = "least_conn"
targets = ["http://10.0.0.5:8080", "site+https://homelab/[fd00::1]:8443"]
tls_verify = false
[resources.app.health]
path = "/healthz"
)",
                          "routes.toml");
  if (!now) FAIL(now.error().message);
  REQUIRE(now->size() == 1);
  const RouteSpec& a = old->front();
  const RouteSpec& b = now->front();
  CHECK(b.name == a.name);
  CHECK(b.source == "file");
  CHECK(b.host == a.host);
  CHECK(b.redirect_https == a.redirect_https);
  CHECK(b.lb == a.lb);
  REQUIRE(b.targets.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(b.targets[i].str() == a.targets[i].str());
    CHECK(b.targets[i].tls_verify == a.targets[i].tls_verify);
  }
  CHECK(b.health.path == a.health.path);
  CHECK(b.health.interval == a.health.interval);
  CHECK_FALSE(b.policy);
  // Access settings belong to the store: a file resource with them is refused.
  auto auth = parse_routes(
      "[resources.app]\nhost = \"a.example\"\n[resources.app.auth]\nmethods = [\"users\"]\n",
      "routes.toml");
  REQUIRE_FALSE(auth);
  CHECK(auth.error().code == core::Errc::config);
  CHECK(auth.error().message.find("live in the store") != std::string::npos);
}
