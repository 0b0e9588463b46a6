#include "../support.h"

#include <fstream>

#include "config/config.h"

namespace {

enum class Mode { edge, site };

struct Forward {
  std::string name;
  std::string target;
  uint16_t port = 0;
  uint16_t weight = 1;
};

struct Limits {
  int max_streams = 1024;
  double ratio = 0.5;
};

struct Sample {
  std::string listen = "0.0.0.0:7000";
  int64_t timeout_ms = 5000;
  Mode mode = Mode::edge;
  std::string level = "info";
  bool verbose = false;
  std::chrono::milliseconds keepalive{30000};
  std::chrono::seconds drain{10};
  std::vector<std::string> peers;
  Limits limits;
  std::vector<Forward> forwards;
  std::vector<std::pair<std::string, std::string>> sites;  // name -> address
};

core::Result<Sample> load(config::Reader r) {
  Sample c;
  r.get("listen", c.listen);
  r.get("timeout_ms", c.timeout_ms, 1, 600000);
  r.get_enum("mode", c.mode, {{"edge", Mode::edge}, {"site", Mode::site}});
  r.get_enum("level", c.level, {"debug", "info", "warn"});
  r.get("verbose", c.verbose);
  r.get_duration("keepalive", c.keepalive, std::chrono::milliseconds(100));
  r.get_duration("drain", c.drain);
  r.get("peers", c.peers);
  auto lim = r.table("limits");
  lim.get("max_streams", c.limits.max_streams, 1, 65536);
  lim.get("ratio", c.limits.ratio, 0.0, 1.0);
  for (auto& t : r.tables("forward")) {
    Forward f;
    t.need("name", f.name);
    t.get("target", f.target);
    t.get("port", f.port);
    t.get("weight", f.weight, 1, 100);
    c.forwards.push_back(f);
  }
  for (auto& [name, t] : r.named_tables("sites")) {
    std::string addr;
    t.need("address", addr);
    c.sites.emplace_back(name, addr);
  }
  WARREN_CHECK(r.finish());
  return c;
}

core::Result<Sample> load_text(std::string_view text) {
  auto r = config::parse_string(text, "t.toml");
  if (!r) return r.error();
  return load(*r);
}

// The error message for `text`, or "" when it loads.
std::string error_of(std::string_view text) {
  auto r = load_text(text);
  if (r) return "";
  CHECK(r.error().code == core::Errc::config);
  return r.error().message;
}

}  // namespace

TEST_CASE("config: defaults survive an empty file", "[config]") {
  auto c = load_text("");
  REQUIRE(c);
  REQUIRE(c->listen == "0.0.0.0:7000");
  REQUIRE(c->timeout_ms == 5000);
  REQUIRE(c->mode == Mode::edge);
  REQUIRE(c->keepalive == std::chrono::seconds(30));
  REQUIRE(c->limits.max_streams == 1024);
  REQUIRE(c->forwards.empty());
}

TEST_CASE("config: happy path fills every kind of field", "[config]") {
  auto c = load_text(R"(
listen = "[::1]:9000"
timeout_ms = 600000
mode = "site"
level = "debug"
verbose = true
keepalive = "250ms"
drain = "5m"
peers = ["a", "b"]

[limits]
max_streams = 7
ratio = 1

[[forward]]
name = "ssh"
target = "10.0.0.1:22"
port = 2222
weight = 100

[[forward]]
name = "web"

[sites.homelab]
address = "1.2.3.4"
[sites.office]
address = "5.6.7.8"
)");
  REQUIRE(c);
  REQUIRE(c->listen == "[::1]:9000");
  REQUIRE(c->timeout_ms == 600000);
  REQUIRE(c->mode == Mode::site);
  REQUIRE(c->level == "debug");
  REQUIRE(c->verbose);
  REQUIRE(c->keepalive == std::chrono::milliseconds(250));
  REQUIRE(c->drain == std::chrono::minutes(5));
  REQUIRE(c->peers == std::vector<std::string>{"a", "b"});
  REQUIRE(c->limits.max_streams == 7);
  REQUIRE(c->limits.ratio == 1.0);
  REQUIRE(c->forwards.size() == 2);
  REQUIRE(c->forwards[0].name == "ssh");
  REQUIRE(c->forwards[0].port == 2222);
  REQUIRE(c->forwards[0].weight == 100);
  REQUIRE(c->forwards[1].weight == 1);
  REQUIRE(c->forwards[1].name == "web");
  REQUIRE(c->forwards[1].target.empty());
  REQUIRE(c->sites.size() == 2);
  REQUIRE(c->sites[0] == std::pair<std::string, std::string>{"homelab", "1.2.3.4"});
  REQUIRE(c->sites[1].first == "office");
}

