#include "auth/portal.h"
#include "../support.h"
#include "auth/session.h"
#include "crypto/crypto.h"

using namespace auth;

namespace {
constexpr int64_t kNow = 1795399200;

struct World {
  Policy policy;
  PortalSecrets secrets;
  std::optional<UserRecord> user;
  std::optional<EmailCode> code;
  bool down = false;
  int failures = 0;
  std::vector<std::string> credentials;  // what each failure named
  int64_t lock = 0;
  std::vector<std::pair<std::string, std::string>> hv;
  std::vector<Header> headers;
  Request req;

  World() {
    policy.resource_id = 3;
    policy.resource = "wiki";
    policy.is_public = false;
    policy.pin_digits = 6;
    req.method = "POST";
    req.host = "wiki.example.com";
    req.target = "/.warren/auth/login";
    req.client = *parse_ip("192.0.2.50");
    req.tls = true;
  }
  Login login(std::string_view body) {
    auto f = parse_form(body);
    REQUIRE(f);
    PortalLookups pl;
    pl.user = [this](std::string_view e) -> core::Result<std::optional<UserRecord>> {
      if (down) return core::err(core::Errc::unavailable, "down");
      if (user && user->identity.email == e) return user;
      return std::optional<UserRecord>{};
    };
    pl.email_code = [this](std::string_view a) -> core::Result<std::optional<EmailCode>> {
      if (down) return core::err(core::Errc::unavailable, "down");
      if (code && code->address == a) return code;
      return std::optional<EmailCode>{};
    };
    Lookups lk;
    lk.locked = [this](const IpAddr&, int64_t, int64_t) { return lock; };
    lk.failed = [this](const IpAddr&, int64_t, std::string_view cred, int64_t) {
      failures++;
      credentials.emplace_back(cred);
      return int64_t{0};
    };
    return portal_login(req, policy, *f, secrets, pl, lk, kNow);
  }
};
}  // namespace

TEST_CASE("forms: fields, escapes, limits", "[auth]") {
  auto f = parse_form("method=pin&pin=123456&rd=%2Fa%3Fb&empty=&flag&&x=a+b");
  REQUIRE(f);
  REQUIRE(form_value(*f, "pin") == "123456");
  REQUIRE(form_value(*f, "rd") == "/a?b");
  REQUIRE(form_value(*f, "empty") == "");
  REQUIRE(form_value(*f, "flag") == "");
  REQUIRE(form_value(*f, "x") == "a b");
  REQUIRE_FALSE(form_value(*f, "nope"));
  for (std::string bad :
       {std::string("a=%zz"), std::string("=v"), std::string("a=%00"), std::string(9000, 'a')}) {
    auto r = parse_form(bad);
    REQUIRE_FALSE(r);
    REQUIRE(r.error().code == core::Errc::data);
  }
  std::string many;
  for (int i = 0; i < 40; i++) many += "k" + std::to_string(i) + "=v&";
  REQUIRE_FALSE(parse_form(many));
  REQUIRE(pin_format_ok("012345", 6));
  REQUIRE_FALSE(pin_format_ok("12345", 6));
  REQUIRE_FALSE(pin_format_ok("12345a", 6));
  REQUIRE_FALSE(pin_format_ok("１２３４", 4));  // full-width digits are not ASCII digits
}

TEST_CASE("portal: resource password and PIN logins", "[auth]") {
  World w;
  w.policy.methods.password = true;
  w.policy.methods.pin = true;
  w.secrets.password_hash = *crypto::hash_password("hunter22");
  w.secrets.pin_hash = *crypto::hash_password("482913");
  auto r = w.login("method=password&password=hunter22&rd=%2Fdocs%3Fa%3D1");
  REQUIRE(r.outcome == Outcome::issue_session);
  REQUIRE(r.status == 303);
  REQUIRE(r.reason == "login_password");
  REQUIRE(r.location == "/docs?a=1");
  REQUIRE(r.issue);
  REQUIRE(r.issue->row.method == "password");
  REQUIRE(r.issue->row.resource_id == 3);
  REQUIRE(r.issue->set_cookie.rfind("__Host-warren_session=", 0) == 0);
  REQUIRE(w.failures == 0);

  r = w.login("method=password&password=hunter2&rd=https%3A%2F%2Fevil.com%2F");
  REQUIRE(r.outcome == Outcome::unauthorized);
  REQUIRE(r.reason == "bad_password");
  REQUIRE_FALSE(r.message.empty());
  REQUIRE_FALSE(r.issue);
  REQUIRE(r.location == "/");  // the open redirect was dropped
  REQUIRE(w.failures == 1);

  REQUIRE(w.login("method=pin&pin=482913").outcome == Outcome::issue_session);
  REQUIRE(w.login("method=pin&pin=482914").reason == "bad_pin");
  REQUIRE(w.login("method=pin&pin=4829130").reason == "bad_pin");  // wrong length
  REQUIRE(w.failures == 3);

  w.lock = 60;  // locked out: no secret is even checked
  r = w.login("method=pin&pin=482913");
  REQUIRE(r.outcome == Outcome::rate_limited);
  REQUIRE(r.retry_after == 60);
  w.lock = 0;
  REQUIRE(w.login("method=users&email=a@b.cd&password=x").status == 400);  // not offered
  REQUIRE(w.login("method=bogus").status == 400);
  w.secrets.pin_hash.clear();  // PIN method on but no PIN set: never matches
  REQUIRE(w.login("method=pin&pin=482913").reason == "bad_pin");
}

