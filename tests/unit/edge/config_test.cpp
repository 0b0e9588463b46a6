// edge::load_config: every table, defaults from WARREN_DIR, paths relative to the file, errors
// with file:line:column (all Errc::config); trusted-proxy networks.
#include "edge/config.h"
#include "../support.h"

using namespace edge;

TEST_CASE("a full edged.toml parses; relative paths follow the file, defaults the dir") {
  auto c = parse_config(R"(
threads = 2
routes_file = "routes.toml"
access_log = "-"
metrics_listen = "127.0.0.1:9100"
trusted_proxies = ["10.0.0.0/8", "::1"]
[http]
listen = ["127.0.0.1:0", "[::1]:8080"]
[https]
listen = ["0.0.0.0:443"]
cert = "certs/d.crt"
key = "/abs/d.key"
cert_dir = "certs"
tls13_only = true
[[https.certificate]]
cert = "x.crt"
key = "x.key"
[limits]
max_header_bytes = 16384
max_body = 1048576
[timeouts]
client_header = "5s"
upstream_response = "250ms"
drain = 0
[upstream]
pool_size = 4
retries = 2
[reload]
store_poll = "100ms"
)",
                        "/etc/warren/edged.toml", "/var/lib/warren");
  REQUIRE(c);
  CHECK(c->threads == 2);
  CHECK(c->routes_file == "/etc/warren/routes.toml");
  CHECK(c->access_log == "-");
  CHECK(c->store == "/var/lib/warren/warren.db");
  CHECK(c->control_socket == "/var/lib/warren/run/edged.sock");
  CHECK(c->tunneld_socket == "/var/lib/warren/run/tunneld.sock");
  CHECK(c->http_listen.size() == 2);
  REQUIRE(c->certs.size() == 2);
  CHECK(c->certs[0].cert == "/etc/warren/certs/d.crt");
  CHECK(c->certs[0].key == "/abs/d.key");
  CHECK(c->certs[1].cert == "/etc/warren/x.crt");
  CHECK(c->cert_dir == "/etc/warren/certs");
  CHECK(c->tls13_only);
  CHECK(c->max_header_bytes == 16384);
  CHECK(c->max_body == 1048576);
  CHECK(c->client_header == Millis(5000));
  CHECK(c->upstream_response == Millis(250));
  CHECK(c->drain == Millis(0));
  CHECK(c->pool_size == 4);
  CHECK(c->retries == 2);
  CHECK(c->store_poll == Millis(100));
  CHECK(c->idle == Millis(60000));  // default
  REQUIRE(c->trusted_proxies.size() == 2);
  std::array<uint8_t, 16> ip{};
  REQUIRE(parse_ip("10.200.3.4", ip));
  CHECK(c->trusted_proxies[0].contains(ip));
  REQUIRE(parse_ip("11.0.0.1", ip));
  CHECK_FALSE(c->trusted_proxies[0].contains(ip));
  REQUIRE(parse_ip("::1", ip));
  CHECK(c->trusted_proxies[1].contains(ip));
}

TEST_CASE("config errors are configuration errors with file:line:column") {
  auto err = [](const char* text) {
    auto c = parse_config(text, "e.toml", "/d");
    REQUIRE_FALSE(c);
    CHECK(c.error().code == core::Errc::config);
    return c.error().message;
  };
  CHECK(err("[http]\nlisten = [\"127.0.0.1:0\"]\ncolour = 1\n").rfind("e.toml:3:", 0) == 0);
  CHECK(err("[http]\nlisten = [\"nohost\"]\n").rfind("e.toml:2:", 0) == 0);
  CHECK(err("threads = 1\n").find("no listeners") != std::string::npos);
  CHECK(err("[http]\nlisten = [\"127.0.0.1:0\"]\n[timeouts]\nidle = \"soon\"\n")
            .rfind("e.toml:4:", 0) == 0);
  CHECK(err("[https]\nlisten = [\"127.0.0.1:0\"]\n").find("HTTPS needs") != std::string::npos);
  CHECK(err("trusted_proxies = [\"10.0.0.0/33\"]\n[http]\nlisten = [\"127.0.0.1:0\"]\n")
            .find("prefix length") != std::string::npos);
  CHECK(err("[http]\nlisten = [\"127.0.0.1:0\"]\n[https]\ncert = \"a\"\n")
            .find("cert and key go together") != std::string::npos);
  auto missing = load_config("/nonexistent/edged.toml", "/d");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == core::Errc::config);
}

TEST_CASE("CIDR parsing and matching") {
  auto n = parse_cidr("192.168.1.0/24");
  REQUIRE(n);
  std::array<uint8_t, 16> ip{};
  REQUIRE(parse_ip("192.168.1.77", ip));
  CHECK(n->contains(ip));
  REQUIRE(parse_ip("192.168.2.1", ip));
  CHECK_FALSE(n->contains(ip));
  n = parse_cidr("2001:db8::/33");
  REQUIRE(n);
  REQUIRE(parse_ip("2001:db8:7fff::1", ip));
  CHECK(n->contains(ip));
  REQUIRE(parse_ip("2001:db8:8000::1", ip));
  CHECK_FALSE(n->contains(ip));
  CHECK_FALSE(parse_cidr("10.0.0.0/x"));
  CHECK_FALSE(parse_cidr("hello"));
  CHECK_FALSE(parse_ip("1.2.3", ip));
}

TEST_CASE("the client behind trusted proxies: every X-Forwarded-For line, rightmost untrusted") {
  std::vector<Cidr> trusted = {*parse_cidr("10.0.0.0/8"), *parse_cidr("192.0.2.1")};
  using V = std::vector<std::string_view>;
  CHECK(client_address(trusted, V{}, "10.0.0.1") == "10.0.0.1");
  CHECK(client_address(trusted, V{"203.0.113.5"}, "10.0.0.1") == "203.0.113.5");
  // A spoofed leftmost entry is ignored: the proxy appended the real one.
  CHECK(client_address(trusted, V{"198.51.100.9, 203.0.113.5"}, "10.0.0.1") == "203.0.113.5");
  CHECK(client_address(trusted, V{"203.0.113.5, 10.1.1.1,192.0.2.1"}, "10.0.0.1") == "203.0.113.5");
  // Two lines are one list: the client's own spoofed line first, the proxy's line last.
  CHECK(client_address(trusted, V{"198.51.100.9", "203.0.113.5"}, "10.0.0.1") == "203.0.113.5");
  CHECK(client_address(trusted, V{"198.51.100.9", "203.0.113.5, 10.2.2.2"}, "10.0.0.1") ==
        "203.0.113.5");
  CHECK(client_address(trusted, V{"198.51.100.9, 203.0.113.5", "10.2.2.2"}, "10.0.0.1") ==
        "203.0.113.5");
  // Garbage stops the walk at the last hop vouched for.
  CHECK(client_address(trusted, V{"203.0.113.5, junk, 10.2.2.2"}, "10.0.0.1") == "10.2.2.2");
  CHECK(client_address(trusted, V{"unknown"}, "10.0.0.1") == "10.0.0.1");
  CHECK(client_address(trusted, V{"[2001:db8::1]", " 2001:db8::2\t"}, "10.0.0.1") == "2001:db8::2");
}
