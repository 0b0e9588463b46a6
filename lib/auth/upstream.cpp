#include "auth/upstream.h"

#include <boost/json/array.hpp>

#include <algorithm>

#include "auth/session.h"
#include "core/text.h"
#include "crypto/crypto.h"

namespace auth {

namespace {
// Header names compared case-insensitively with '_' and '-' the same (CGI-style upstreams
// map both to REMOTE_USER).
bool same_name(std::string_view a, std::string_view b) {
  auto fold = [](char c) {
    return c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return fold(x) == fold(y); });
}

std::string clean(std::string_view v) {
  std::string o;
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) o += c;
  }
  return std::string(core::trim(o));
}
}  // namespace

void rewrite_upstream_headers(std::vector<OwnedHeader>& headers, const Decision& d,
                              const Policy& policy, bool tls, const HeaderNames& names,
                              std::string_view assertion) {
  const std::string cname = cookie_name(policy.cookie_base, tls);
  const std::string_view drop[] = {names.user,
                                   names.email,
                                   names.name,
                                   names.role,
                                   names.assertion,
                                   policy.share_id_header,
                                   policy.share_secret_header};
  std::erase_if(headers, [&](OwnedHeader& h) {
    for (auto n : drop)
      if (!n.empty() && same_name(h.first, n)) return true;
    if (d.method == "basic" && same_name(h.first, "Authorization")) return true;
    if (same_name(h.first, "Cookie")) {
      h.second = strip_cookie(h.second, cname);
      return h.second.empty();
    }
    return false;
  });
  if (d.outcome != Outcome::allow) return;
  auto add = [&](const std::string& name, std::string_view value) {
    auto v = clean(value);
    if (!name.empty() && !v.empty()) headers.emplace_back(name, std::move(v));
  };
  const Identity& id = d.identity;
  add(names.user, id.user);
  add(names.email, id.email);
  add(names.name, id.name);
  std::string roles;
  for (const auto& r : id.roles) roles += (roles.empty() ? "" : ",") + clean(r);
  add(names.role, roles);
  if (!assertion.empty()) add(names.assertion, assertion);
}

boost::json::object assertion_claims(const Decision& d, std::string_view issuer,
                                     std::string_view audience, int64_t now, int64_t ttl) {
  const Identity& id = d.identity;
  boost::json::object c;
  c["iss"] = issuer;
  c["sub"] = id.user;
  c["aud"] = audience;
  c["iat"] = now;
  c["nbf"] = now;
  c["exp"] = now + ttl;
  c["jti"] = crypto::random_token(12);
  if (!id.email.empty()) c["email"] = id.email;
  if (!id.name.empty()) c["name"] = id.name;
  if (id.user_id) c["uid"] = id.user_id;
  boost::json::array roles;
  for (const auto& r : id.roles) roles.emplace_back(r);
  c["roles"] = std::move(roles);
  boost::json::array amr;
  if (!d.method.empty()) amr.emplace_back(d.method);
  c["amr"] = std::move(amr);
  return c;
}

core::Result<std::string> assertion(const Decision& d, const jwt::SigningKey& key,
                                    std::string_view issuer, std::string_view audience, int64_t now,
                                    int64_t ttl) {
  return jwt::sign(assertion_claims(d, issuer, audience, now, ttl), key);
}

}  // namespace auth