TEST_CASE("config: unknown keys name file:line:column", "[config]") {
  REQUIRE(error_of("listen = \"x\"\n\n    mtu_ = 1400\n") == "t.toml:3:5: unknown key \"mtu_\"");
  REQUIRE(error_of("[limits]\nmax_streams = 1\nmax_stream = 2\n") ==
          "t.toml:3:1: unknown key \"limits.max_stream\"");
  REQUIRE(error_of("[[forward]]\nname = \"a\"\n[[forward]]\nname = \"b\"\nnmae = 1\n") ==
          "t.toml:5:1: unknown key \"forward[1].nmae\"");
  REQUIRE(error_of("[limitz]\nx = 1\n") == "t.toml:1:2: unknown key \"limitz\"");
  REQUIRE(error_of("[sites.home]\naddress = \"a\"\nport = 1\n") ==
          "t.toml:3:1: unknown key \"sites.home.port\"");
}

TEST_CASE("config: wrong types", "[config]") {
  REQUIRE(error_of("timeout_ms = \"5s\"") ==
          "t.toml:1:14: timeout_ms: expected an integer, got a string");
  REQUIRE(error_of("listen = 5") == "t.toml:1:10: listen: expected a string, got an integer");
  REQUIRE(error_of("verbose = \"yes\"") ==
          "t.toml:1:11: verbose: expected a boolean, got a string");
  REQUIRE(error_of("peers = \"a\"") ==
          "t.toml:1:9: peers: expected an array of strings, got a string");
  REQUIRE(error_of("peers = [\"a\", 2]") ==
          "t.toml:1:15: peers[1]: expected a string, got an integer");
  REQUIRE(error_of("limits = 3") == "t.toml:1:10: limits: expected a table, got an integer");
  REQUIRE(error_of("forward = 3") ==
          "t.toml:1:11: forward: expected an array of tables, got an integer");
  REQUIRE(error_of("forward = [1]") == "t.toml:1:12: forward[0]: expected a table, got an integer");
  REQUIRE(error_of("[limits]\nratio = \"x\"") ==
          "t.toml:2:9: limits.ratio: expected a number, got a string");
  REQUIRE(error_of("keepalive = true") ==
          "t.toml:1:13: keepalive: expected a duration like \"30s\", got a boolean");
  REQUIRE(error_of("sites = { a = 1 }") ==
          "t.toml:1:15: sites.a: expected a table, got an integer");
}

TEST_CASE("config: values out of range", "[config]") {
  REQUIRE(error_of("timeout_ms = 0") == "t.toml:1:14: timeout_ms: 0 is out of range 1..600000");
  REQUIRE(error_of("timeout_ms = 600001") ==
          "t.toml:1:14: timeout_ms: 600001 is out of range 1..600000");
  REQUIRE(error_of("[[forward]]\nname = \"a\"\nport = 70000") ==
          "t.toml:3:8: forward[0].port: 70000 is out of range 0..65535");
  REQUIRE(error_of("[[forward]]\nname = \"a\"\nport = -1") ==
          "t.toml:3:8: forward[0].port: -1 is out of range 0..65535");
  REQUIRE(error_of("[[forward]]\nname = \"a\"\nweight = 0") ==
          "t.toml:3:10: forward[0].weight: 0 is out of range 1..100");
  REQUIRE(error_of("[limits]\nratio = 1.5") ==
          "t.toml:2:9: limits.ratio: 1.500000 is out of range 0.000000..1.000000");
  REQUIRE(error_of("keepalive = \"50ms\"") ==
          "t.toml:1:13: keepalive: 50ms is below the minimum 100ms");
  REQUIRE(error_of("keepalive = -3") == "t.toml:1:13: keepalive: bad duration -3");
}

