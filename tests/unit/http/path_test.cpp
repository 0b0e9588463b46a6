// http::normalize_target — the one path normaliser: RFC 3986 5.2.4 dot-segment removal (the
// 5.4 examples that stay on one path), unreserved decoding, and the spellings origins disagree
// about refused.
#include "http/path.h"
#include "../support.h"

using http::PathError;

namespace {
std::string norm(std::string_view t) {
  std::string out;
  PathError e = http::normalize_target(t, out);
  return e == PathError::none ? out : "<" + std::string(http::to_string(e)) + ">";
}
PathError err(std::string_view t) {
  std::string out;
  return http::normalize_target(t, out);
}
}  // namespace

TEST_CASE("dot-segments resolve as RFC 3986 5.4 resolves them against /b/c/d;p?q", "[http]") {
  // The reference examples, as the absolute paths they resolve to (base /b/c/d).
  CHECK(norm("/b/c/g") == "/b/c/g");
  CHECK(norm("/b/c/./g") == "/b/c/g");
  CHECK(norm("/b/c/g/") == "/b/c/g/");
  CHECK(norm("/g") == "/g");
  CHECK(norm("/b/c/d?y") == "/b/c/d?y");
  CHECK(norm("/b/c/g?y") == "/b/c/g?y");
  CHECK(norm("/b/c/.") == "/b/c/");
  CHECK(norm("/b/c/./") == "/b/c/");
  CHECK(norm("/b/c/..") == "/b/");
  CHECK(norm("/b/c/../") == "/b/");
  CHECK(norm("/b/c/../g") == "/b/g");
  CHECK(norm("/b/c/../..") == "/");
  CHECK(norm("/b/c/../../") == "/");
  CHECK(norm("/b/c/../../g") == "/g");
  // Abnormal examples (5.4.2): ".." above the root stays at the root.
  CHECK(norm("/b/c/../../../g") == "/g");
  CHECK(norm("/b/c/../../../../g") == "/g");
  CHECK(norm("/./g") == "/g");
  CHECK(norm("/../g") == "/g");
  CHECK(norm("/b/c/g.") == "/b/c/g.");
  CHECK(norm("/b/c/.g") == "/b/c/.g");
  CHECK(norm("/b/c/g..") == "/b/c/g..");
  CHECK(norm("/b/c/..g") == "/b/c/..g");
  CHECK(norm("/b/c/./../g") == "/b/g");
  CHECK(norm("/b/c/./g/.") == "/b/c/g/");
  CHECK(norm("/b/c/g/./h") == "/b/c/g/h");
  CHECK(norm("/b/c/g/../h") == "/b/c/h");
  // The query is never a path: dots and slashes in it stay.
  CHECK(norm("/b/c/g?y/./x") == "/b/c/g?y/./x");
  CHECK(norm("/b/c/g?y/../x") == "/b/c/g?y/../x");
}

TEST_CASE("escapes: unreserved decoded, the rest kept upper-cased; empty segments merge",
          "[http]") {
  CHECK(norm("/") == "/");
  CHECK(norm("/%61dmin") == "/admin");
  CHECK(norm("/%2e%2e/admin") == "/admin");
  CHECK(norm("/pub/%2E%2E/admin/x") == "/admin/x");
  CHECK(norm("/a%20b") == "/a%20b");
  CHECK(norm("/a%3fb") == "/a%3Fb");
  CHECK(norm("/a%3bb") == "/a%3Bb");  // an escaped ';' is data
  CHECK(norm("/caf%c3%a9") == "/caf%C3%A9");
  CHECK(norm("/%f0%9f%98%80") == "/%F0%9F%98%80");
  CHECK(norm("//admin") == "/admin");
  CHECK(norm("/a//b///c") == "/a/b/c");
  CHECK(norm("/a/b?x=%2F&y=..") == "/a/b?x=%2F&y=..");
  CHECK(norm("/.well-known/x") == "/.well-known/x");
  CHECK(norm("/a:b@c!$&'()*+,=~_-") == "/a:b@c!$&'()*+,=~_-");
  // What lax clients send raw goes upstream escaped, as a browser would have sent it.
  CHECK(norm("/a\"b<c>{d}|e^f`g") == "/a%22b%3Cc%3E%7Bd%7D%7Ce%5Ef%60g");
  CHECK(norm("/caf\xc3\xa9") == "/caf%C3%A9");
  CHECK(norm("/x[1]") == "/x%5B1%5D");
  // Already-normal paths come back unchanged.
  for (auto t : {"/", "/a", "/a/b/", "/api/v1/items?id=3&x=y", "/%20"}) CHECK(norm(t) == t);
}

TEST_CASE("spellings origins disagree about are refused", "[http]") {
  CHECK(err("") == PathError::not_origin_form);
  CHECK(err("admin") == PathError::not_origin_form);
  CHECK(err("*") == PathError::not_origin_form);
  CHECK(err("/a%2Fb") == PathError::encoded_slash);
  CHECK(err("/a%2fb") == PathError::encoded_slash);
  CHECK(err("/a%5cb") == PathError::backslash);
  CHECK(err("/a\\b") == PathError::backslash);
  CHECK(err("/admin;x=1/secret") == PathError::parameter);
  CHECK(err("/pub;/../admin") == PathError::parameter);
  CHECK(err("/a%00") == PathError::control);
  CHECK(err("/a%0d%0a") == PathError::control);
  CHECK(err("/a%7f") == PathError::control);
  CHECK(err("/a\x01") == PathError::control);
  CHECK(err("/a%") == PathError::bad_escape);
  CHECK(err("/a%4") == PathError::bad_escape);
  CHECK(err("/a%zz") == PathError::bad_escape);
  CHECK(err("/x#frag") == PathError::fragment);
  CHECK(err("/x?a#frag") == PathError::fragment);
  CHECK(err("/caf\xc3") == PathError::bad_utf8);
  CHECK(err("/\xc0\xae\xc0\xae/admin") == PathError::bad_utf8);
  CHECK(err("/a?caf\xc3\xa9") == PathError::bad_char);
  // Overlong, surrogate, truncated and out-of-range UTF-8 in escapes.
  CHECK(err("/%c0%ae%c0%ae/admin") == PathError::bad_utf8);
  CHECK(err("/%c0%af") == PathError::bad_utf8);
  CHECK(err("/%e0%80%ae") == PathError::bad_utf8);
  CHECK(err("/%f0%80%80%ae") == PathError::bad_utf8);
  CHECK(err("/%ed%a0%80") == PathError::bad_utf8);
  CHECK(err("/%c3") == PathError::bad_utf8);
  CHECK(err("/%c3/") == PathError::bad_utf8);
  CHECK(err("/%80") == PathError::bad_utf8);
  CHECK(err("/%f5%80%80%80") == PathError::bad_utf8);
  CHECK(err("/%f4%90%80%80") == PathError::bad_utf8);
}

TEST_CASE("normalising is idempotent", "[http]") {
  for (auto t : {"/a/./b/../c", "//x//y/", "/%41%2e/b/%2E%2E/c?q=1", "/a%20b/%7e", "/../..",
                 "/caf%c3%a9/./x"}) {
    std::string once = norm(t);
    REQUIRE(once[0] == '/');
    CHECK(norm(once) == once);
  }
}
