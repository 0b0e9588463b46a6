// auth upstream — what an allowed request carries to the upstream: identity headers (names
// configurable; inbound copies stripped, also their underscore spellings), the session cookie
// and share-token headers removed, and an optional signed JWT assertion (lib/jwt, EdDSA) the
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
#include "jwt/jwt.h"

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
// - removes every header named like one of `names` (case-insensitive, '_' taken as '-'),
//   whatever the decision, so a client can never assert an identity itself;
// - removes the share-token header pair and this resource's session cookie (Cookie headers
//   left empty are dropped), and Authorization when Basic authenticated the request;
// - when the decision allowed an identified request, appends the identity headers (control
//   characters removed from values; empty values omitted) and `assertion` when not empty.
void rewrite_upstream_headers(std::vector<OwnedHeader>& headers, const Decision& d,
                              const Policy& policy, bool tls, const HeaderNames& names = {},
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
