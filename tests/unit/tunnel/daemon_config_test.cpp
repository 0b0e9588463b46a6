// tunneld.toml loading and the site's allow list (tunnel::load_config, tunnel::AllowList).
#include "../support.h"

#include <fstream>

#include "core/fs.h"
#include "tunnel/config.h"

namespace {

using tunnel::AllowList;

std::string write(const testing::TempDir& d, const std::string& name, const std::string& text) {
  std::string p = d.path + "/" + name;
  std::ofstream(p) << text;
  return p;
}

const char* kKey = "YNqHwpcAmVz0lVKwL8SxGm4PfY7Ax+Y0qQlR3mIU23Y=";

AllowList list(std::initializer_list<const char*> rules) {
  AllowList a;
  for (auto r : rules) {
    auto x = AllowList::parse_rule(r);
    REQUIRE(x);
    a.add(std::move(*x));
  }
  return a;
}

const uint8_t k192_168_1_10[4] = {192, 168, 1, 10};
const uint8_t k10_0_0_5[4] = {10, 0, 0, 5};
const uint8_t k127_0_0_1[4] = {127, 0, 0, 1};

}  // namespace

TEST_CASE("an [edge] file gets the documented defaults", "[tunneld][config]") {
  testing::TempDir d;
  auto p = write(d, "t.toml", "[edge]\nlisten = \"127.0.0.1:7443\"\n");
  auto c = tunnel::load_config(p, d.path);
  REQUIRE(c);
  CHECK(c->role == tunnel::Role::edge);
  CHECK(c->edge.listen == "127.0.0.1:7443");
  CHECK(c->edge.keepalive == std::chrono::seconds(10));
  CHECK(c->edge.idle_timeout == std::chrono::seconds(30));
  CHECK(c->edge.udp_idle_timeout == std::chrono::seconds(60));
  CHECK(c->stream_window == 1024 * 1024);
  CHECK(c->socket_path() == d.path + "/run/tunneld.sock");
  CHECK(c->resolve(c->edge.private_key_file) == d.path + "/tunneld-edge.key");
  CHECK(c->resolve("/abs/x") == "/abs/x");
}

TEST_CASE("a [site] file needs name, edge and both keys", "[tunneld][config]") {
  testing::TempDir d;
  auto p = write(d, "t.toml", "[site]\nname = \"homelab\"\nedge = \"edge.example:7443\"\n");
  auto c = tunnel::load_config(p, d.path);
  REQUIRE_FALSE(c);
  CHECK(c.error().code == core::Errc::config);
  CHECK(c.error().message.find("t.toml:1:1:") != std::string::npos);
  CHECK(c.error().message.find("edge_public_key") != std::string::npos);

  auto p2 = write(d, "ok.toml",
                  std::string("[site]\nname = \"homelab\"\nedge = \"edge.example:7443\"\n") +
                      "edge_public_key = \"" + kKey + "\"\nprivate_key = \"" + kKey +
                      "\"\nlanes = 4\nallow = [\"192.168.1.0/24\", \"localhost:8080\"]\n" +
                      "suite = \"aes-256-gcm\"\nreconnect_max = \"5s\"\n");
  auto ok = tunnel::load_config(p2, d.path);
  REQUIRE(ok);
  CHECK(ok->role == tunnel::Role::site);
  CHECK(ok->site.lanes == 4);
  CHECK(ok->site.allow.rules().size() == 2);
  CHECK(ok->site.suite == tunnel::proto::Suite::ik_aesgcm_blake2b);
  CHECK(ok->site.reconnect_max == std::chrono::seconds(5));
  CHECK(crypto::key_to_base64(ok->site.private_key) == kKey);
}

TEST_CASE("config errors name file:line:column", "[tunneld][config]") {
  testing::TempDir d;
  struct Case {
    const char* text;
    const char* where;
    const char* what;
  } cases[] = {
      {"[edge]\nlisten = \"nowhere\"\n", "t.toml:2:10:", "bad address"},
      {"[edge]\nmtu_ = 1\n", "t.toml:2:1:", "unknown key"},
      {"[edge]\nkeepalive = \"5s\"\nidle_timeout = \"2s\"\n", "t.toml:3:16:", "keepalive"},
      {"[edge]\n[site]\nname = \"x\"\n", "t.toml:", "not both"},
      {"socket = \"x.sock\"\n", "t.toml:", "missing table"},
      {"[edge]\nsuites = [\"rot13\"]\n", "t.toml:2:10:", "unknown suite"},
      {"[site]\nname = \"bad name\"\nedge = \"e:1\"\nedge_public_key = \"x\"\nprivate_key = "
       "\"y\"\n",
       "t.toml:2:8:", "bad site name"},
      {"[site]\nname = \"s\"\nedge = \"e:1\"\nedge_public_key = \"short\"\nprivate_key = \"y\"\n",
       "t.toml:4:19:", "not a key"},
      {"[site]\nname = \"s\"\nedge = \"e:0\"\nedge_public_key = \"short\"\nprivate_key = \"y\"\n",
       "t.toml:3:8:", "port 0"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto p = write(d, "t.toml", c.text);
    auto r = tunnel::load_config(p, d.path);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == core::Errc::config);
    CHECK(r.error().message.find(c.where) != std::string::npos);
    CHECK(r.error().message.find(c.what) != std::string::npos);
  }
  auto missing = tunnel::load_config(d.path + "/nope.toml", d.path);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == core::Errc::noinput);
}