TEST_CASE("config: bad enum values and bad durations", "[config]") {
  REQUIRE(error_of("mode = \"edgy\"") == "t.toml:1:8: mode: \"edgy\" is not one of edge, site");
  REQUIRE(error_of("level = \"loud\"") ==
          "t.toml:1:9: level: \"loud\" is not one of debug, info, warn");
  REQUIRE(error_of("drain = \"5x\"") ==
          "t.toml:1:9: drain: bad duration \"5x\" (use e.g. 250ms, 30s, 5m, 12h, 90d)");
  REQUIRE(error_of("drain = \"ms\"").find("bad duration \"ms\"") != std::string::npos);
}

TEST_CASE("config: integer durations are seconds", "[config]") {
  auto c = load_text("drain = 42\nkeepalive = \"2h\"");
  REQUIRE(c);
  REQUIRE(c->drain == std::chrono::seconds(42));
  REQUIRE(c->keepalive == std::chrono::hours(2));
}

TEST_CASE("config: missing required key", "[config]") {
  REQUIRE(error_of("[[forward]]\ntarget = \"x\"\n") ==
          "t.toml:1:1: missing key \"forward[0].name\"");
}

TEST_CASE("config: syntax errors map to file:line:column", "[config]") {
  auto r = config::parse_string("a = 1\nb = = 2\n", "bad.toml");
  REQUIRE_FALSE(r);
  REQUIRE(r.error().code == core::Errc::config);
  REQUIRE(r.error().message.starts_with("bad.toml:2:5: error while parsing value"));
  auto dup = config::parse_string("a = 1\na = 2\n", "dup.toml");
  REQUIRE_FALSE(dup);
  REQUIRE(dup.error().message.starts_with("dup.toml:2:"));
  auto unterminated = config::parse_string("s = \"abc\n", "u.toml");
  REQUIRE_FALSE(unterminated);
  REQUIRE(unterminated.error().message.starts_with("u.toml:1:"));
}

TEST_CASE("config: errors come back in file order, first one from finish()", "[config]") {
  auto r = config::parse_string("zzz = 1\nmode = \"x\"\ntimeout_ms = 0\n", "o.toml");
  REQUIRE(r);
  auto c = load(*r);
  REQUIRE_FALSE(c);
  REQUIRE(c.error().message == "o.toml:1:1: unknown key \"zzz\"");
  auto all = r->errors();
  REQUIRE(all.size() == 3);
  REQUIRE(all[1] == "o.toml:2:8: mode: \"x\" is not one of edge, site");
  REQUIRE(all[2] == "o.toml:3:14: timeout_ms: 0 is out of range 1..600000");
}

TEST_CASE("config: custom validation errors via fail()", "[config]") {
  auto r = config::parse_string("[limits]\nmax_streams = 3\n", "f.toml");
  REQUIRE(r);
  auto lim = r->table("limits");
  int n = 0;
  REQUIRE(lim.get("max_streams", n));
  REQUIRE(n == 3);
  lim.fail("max_streams", "must be even");
  auto done = r->finish();
  REQUIRE_FALSE(done);
  REQUIRE(done.error().message == "f.toml:2:15: limits.max_streams: must be even");
}

TEST_CASE("config: parse_file reads files and reports missing ones", "[config]") {
  testing::TempDir dir;
  std::string path = dir.path + "/d.toml";
  std::ofstream(path) << "listen = \"127.0.0.1:1\"\nbogus = 1\n";
  auto r = config::parse_file(path);
  REQUIRE(r);
  Sample c;
  r->get("listen", c.listen);
  REQUIRE(c.listen == "127.0.0.1:1");
  auto done = r->finish();
  REQUIRE_FALSE(done);
  REQUIRE(done.error().message == path + ":2:1: unknown key \"bogus\"");

  auto missing = config::parse_file(dir.path + "/nope.toml");
  REQUIRE_FALSE(missing);
  REQUIRE(missing.error().code == core::Errc::noinput);
}

TEST_CASE("config: parse_duration_ms", "[config]") {
  REQUIRE(*config::parse_duration_ms("1500ms") == std::chrono::milliseconds(1500));
  REQUIRE(*config::parse_duration_ms("30s") == std::chrono::seconds(30));
  REQUIRE(*config::parse_duration_ms("5m") == std::chrono::minutes(5));
  REQUIRE(*config::parse_duration_ms("7") == std::chrono::seconds(7));
  REQUIRE_FALSE(config::parse_duration_ms("-1s"));
  REQUIRE_FALSE(config::parse_duration_ms("1.5s"));
  REQUIRE_FALSE(config::parse_duration_ms(""));
}
