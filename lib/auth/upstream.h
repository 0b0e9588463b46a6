// auth upstream — what an allowed request carries to the upstream: identity headers (names
// configurable; inbound copies stripped, also their underscore spellings), the session cookie
// and share-token headers removed, and an optional signed JWT assertion (pki/jwt.h, EdDSA) the
// upstream can verify against the published JWKS. Pure functions; any thread.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/auth.h"
#include "core/result.h"
#include "pki/jwt.h"

namespace auth {

struct HeaderNames {
  std::string user = "Remote-User";
  std::string email = "Remote-Email";
  std::string name = "Remote-Name";
  std::string role = "Remote-Role";  // roles joined with ","
  std::string assertion = "Warren-Jwt-Assertion";
};

using OwnedHeader = std::pair<std::string, std::string>;

// Rewrites the request headers for the upstream, in place:
// - removes every header named like one of `names` or starting with "Remote-"
//   (case-insensitive, '_' taken as '-'), whatever the decision, so a client can never assert
//   an identity itself;
// - removes the share-token header pair and the session cookie (this resource's name and the
//   default ones; Cookie headers left empty are dropped), and Authorization when Basic
//   authenticated the request;
// - when the decision allowed an identified request, appends the identity headers (control
//   characters removed from values; empty values omitted) and `assertion` when not empty.
void rewrite_upstream_headers(std::vector<OwnedHeader>& headers, const Decision& d,
                              const Policy& policy, bool tls, const HeaderNames& names = {},
                              std::string_view assertion = {});

// The rule of rewrite_upstream_headers for one inbound header (for callers that keep headers
// as views): drop it, keep it, or replace its value with `replaced` (a Cookie header without
// `session_cookie`, the name cookie_name() gives).
// Routes without access control apply the same rule with a default Decision and Policy: the
// identity, assertion and share-token headers and the session cookie reach no upstream.
enum class Inbound : uint8_t { keep, drop, replace };
Inbound inbound_header(std::string_view name, std::string_view value, const Decision& d,
                       const Policy& policy, std::string_view session_cookie,
                       const HeaderNames& names, std::string& replaced);
// The identity headers an allowed decision adds (none for other outcomes).
std::vector<OwnedHeader> identity_headers(const Decision& d, const HeaderNames& names,
                                          std::string_view assertion = {});

// Claims of the identity assertion: iss, sub, aud, iat, nbf, exp (= now + ttl), jti, email,
// name, roles, amr (the method), and uid for Warren users.
boost::json::object assertion_claims(const Decision& d, std::string_view issuer,
                                     std::string_view audience, int64_t now, int64_t ttl = 60);
// The signed compact JWT of assertion_claims.
core::Result<std::string> assertion(const Decision& d, const jwt::SigningKey& key,
                                    std::string_view issuer, std::string_view audience, int64_t now,
                                    int64_t ttl = 60);

}  // namespace auth
