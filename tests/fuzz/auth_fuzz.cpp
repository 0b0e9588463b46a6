// Fuzz target: the access-control parsers (Basic header, Cookie header, share tokens, query
// parameters, return URLs, paths, rule fields and globs, email addresses) and decide() over a
// request built from the input. Everything here arrives from anyone on the internet.
// Input: lines; line 1 is the method, 2 the target, 3 a Cookie header, 4 an Authorization
// header, 5 a glob, 6 a return URL, 7 an email address; missing lines are empty.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth.h"
#include "auth/otp.h"
#include "auth/session.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

std::vector<std::string_view> lines(std::string_view in, size_t n) {
  std::vector<std::string_view> v;
  size_t pos = 0;
  while (v.size() < n) {
    if (pos > in.size()) {
      v.emplace_back();
      continue;
    }
    size_t e = in.find('\n', pos);
    if (e == std::string_view::npos) e = in.size();
    v.push_back(in.substr(pos, e - pos));
    pos = e + 1;
  }
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto l = lines(in, 7);
  auto method = l[0], target = l[1], cookie = l[2], authz = l[3], glob = l[4], rd = l[5];

  // Parsers on the whole input and on their own line.
  for (auto s : {in, authz}) (void)auth::parse_basic(s);
  for (auto s : {in, cookie}) {
    for (auto v : auth::cookie_values(s, "__Host-warren_session")) (void)auth::token_syntax_ok(v);
    auto stripped = auth::strip_cookie(s, "warren_session");
    check(auth::cookie_values(stripped, "warren_session").empty());
  }
  for (auto s : {in, rd}) {
    if (auto r = auth::safe_return_url(s, "app.example.com")) {
      check(!r->empty() && (*r)[0] == '/');
      check(r->size() < 2 || ((*r)[1] != '/' && (*r)[1] != '\\'));
      check(r->find('\\') == std::string::npos);
    }
  }
  for (auto s : {in, target}) {
    if (auto p = auth::normalize_path(s)) {
      check(!p->empty() && (*p)[0] == '/');
      check(p->find("//") == std::string::npos);
      check(p->find("/../") == std::string::npos && p->find("/./") == std::string::npos);
    }
    auto stripped = auth::strip_query_param(s, "warren_token");
    check(!auth::query_param(stripped, "warren_token"));
    (void)auth::parse_share_token(s);
    (void)auth::parse_cidr(s);
    (void)auth::parse_ip(s);
    (void)auth::url_decode(s);
  }
  (void)auth::glob_match(glob, target);
  (void)auth::glob_match(target, glob);
  (void)auth::make_rule(1, 1, "DROP", target, glob, method, l[6]);
  if (auto e = auth::normalize_email(l[6])) {
    check(e->find_first_of("\r\n <>,") == std::string::npos);
    auth::CodeMail m{"warren@example.com", *e,         std::string(target),
                     std::string(method),  "ABCD2345", 0};
    check(static_cast<bool>(auth::code_message(m)));
  }
  (void)auth::check_email_code(auth::make_email_code("a@b.cd", "ABCD2345", 0), in, 1);
  (void)auth::unbase32(in);

  // A whole decision over the request, with a store that knows nothing.
  static const auth::Policy policy = [] {
    auth::Policy p;
    p.resource_id = 1;
    p.resource = "app";
    p.is_public = false;
    p.methods.password = p.methods.share_links = p.methods.basic = true;
    p.rules.push_back(*auth::make_rule(1, 1, "ACCEPT", "", "/public/**", "GET", ""));
    p.rules.push_back(*auth::make_rule(2, 2, "DROP", "10.0.0.0/8", "/**/*.php", "", ""));
    return p;
  }();
  std::string cookie_h(cookie), authz_h(authz);
  std::vector<auth::Header> headers = {{"Cookie", cookie_h}, {"Authorization", authz_h}};
  auth::Request req;
  req.method = method;
  req.host = "app.example.com";
  req.target = target;
  req.client = *auth::parse_ip("10.1.2.3");
  req.tls = size % 2;
  req.headers = headers;
  auth::Lookups lk;
  lk.session = [](std::string_view) -> core::Result<std::optional<auth::Session>> {
    return std::optional<auth::Session>{};
  };
  auto d = auth::decide(req, policy, lk, 1795399200);
  check(d.outcome != auth::Outcome::allow || d.reason == "rule_accept");
  check(d.outcome != auth::Outcome::issue_session);
  if (d.outcome == auth::Outcome::redirect)
    check(d.location.rfind(policy.portal_path + "/login?rd=", 0) == 0);
  (void)auth::audit_json(d, req, policy, 1795399200);
  return 0;
}
