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
    if (c == '_') return '-';
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;  // ASCII: header names
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

Inbound inbound_header(std::string_view name, std::string_view value, const Decision& d,
                       const Policy& policy, std::string_view session_cookie,
                       const HeaderNames& names, std::string& replaced) {
  const std::string_view drop[] = {names.user,
                                   names.email,
                                   names.name,
                                   names.role,
                                   names.assertion,
                                   policy.share_id_header,
                                   policy.share_secret_header};
  for (auto n : drop)
    if (!n.empty() && same_name(name, n)) return Inbound::drop;
  if (name.size() >= 7 && same_name(name.substr(0, 7), "remote-")) return Inbound::drop;
  if (d.method == "basic" && same_name(name, "Authorization")) return Inbound::drop;
  if (same_name(name, "Cookie")) {
    // This resource's cookie and the default names (over HTTP and HTTPS), whatever the route.
    static const std::string kPlain = cookie_name(Policy{}.cookie_base, false),
                             kTls = cookie_name(Policy{}.cookie_base, true);
    const std::string_view names3[] = {session_cookie, kPlain, kTls};
    bool found = false;
    for (auto n : names3) found = found || !cookie_values(value, n).empty();
    if (!found) return Inbound::keep;
    std::string v(value);
    for (auto n : names3)
      if (!v.empty()) v = strip_cookie(v, n);
    replaced = std::move(v);
    return replaced.empty() ? Inbound::drop : Inbound::replace;
  }
  return Inbound::keep;
}

std::vector<OwnedHeader> identity_headers(const Decision& d, const HeaderNames& names,
                                          std::string_view assertion) {
  std::vector<OwnedHeader> out;
  if (d.outcome != Outcome::allow) return out;
  auto add = [&](const std::string& name, std::string_view value) {
    auto v = clean(value);
    if (!name.empty() && !v.empty()) out.emplace_back(name, std::move(v));
  };
  const Identity& id = d.identity;
  add(names.user, id.user);
  add(names.email, id.email);
  add(names.name, id.name);
  std::string roles;
  for (const auto& r : id.roles) roles += (roles.empty() ? "" : ",") + clean(r);
  add(names.role, roles);
  if (!assertion.empty()) add(names.assertion, assertion);
  return out;
}

void rewrite_upstream_headers(std::vector<OwnedHeader>& headers, const Decision& d,
                              const Policy& policy, bool tls, const HeaderNames& names,
                              std::string_view assertion) {
  const std::string cname = cookie_name(policy.cookie_base, tls);
  std::string replaced;
  std::erase_if(headers, [&](OwnedHeader& h) {
    switch (inbound_header(h.first, h.second, d, policy, cname, names, replaced)) {
      case Inbound::drop:
        return true;
      case Inbound::replace:
        h.second = std::move(replaced);
        return false;
      case Inbound::keep:
        return false;
    }
    return false;
  });
  auto add = identity_headers(d, names, assertion);
  headers.insert(headers.end(), std::make_move_iterator(add.begin()),
                 std::make_move_iterator(add.end()));
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
