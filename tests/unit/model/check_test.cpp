#include "../support.h"

#include "model/check.h"

using core::Errc;

TEST_CASE("names", "[control]") {
  REQUIRE(*model::check_name("name", "web-1.app_x") == "web-1.app_x");
  REQUIRE_FALSE(model::check_name("name", ""));
  REQUIRE_FALSE(model::check_name("name", "-x"));
  REQUIRE_FALSE(model::check_name("name", "a b"));
  REQUIRE_FALSE(model::check_name("name", std::string(65, 'a')));
  auto e = model::check_name("NAME", "a/b");
  REQUIRE(e.error().code == Errc::data);
  REQUIRE(e.error().message == "NAME: 'a/b': not a valid name (use A-Z a-z 0-9 . _ -)");
}

TEST_CASE("hostnames, wildcards and *", "[control]") {
  REQUIRE(*model::check_hostname("--host", "App.Example.com") == "app.example.com");
  REQUIRE(*model::check_hostname("--host", "*.example.com") == "*.example.com");
  REQUIRE(*model::check_hostname("--host", "*") == "*");
  REQUIRE(*model::check_hostname("--host", "localhost") == "localhost");
  REQUIRE(model::check_hostname("--host", "a..b").error().message ==
          "--host: 'a..b': not a valid hostname");
  for (const char* h :
       {"", "-a.com", "a-.com", "a.com.", "*.*.com", "a*.com", "a_b.com", "a b.com", "*."})
    REQUIRE_FALSE(model::check_hostname("--host", h));
  REQUIRE_FALSE(model::check_hostname("--host", std::string(64, 'a') + ".com"));
}

TEST_CASE("ports and host:port", "[control]") {
  REQUIRE(*model::check_port("--tcp", "1") == 1);
  REQUIRE(*model::check_port("--tcp", "65535") == 65535);
  for (const char* p : {"0", "65536", "", "-1", "80x", " 80"})
    REQUIRE(model::check_port("--tcp", p).error().code == Errc::data);
  auto hp = model::check_host_port("--to", "10.0.0.5:8080");
  REQUIRE(hp);
  REQUIRE(hp->host == "10.0.0.5");
  REQUIRE(hp->port == 8080);
  auto v6 = model::check_host_port("--to", "[2001:db8::1]:443");
  REQUIRE(v6);
  REQUIRE(v6->host == "2001:db8::1");
  REQUIRE(model::check_host_port("--to", "Web.LAN:80")->host == "web.lan");
  for (const char* a : {"10.0.0.5", "10.0.0.5:0", ":80", "2001:db8::1:80", "[10.0.0.1]:80",
                        "[::1]80", "a..b:80", "host:99999"})
    REQUIRE_FALSE(model::check_host_port("--to", a));
  REQUIRE(model::check_host_port("--to", "x:0").error().message ==
          "--to: 'x:0': not a valid port (1-65535)");
}

TEST_CASE("CIDRs and bare addresses", "[control]") {
  REQUIRE(*model::check_cidr("--ip", "10.0.0.0/8") == "10.0.0.0/8");
  REQUIRE(*model::check_cidr("--ip", "192.0.2.7") == "192.0.2.7");
  REQUIRE(*model::check_cidr("--ip", "2001:db8::/32") == "2001:db8::/32");
  REQUIRE(*model::check_cidr("--ip", "::1") == "::1");
  for (const char* c : {"10.0.0.1/8", "10.0.0.0/33", "300.1.1.1", "x", "", "2001:db8::/129"})
    REQUIRE(model::check_cidr("--ip", c).error().code == Errc::data);
}

TEST_CASE("durations", "[control]") {
  REQUIRE(*model::check_duration("--expires", "90s") == 90);
  REQUIRE(*model::check_duration("--expires", "15m") == 900);
  REQUIRE(*model::check_duration("--expires", "12h") == 43200);
  REQUIRE(*model::check_duration("--expires", "30d") == 30 * 86400);
  REQUIRE(*model::check_duration("--expires", "1w") == 7 * 86400);
  REQUIRE(*model::check_duration("--expires", "60") == 60);
  for (const char* d : {"0", "0s", "", "x", "-5m", "5q", "1000y"})
    REQUIRE(model::check_duration("--expires", d).error().code == Errc::data);
  REQUIRE(model::check_duration("--expires", "soon").error().message ==
          "--expires: 'soon': not a valid duration (e.g. 90s, 15m, 12h, 30d, 1w)");
}

TEST_CASE("emails", "[control]") {
  REQUIRE(*model::check_email("EMAIL", "Alice@Example.COM") == "alice@example.com");
  REQUIRE(*model::check_email("EMAIL", "a.b+tag@mail.example.org") == "a.b+tag@mail.example.org");
  for (const char* e : {"", "alice", "@example.com", "alice@", "a@b", "a@@b.com", "a b@c.com",
                        "a@b..com", ".a@b.com", "a..b@c.com", "a<b@c.com"})
    REQUIRE(model::check_email("EMAIL", e).error().code == Errc::data);
}

TEST_CASE("path prefixes", "[control]") {
  for (const char* p : {"/", "/app", "/app/", "/a-b/c_d.e"})
    REQUIRE(*model::check_path_prefix("--path", p) == p);
  for (const char* p :
       {"", "app", "//", "/a//b", "/a/../b", "/./", "/a b", "/a?x", "/a#x", "/a%2f", "/a\\b"})
    REQUIRE(model::check_path_prefix("--path", p).error().code == Errc::data);
}