TEST_CASE("a site reads its private key from private_key_file", "[tunneld][config]") {
  testing::TempDir d;
  write(d, "site.key", std::string(kKey) + "\n");
  std::string head =
      std::string("[site]\nname = \"s\"\nedge = \"e:1\"\nedge_public_key = \"") + kKey + "\"\n";
  auto c =
      tunnel::load_config(write(d, "a.toml", head + "private_key_file = \"site.key\"\n"), d.path);
  REQUIRE(c);
  CHECK(crypto::key_to_base64(c->site.private_key) == kKey);
  auto both = tunnel::load_config(
      write(d, "b.toml",
            head + "private_key_file = \"site.key\"\nprivate_key = \"" + kKey + "\"\n"),
      d.path);
  REQUIRE_FALSE(both);
  CHECK(both.error().message.find("not both") != std::string::npos);
  auto absent =
      tunnel::load_config(write(d, "c.toml", head + "private_key_file = \"nope\"\n"), d.path);
  REQUIRE_FALSE(absent);
  CHECK(absent.error().message.find("c.toml:5:") != std::string::npos);
  write(d, "bad.key", "not a key\n");
  auto bad =
      tunnel::load_config(write(d, "d.toml", head + "private_key_file = \"bad.key\"\n"), d.path);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("not a private key") != std::string::npos);
}

TEST_CASE("allow rules parse hosts, networks, suffixes and port lists", "[tunneld][allow]") {
  for (const char* ok : {"*", "192.168.1.0/24", "10.0.0.5:80,443", "nas.lan:8000-8100", "*.lan",
                         "[fd00::]/8:22", "fd00::/8", "[::1]:443", "localhost", "*:53"}) {
    INFO(ok);
    CHECK(AllowList::parse_rule(ok));
  }
  for (const char* bad : {"", "10.0.0.0/33", "host:", "host:0", "host:70000", "host:9-3", "[::1",
                          "[::1]x", "fd00::/200", "bad host", "*.", "a/b", "10.0.0.1:80:90"}) {
    INFO(bad);
    auto r = AllowList::parse_rule(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == core::Errc::data);
    CHECK(r.error().message.find("bad allow rule") == 0);
  }
}

TEST_CASE("the allow list matches names, networks and ports", "[tunneld][allow]") {
  AllowList none;
  CHECK(none.unrestricted());
  CHECK(none.allows_name("anything", 1));

  auto a = list({"192.168.1.0/24", "10.0.0.5:80,443", "nas.lan:8000-8100", "*.svc:443"});
  CHECK(a.allows_addr(k192_168_1_10, 22));
  CHECK(a.allows_addr(k10_0_0_5, 443));
  CHECK_FALSE(a.allows_addr(k10_0_0_5, 22));
  CHECK_FALSE(a.allows_addr(k127_0_0_1, 80));
  CHECK(a.allows_name("NAS.lan", 8050));
  CHECK_FALSE(a.allows_name("nas.lan", 8101));
  CHECK(a.allows_name("db.svc", 443));
  CHECK_FALSE(a.allows_name("svc", 443));
  CHECK_FALSE(a.allows_name("evil.svc.example", 443));
  CHECK_FALSE(a.allows_name("192.168.1.10", 80));  // literals are checked as addresses

  // IPv4-mapped IPv6 addresses match IPv4 rules.
  uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 77};
  CHECK(a.allows_addr(mapped, 1));
  auto v6 = list({"[fd00::]/8:22"});
  uint8_t fd[16] = {0xfd, 1};
  uint8_t fe[16] = {0xfe, 1};
  CHECK(v6.allows_addr(fd, 22));
  CHECK_FALSE(v6.allows_addr(fd, 23));
  CHECK_FALSE(v6.allows_addr(fe, 22));
  auto any53 = list({"*:53"});
  CHECK(any53.allows_name("dns", 53));
  CHECK(any53.allows_addr(k10_0_0_5, 53));
  CHECK_FALSE(any53.allows_addr(k10_0_0_5, 54));
}