TEST_CASE("portal: Warren users with TOTP and roles", "[auth]") {
  World w;
  w.policy.methods.users = true;
  w.policy.allowed_roles = {"staff"};
  std::vector<uint8_t> secret(20, 7);
  UserRecord u;
  u.identity = {9, "alice@example.com", "alice@example.com", "Alice", {"staff"}};
  u.password_hash = *crypto::hash_password("pw-alice");
  u.totp_secret = secret;
  w.user = u;
  auto code = totp(secret, kNow);
  auto r = w.login("method=users&email=Alice%40Example.com&password=pw-alice&totp=" + code);
  REQUIRE(r.outcome == Outcome::issue_session);
  REQUIRE(r.issue->row.identity.user_id == 9);
  REQUIRE(r.issue->row.method == "users");
  REQUIRE(r.totp_step == kNow / 30);
  REQUIRE(w.login("method=users&email=alice@example.com&password=pw-alice&totp=000000").reason ==
          "bad_totp");
  w.user->totp_last_step = kNow / 30;  // the code was used already
  REQUIRE(w.login("method=users&email=alice@example.com&password=pw-alice&totp=" + code).reason ==
          "bad_totp");
  w.user->totp_last_step = -1;
  REQUIRE(w.login("method=users&email=alice@example.com&password=nope&totp=" + code).reason ==
          "bad_user_credentials");
  REQUIRE(w.login("method=users&email=bob@example.com&password=pw-alice").reason ==
          "bad_user_credentials");
  w.user->identity.roles = {"guest"};
  REQUIRE(w.login("method=users&email=alice@example.com&password=pw-alice&totp=" + code).status ==
          403);
  w.user->granted = true;  // a direct grant is enough
  REQUIRE(w.login("method=users&email=alice@example.com&password=pw-alice&totp=" + code).outcome ==
          Outcome::issue_session);
  w.user->enabled = false;
  REQUIRE(w.login("method=users&email=alice@example.com&password=pw-alice&totp=" + code).reason ==
          "bad_user_credentials");
  w.down = true;
  REQUIRE(w.login("method=users&email=alice@example.com&password=pw-alice").status == 503);
}

TEST_CASE("portal: emailed codes, request and login", "[auth]") {
  World w;
  w.policy.methods.email = true;
  w.policy.email_allow = {"@example.com"};
  auto cr = request_email_code(w.policy, "Bob@Example.com", "warren@example.com",
                               "wiki.example.com", kNow);
  REQUIRE(cr.send);
  REQUIRE(cr.reason == "email_sent");
  REQUIRE(cr.row.address == "bob@example.com");
  REQUIRE(cr.message.find("To: bob@example.com\n") != std::string::npos);
  auto at = cr.message.find("\n    ") + 5;
  std::string shown = cr.message.substr(at, 9);  // "ABCD-EFGH"
  REQUIRE(request_email_code(w.policy, "eve@evil.com", "warren@example.com", "h", kNow).reason ==
          "email_not_allowed");
  REQUIRE(
      request_email_code(w.policy, "bad\r\n@example.com", "warren@example.com", "h", kNow).reason ==
      "bad_email");

  w.code = cr.row;
  auto r = w.login("method=email&email=bob%40example.com&code=" + shown);
  REQUIRE(r.outcome == Outcome::issue_session);
  REQUIRE(r.code_used);
  REQUIRE(r.issue->row.identity.email == "bob@example.com");
  r = w.login("method=email&email=bob%40example.com&code=AAAA-AAAA");
  REQUIRE(r.reason == "email_code_wrong");
  REQUIRE(r.code_attempt_failed);
  w.code->attempts = kCodeAttempts;
  REQUIRE(w.login("method=email&email=bob%40example.com&code=" + shown).reason ==
          "email_code_exhausted");
  w.code->attempts = 0;
  w.code->expires_at = kNow;
  REQUIRE(w.login("method=email&email=bob%40example.com&code=" + shown).reason ==
          "email_code_expired");
  w.policy.email_allow = {"alice@example.com"};  // no longer allowed
  REQUIRE(w.login("method=email&email=bob%40example.com&code=" + shown).reason == "bad_email_code");
}

TEST_CASE("portal posts must come from the same origin", "[auth]") {
  World w;
  auto with = [&](std::vector<std::pair<std::string, std::string>> hv) {
    w.hv = std::move(hv);
    w.headers.clear();
    for (auto& [n, v] : w.hv) w.headers.emplace_back(n, v);
    w.req.headers = w.headers;
    return origin_ok(w.req);
  };
  REQUIRE(with({}));
  REQUIRE(with({{"Origin", "https://wiki.example.com"}}));
  REQUIRE(with({{"origin", "HTTPS://WIKI.example.com"}, {"Sec-Fetch-Site", "same-origin"}}));
  REQUIRE_FALSE(with({{"Origin", "https://evil.com"}}));
  REQUIRE_FALSE(with({{"Origin", "http://wiki.example.com"}}));  // scheme differs
  REQUIRE_FALSE(with({{"Origin", "null"}}));
  REQUIRE_FALSE(with({{"Sec-Fetch-Site", "cross-site"}}));
  REQUIRE_FALSE(with({{"Sec-Fetch-Site", "same-site"}}));
}
