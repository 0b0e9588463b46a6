#include "auth/session.h"

#include <cctype>

#include "../support.h"
#include "core/text.h"
#include "crypto/crypto.h"

using namespace auth;

TEST_CASE("session tokens are random, 43 base64url characters, stored as BLAKE2b", "[auth]") {
  auto a = new_token(), b = new_token();
  REQUIRE(a != b);
  REQUIRE(a.size() == kTokenChars);
  REQUIRE(token_syntax_ok(a));
  REQUIRE(hash_token(a) == crypto::hash_hex(a));
  REQUIRE(hash_token(a).size() == 64);
  REQUIRE(hash_token(a) != hash_token(b));
  REQUIRE_FALSE(token_syntax_ok(a.substr(1)));
  REQUIRE_FALSE(token_syntax_ok(a + "x"));
  std::string t = a;
  t[5] = '+';  // standard-base64 character: not ours
  REQUIRE_FALSE(token_syntax_ok(t));
  REQUIRE_FALSE(token_syntax_ok(""));
}

TEST_CASE("cookies are host-only, HttpOnly, SameSite=Lax, Secure and __Host- on TLS", "[auth]") {
  REQUIRE(cookie_name("warren_session", true) == "__Host-warren_session");
  REQUIRE(cookie_name("warren_session", false) == "warren_session");
  REQUIRE(set_cookie("__Host-s", "TOK", 3600, true) ==
          "__Host-s=TOK; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax; Secure");
  REQUIRE(set_cookie("s", "TOK", 60, false) == "s=TOK; Path=/; Max-Age=60; HttpOnly; SameSite=Lax");
  REQUIRE(set_cookie("s", "TOK", 60, false).find("Domain") == std::string::npos);
  REQUIRE(clear_cookie("s", false) == "s=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
}

TEST_CASE("Cookie headers: every copy of a name, quoted values, junk skipped", "[auth]") {
  auto v = cookie_values("a=1; s=one;s=\"two\" ; junk; =x; s=three; s=four; s=five", "s");
  REQUIRE(v == std::vector<std::string_view>{"one", "two", "three", "four"});  // at most 4
  REQUIRE(cookie_values("", "s").empty());
  REQUIRE(cookie_values("ss=1; s_=2", "s").empty());
  REQUIRE(cookie_values("s=", "s") == std::vector<std::string_view>{""});
  REQUIRE(strip_cookie("a=1; s=x; b=2", "s") == "a=1; b=2");
  REQUIRE(strip_cookie("s=x", "s") == "");
  REQUIRE(strip_cookie(" s=x ;; a=1 ;s=y", "s") == "a=1");
  REQUIRE(strip_cookie("a=1; flag", "s") == "a=1; flag");
}

TEST_CASE("share tokens are <id>.<secret>", "[auth]") {
  auto t = new_share_token();
  REQUIRE(t.id.size() == 11);
  // Ids go on command lines: never one that reads as an option.
  for (int i = 0; i < 2000; i++) REQUIRE(std::isalnum(new_share_token().id[0]));
  auto s = to_string(t);
  auto p = parse_share_token(s);
  REQUIRE(p);
  REQUIRE(p->id == t.id);
  REQUIRE(p->secret == t.secret);
  REQUIRE_FALSE(parse_share_token(t.secret));              // no id
  REQUIRE_FALSE(parse_share_token("." + t.secret));        // empty id
  REQUIRE_FALSE(parse_share_token(t.id + "." + "short"));  // short secret
  REQUIRE_FALSE(parse_share_token(t.id + "!." + t.secret));
  REQUIRE_FALSE(parse_share_token(std::string(33, 'a') + "." + t.secret));
  REQUIRE_FALSE(parse_share_token(s + "."));
}

TEST_CASE("Basic credentials: absent, other scheme, good, malformed", "[auth]") {
  auto b64 = [](std::string_view s) { return core::base64(core::as_bytes(s)); };
  auto none = parse_basic("");
  REQUIRE(none);
  REQUIRE_FALSE(*none);
  auto bearer = parse_basic("Bearer abc");
  REQUIRE(bearer);
  REQUIRE_FALSE(*bearer);
  auto ok = parse_basic("Basic " + b64("alice:pa:ss word"));
  REQUIRE(ok);
  REQUIRE(*ok);
  REQUIRE((*ok)->user == "alice");
  REQUIRE((*ok)->password == "pa:ss word");  // only the first ':' separates
  auto lower = parse_basic("basic   " + b64(":"));
  REQUIRE(lower);
  REQUIRE((*lower)->user.empty());
  REQUIRE((*lower)->password.empty());
  for (std::string bad : {std::string("Basic"), std::string("Basic "), std::string("Basic !!!!"),
                          "Basic " + b64("nocolon"), "Basic " + b64("a:b\r\nX: y"),
                          "Basic " + b64("a\x00:b"), "Basic " + std::string(5000, 'A')}) {
    auto r = parse_basic(bad);
    REQUIRE_FALSE(r);
    REQUIRE(r.error().code == core::Errc::data);
  }
  REQUIRE(basic_challenge("my \"app\"\\\r\n") ==
          "Basic realm=\"my \\\"app\\\"\\\\\", charset=\"UTF-8\"");
}

TEST_CASE("query parameters: lookup, decoding, stripping", "[auth]") {
  REQUIRE(query_param("/p?a=1&warren_token=x.y&b=2", "warren_token") == "x.y");
  REQUIRE(query_param("/p?a=%41+b", "a") == "A b");
  REQUIRE_FALSE(query_param("/p?a=%4", "a"));
  REQUIRE_FALSE(query_param("/p", "a"));
  REQUIRE_FALSE(query_param("/p?aa=1", "a"));
  REQUIRE(query_param("/p?a", "a") == "");
  REQUIRE(strip_query_param("/p?a=1&t=x&b=2", "t") == "/p?a=1&b=2");
  REQUIRE(strip_query_param("/p?t=x", "t") == "/p");
  REQUIRE(strip_query_param("/p?t=x&t=y", "t") == "/p");
  REQUIRE(strip_query_param("/p?t=x#frag", "t") == "/p#frag");
  REQUIRE(strip_query_param("/p?tt=1&t", "t") == "/p?tt=1");
  REQUIRE(strip_query_param("/p", "t") == "/p");
  REQUIRE(strip_query_param("/p#f?t=1", "t") == "/p#f?t=1");  // a '?' in the fragment is no query
  REQUIRE_FALSE(query_param("/p#f?t=1", "t"));
  REQUIRE_FALSE(query_param(strip_query_param("/p?t=1#x?t=2", "t"), "t"));
  REQUIRE(strip_query_param("/p?&&a=1&", "t") == "/p?a=1");
  REQUIRE(url_encode("/a b?c=d&é") == "%2Fa%20b%3Fc%3Dd%26%C3%A9");
  REQUIRE(url_decode(url_encode("/x?y=z&w")) == "/x?y=z&w");
}

TEST_CASE("return URLs: same host only, no open redirect", "[auth]") {
  const char* host = "app.example.com";
  auto ok = [&](std::string_view u) { return safe_return_url(u, host).value_or("<refused>"); };
  REQUIRE(ok("/") == "/");
  REQUIRE(ok("/a/b?c=1#x") == "/a/b?c=1#x");
  REQUIRE(ok("https://app.example.com/x?y") == "/x?y");
  REQUIRE(ok("HTTP://APP.example.com") == "/");
  REQUIRE(ok("/search?q=100%25") == "/search?q=100%25");
  REQUIRE(ok("/search?q=100%") == "/search?q=100%");
  REQUIRE(ok("https://app.example.com?q") == "/?q");
  REQUIRE(safe_return_url("https://app.example.com:8443/x", "app.example.com:8443") == "/x");
  for (auto bad : {"",
                   "//evil.com",
                   "///evil.com",
                   "/\\evil.com",
                   "\\\\evil.com",
                   "/%2Fevil.com",
                   "/%5Cevil.com",
                   "/%252F%252Fevil.com",
                   "%2F%2Fevil.com",
                   "/%5C%5Cevil",
                   "https://evil.com/",
                   "https://evil.com",
                   "http://app.example.com.evil.com/",
                   "https://app.example.com@evil.com/",
                   "https://evil.com\\@app.example.com/",
                   "javascript:alert(1)",
                   "data:text/html,x",
                   "evil.com",
                   "https:evil.com",
                   "/a\r\nSet-Cookie: x=1",
                   "/a%0d%0aSet-Cookie:x",
                   "/a\tb",
                   "https://app.example.com:444/x",
                   "https://app.example.com//evil.com",
                   "ftp://app.example.com/"})
    REQUIRE(ok(bad) == "<refused>");
  REQUIRE(ok("/" + std::string(3000, 'a')) == "<refused>");
}
