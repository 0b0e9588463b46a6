#include "auth/rules.h"
#include "../support.h"

using namespace auth;

namespace {
IpAddr ip(std::string_view s) {
  auto a = parse_ip(s);
  REQUIRE(a);
  return *a;
}
Cidr cidr(std::string_view s) {
  auto c = parse_cidr(s);
  REQUIRE(c);
  return *c;
}
}  // namespace

TEST_CASE("IP addresses parse in v4, v6, bracketed and mapped forms", "[auth]") {
  REQUIRE(ip("192.0.2.1").v4);
  REQUIRE(to_string(ip("192.0.2.1")) == "192.0.2.1");
  REQUIRE_FALSE(ip("2001:db8::1").v4);
  REQUIRE(to_string(ip("[2001:DB8::1]")) == "2001:db8::1");
  REQUIRE(ip("::ffff:192.0.2.1") == ip("192.0.2.1"));
  for (auto bad : {"", "1.2.3", "1.2.3.256", "01.2.3.4x", "fe80::1%eth0", "::g", "[::1", "host"})
    REQUIRE_FALSE(parse_ip(bad));
}

TEST_CASE("CIDRs contain exactly their addresses, v4 and v6", "[auth]") {
  auto n = cidr("10.1.0.0/16");
  REQUIRE(contains(n, ip("10.1.0.0")));
  REQUIRE(contains(n, ip("10.1.255.255")));
  REQUIRE_FALSE(contains(n, ip("10.2.0.0")));
  REQUIRE_FALSE(contains(n, ip("::ffff:10.2.0.1")));
  REQUIRE(contains(n, ip("::ffff:10.1.2.3")));
  auto odd = cidr("192.168.4.0/22");  // a prefix that is not a byte boundary
  REQUIRE(contains(odd, ip("192.168.7.255")));
  REQUIRE_FALSE(contains(odd, ip("192.168.8.0")));
  REQUIRE_FALSE(contains(odd, ip("192.168.3.255")));
  auto v6 = cidr("2001:db8:abcd::/48");
  REQUIRE(contains(v6, ip("2001:db8:abcd:ffff::1")));
  REQUIRE_FALSE(contains(v6, ip("2001:db8:abce::1")));
  REQUIRE_FALSE(contains(v6, ip("10.0.0.1")));  // families never mix
  REQUIRE(contains(cidr("0.0.0.0/0"), ip("203.0.113.9")));
  REQUIRE_FALSE(contains(cidr("0.0.0.0/0"), ip("::1")));
  REQUIRE(contains(cidr("::/0"), ip("::1")));
  REQUIRE(contains(cidr("203.0.113.9"), ip("203.0.113.9")));
  REQUIRE_FALSE(contains(cidr("203.0.113.9"), ip("203.0.113.8")));
  REQUIRE(cidr("::1").bits == 128);
  for (auto bad : {"10.0.0.1/8", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "x/8"}) {
    auto r = parse_cidr(bad);
    REQUIRE_FALSE(r);
    REQUIRE(r.error().code == core::Errc::data);
  }
}

TEST_CASE("path globs: * stays in a segment, ** crosses them", "[auth]") {
  REQUIRE(glob_match("/api/*", "/api/users"));
  REQUIRE_FALSE(glob_match("/api/*", "/api/users/1"));
  REQUIRE(glob_match("/api/**", "/api/users/1"));
  REQUIRE(glob_match("/api/**", "/api/"));
  REQUIRE_FALSE(glob_match("/api/**", "/apix"));
  REQUIRE(glob_match("/**/*.js", "/a/b/c/app.js"));
  REQUIRE(glob_match("/**/*.js", "/a/app.js"));
  REQUIRE_FALSE(glob_match("/**/*.js", "/a/app.json/x"));
  REQUIRE(glob_match("/**/x/*.js", "/a/x/b/x/y.js"));  // ** must grow past a failed '*'
  REQUIRE(glob_match("*", "anything-without-slash"));
  REQUIRE_FALSE(glob_match("*", "/a"));
  REQUIRE(glob_match("**", "/a/b"));
  REQUIRE(glob_match("/exact", "/exact"));
  REQUIRE_FALSE(glob_match("/exact", "/exact/"));
  REQUIRE(glob_match("/a*b*c", "/aXbYc"));
  REQUIRE_FALSE(glob_match("/a*b*c", "/aXb/Yc"));
  REQUIRE(glob_match("/files/***", "/files/a/b"));  // "***" is "**"
  REQUIRE(glob_match("", ""));
  REQUIRE_FALSE(glob_match("", "/"));
  // Pathological input stays fast (no exponential backtracking).
  std::string p = "/";
  for (int i = 0; i < 30; i++) p += "*a";
  std::string s(5000, 'a');
  s = "/" + s + "b";
  REQUIRE_FALSE(glob_match(p, s));
}

