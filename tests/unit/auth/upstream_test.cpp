#include "auth/upstream.h"
#include "../support.h"

using namespace auth;

namespace {
constexpr int64_t kNow = 1795399200;
Decision allowed() {
  Decision d;
  d.outcome = Outcome::allow;
  d.status = 200;
  d.method = "password";
  d.identity = {42, "alice", "alice@example.com", "Alice\r\nX-Injected: 1", {"dev", "ops"}};
  return d;
}
std::string get(const std::vector<OwnedHeader>& h, std::string_view name) {
  std::string out;
  for (auto& [n, v] : h)
    if (n == name) out += (out.empty() ? "" : "|") + v;
  return out;
}
}  // namespace

TEST_CASE("upstream headers: inbound identity stripped, ours added", "[auth]") {
  Policy p;
  std::vector<OwnedHeader> h = {
      {"Host", "app.example.com"},
      {"remote-user", "root"},
      {"Remote_Email", "root@evil"},
      {"REMOTE-ROLE", "admin"},
      {"Warren-Jwt-Assertion", "forged"},
      {"Warren-Token-Id", "abc"},
      {"warren-token", "secret"},
      {"Cookie", "a=1; __Host-warren_session=TOKEN; b=2"},
      {"Cookie", "__Host-warren_session=OTHER"},
      {"Authorization", "Bearer keep-me"},
  };
  rewrite_upstream_headers(h, allowed(), p, true, {}, "jwt.value.sig");
  REQUIRE(get(h, "Host") == "app.example.com");
  REQUIRE(get(h, "Cookie") == "a=1; b=2");
  REQUIRE(get(h, "Authorization") == "Bearer keep-me");
  REQUIRE(get(h, "Remote-User") == "alice");
  REQUIRE(get(h, "Remote-Email") == "alice@example.com");
  REQUIRE(get(h, "Remote-Name") == "AliceX-Injected: 1");  // CR/LF removed: one header value
  REQUIRE(get(h, "Remote-Role") == "dev,ops");
  REQUIRE(get(h, "Warren-Jwt-Assertion") == "jwt.value.sig");
  REQUIRE(get(h, "remote-user").empty());
  REQUIRE(get(h, "Remote_Email").empty());
  REQUIRE(get(h, "REMOTE-ROLE").empty());
  REQUIRE(get(h, "Warren-Token-Id").empty());
  REQUIRE(get(h, "warren-token").empty());
  REQUIRE(h.size() == 8);  // Host, one Cookie, Authorization, 4 identity, assertion
}

TEST_CASE("upstream headers: custom names, Basic credentials, non-allow decisions", "[auth]") {
  Policy p;
  HeaderNames n;
  n.user = "X-Forwarded-User";
  n.role = "";  // not sent
  auto d = allowed();
  d.method = "basic";
  std::vector<OwnedHeader> h = {{"Authorization", "Basic eDp5"},
                                {"X-Forwarded-User", "root"},
                                {"Remote-User", "any Remote-* is dropped, whatever the names"},
                                {"remote_groups", "admins"},
                                {"Remotely", "kept"}};
  rewrite_upstream_headers(h, d, p, false, n);
  REQUIRE(get(h, "Authorization").empty());
  REQUIRE(get(h, "X-Forwarded-User") == "alice");
  REQUIRE(get(h, "Remote-User").empty());
  REQUIRE(get(h, "remote_groups").empty());
  REQUIRE(get(h, "Remotely") == "kept");
  REQUIRE(get(h, "Remote-Role").empty());
  // ACCEPT by rule (no identity): inbound copies still stripped, nothing added.
  Decision open;
  open.outcome = Outcome::allow;
  open.reason = "rule_accept";
  h = {{"Remote-User", "root"}, {"Cookie", "warren_session=x"}};
  rewrite_upstream_headers(h, open, p, false);
  REQUIRE(h.empty());
}

TEST_CASE("JWT assertion: EdDSA, verifiable, with the identity claims", "[auth]") {
  auto k = pki::generate_key(pki::KeyType::ed25519);
  REQUIRE(k);
  jwt::SigningKey sk{*k, jwt::Alg::EdDSA, "edge-1"};
  auto d = allowed();
  auto t = assertion(d, sk, "https://edge.example.com", "app.example.com", kNow, 60);
  REQUIRE(t);
  jwt::VerifyOptions o;
  o.now = kNow + 30;
  o.audiences = {"app.example.com"};
  o.issuer = "https://edge.example.com";
  auto v = jwt::verify(*t, {{*k, jwt::Alg::EdDSA, "edge-1"}}, o);
  REQUIRE(v);
  auto& c = v->claims;
  REQUIRE(c["sub"].as_string() == "alice");
  REQUIRE(c["email"].as_string() == "alice@example.com");
  REQUIRE(c["uid"].as_int64() == 42);
  REQUIRE(c["iat"].as_int64() == kNow);
  REQUIRE(c["exp"].as_int64() == kNow + 60);
  REQUIRE(c["roles"].as_array().size() == 2);
  REQUIRE(c["amr"].as_array()[0].as_string() == "password");
  REQUIRE(v->header["kid"].as_string() == "edge-1");
  o.now = kNow + 60 + 61;  // past exp and the 60 s leeway
  REQUIRE_FALSE(jwt::verify(*t, {{*k, jwt::Alg::EdDSA, "edge-1"}}, o));
  o.now = kNow;
  o.audiences = {"other.example.com"};
  REQUIRE_FALSE(jwt::verify(*t, {{*k, jwt::Alg::EdDSA, "edge-1"}}, o));
}
