#include "auth/page.h"
#include "../support.h"

using namespace auth;

namespace {
size_t count(const std::string& h, std::string_view needle) {
  size_t n = 0;
  for (auto p = h.find(needle); p != std::string::npos; p = h.find(needle, p + 1)) n++;
  return n;
}
}  // namespace

TEST_CASE("login page: one form per method, values escaped, no script", "[auth]") {
  Policy p;
  p.resource = "<script>alert(1)</script>";
  p.is_public = false;
  p.methods.password = true;
  p.methods.pin = true;
  p.pin_digits = 8;
  PageState st;
  st.return_url = "/a?b=\"><script>x</script>";
  st.message = "That did not work <b>";
  auto h = login_page(p, st);
  REQUIRE(h.find("<script") == std::string::npos);
  REQUIRE(h.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  REQUIRE(h.find("value=\"/a?b=&quot;&gt;&lt;script&gt;x&lt;/script&gt;\"") != std::string::npos);
  REQUIRE(h.find("That did not work &lt;b&gt;") != std::string::npos);
  REQUIRE(count(h, "<form ") == 2);
  REQUIRE(count(h, "action=\"/.warren/auth/login\"") == 2);
  REQUIRE(h.find("pattern=\"[0-9]{8}\"") != std::string::npos);
  REQUIRE(h.find("name=\"method\" value=\"pin\"") != std::string::npos);
  REQUIRE(h.find("name=\"email\"") == std::string::npos);
  // Email: first the address form, then (after a request) the code form.
  p.methods = {};
  p.methods.email = true;
  h = login_page(p, {});
  REQUIRE(h.find("action=\"/.warren/auth/email\"") != std::string::npos);
  h = login_page(p, {"/", "", "bob@example.com"});
  REQUIRE(h.find("name=\"code\"") != std::string::npos);
  REQUIRE(h.find("value=\"bob@example.com\"") != std::string::npos);
  p.methods.users = true;
  REQUIRE(login_page(p, {}).find("name=\"totp\"") != std::string::npos);
  REQUIRE(html_escape("a&b'\"\r") == "a&amp;b&#39;&quot;");
}

TEST_CASE("portal security headers", "[auth]") {
  auto h = security_headers(true);
  auto get = [&](std::string_view n) {
    for (auto& [k, v] : h)
      if (k == n) return v;
    return std::string();
  };
  REQUIRE(get("Content-Security-Policy").find("frame-ancestors 'none'") != std::string::npos);
  REQUIRE(get("Content-Security-Policy").find("script-src") == std::string::npos);  // none at all
  REQUIRE(get("X-Frame-Options") == "DENY");
  REQUIRE(get("Cache-Control") == "no-store");
  REQUIRE(get("Strict-Transport-Security") == "max-age=31536000");
  h = security_headers(false);
  REQUIRE(get("Strict-Transport-Security").empty());
}