TEST_CASE("paths are normalised before rules see them", "[auth]") {
  auto n = [](std::string_view t) { return normalize_path(t).value_or("<bad>"); };
  REQUIRE(n("/a/b?x=1") == "/a/b");
  REQUIRE(n("/") == "/");
  REQUIRE(n("//admin") == "/admin");
  REQUIRE(n("/public/../admin") == "/admin");
  REQUIRE(n("/./admin/./x") == "/admin/x");
  REQUIRE(n("/../../admin") == "/admin");
  REQUIRE(n("/%61dmin") == "/admin");
  REQUIRE(n("/a/%2e%2e/admin") == "/admin");
  REQUIRE(n("/a/b/") == "/a/b/");
  REQUIRE(n("/a/b/..") == "/a/");
  REQUIRE(n("/a%20b") == "/a%20b");
  REQUIRE(n("/a%3fb") == "/a%3Fb");
  REQUIRE(n("/a%3bx/b") == "/a%3Bx/b");  // an escaped ';' is data, not a parameter
  // ';' parameters are refused: origins disagree on them ("/public/..;/admin" is "/admin" to
  // Tomcat), so no spelling with one is forwarded.
  for (auto bad :
       {"", "admin", "/a%2Fb", "/a%5cb", "/a\\b", "/a%00", "/a%0d%0a", "/a%", "/a%zz", "/a\x01",
        "/x#frag", "/public/..;/admin", "/admin;x=1/panel", "/a;jsessionid=1", "/a/.;x/b"})
    REQUIRE(n(bad) == "<bad>");
}

TEST_CASE("rules are evaluated by priority; first match wins", "[auth]") {
  auto mk = [](int64_t id, int prio, const char* act, const char* ips, const char* glob,
               const char* methods = "", const char* countries = "") {
    auto r = make_rule(id, prio, act, ips, glob, methods, countries);
    REQUIRE(r);
    return *r;
  };
  std::vector<Rule> rules = {
      mk(4, 50, "PASS", "", "/api/login"),
      mk(1, 10, "DROP", "203.0.113.0/24 2001:db8::/32", ""),
      mk(2, 20, "accept", "", "/api/**", "get head"),
      mk(3, 20, "DROP", "", "/api/**"),
      mk(5, 30, "ACCEPT", "", "/public/*", "", "nz au"),
      mk(6, 40, "DROP", "", "/**", "", "KP"),
  };
  auto eval = [&](const char* client, const char* path, const char* method = "GET",
                  const char* country = "") -> std::string {
    auto h = evaluate_rules(rules, {ip(client), path, method, country});
    return h ? std::string(action_name(h->action)) + "#" + std::to_string(h->rule_id) : "none";
  };
  REQUIRE(eval("203.0.113.7", "/api/x") == "DROP#1");  // priority 10 beats everything
  REQUIRE(eval("2001:db8::5", "/anything") == "DROP#1");
  REQUIRE(eval("198.51.100.1", "/api/x") == "ACCEPT#2");
  REQUIRE(eval("198.51.100.1", "/api/x", "POST") == "DROP#3");  // same priority: lower id first
  REQUIRE(eval("198.51.100.1", "/api/login", "POST") == "DROP#3");
  REQUIRE(eval("198.51.100.1", "/public/a", "GET", "NZ") == "ACCEPT#5");
  REQUIRE(eval("198.51.100.1", "/public/a", "GET", "nz") == "ACCEPT#5");
  REQUIRE(eval("198.51.100.1", "/public/a", "GET", "US") == "none");
  REQUIRE(eval("198.51.100.1", "/public/a", "GET", "") == "none");  // unknown country: no match
  REQUIRE(eval("198.51.100.1", "/x", "GET", "KP") == "DROP#6");
  REQUIRE(eval("198.51.100.1", "/x") == "none");
  // Order of the list does not matter.
  std::reverse(rules.begin(), rules.end());
  REQUIRE(eval("198.51.100.1", "/api/x", "POST") == "DROP#3");
  // Bad fields are data errors.
  REQUIRE_FALSE(make_rule(1, 1, "ALLOW", "", "", "", ""));
  REQUIRE_FALSE(make_rule(1, 1, "DROP", "10.0.0.1/8", "", "", ""));
  REQUIRE_FALSE(make_rule(1, 1, "DROP", "", "api/*", "", ""));
  REQUIRE_FALSE(make_rule(1, 1, "DROP", "", "", "", "USA"));
  REQUIRE_FALSE(make_rule(1, 1, "DROP", "", "", "GET,POST", ""));
  REQUIRE_FALSE(make_rule(1, 1, "DROP", "", "", "G(T", ""));
}

TEST_CASE("rule methods match as RFC 9110 defines methods: case-sensitive tokens", "[auth]") {
  // A standard name in any case is that method; other methods are matched exactly.
  auto r = make_rule(1, 1, "DROP", "", "", "delete Propfind MKCOL", "");
  REQUIRE(r);
  REQUIRE(r->methods == std::vector<std::string>{"DELETE", "Propfind", "MKCOL"});
  std::vector<Rule> rules = {*r};
  auto hit = [&](const char* m) {
    return evaluate_rules(rules, {ip("198.51.100.1"), "/", m, ""}).has_value();
  };
  REQUIRE(hit("DELETE"));
  REQUIRE(hit("Propfind"));
  REQUIRE(hit("MKCOL"));
  REQUIRE_FALSE(hit("PROPFIND"));  // another method (edged answers "delete" with 400 itself)
  REQUIRE_FALSE(hit("mkcol"));
  REQUIRE_FALSE(hit("GET"));
}
