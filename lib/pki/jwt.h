// jwt — compact JWS tokens (RFC 7515/7519) signed with EdDSA (Ed25519) or ES256 (P-256), JWK
// and JWKS (RFC 7517) with RFC 7638 thumbprints as key ids. Pure functions over pki::Key;
// `now` is passed in. The parser never trusts the header's "alg" beyond matching a known key.
// Part of lib/pki (the CA signs tokens with these keys); the namespace stays jwt.
#pragma once

#include <boost/json/object.hpp>

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "pki/pki.h"

namespace jwt {

enum class Alg { EdDSA, ES256 };
core::Result<Alg> parse_alg(std::string_view s);
const char* alg_name(Alg a);
// The algorithm a key signs with: Ed25519 -> EdDSA, P-256 -> ES256; others are refused.
core::Result<Alg> alg_for(const pki::Key& k);

struct SigningKey {
  pki::Key key;  // private
  Alg alg = Alg::EdDSA;
  std::string kid;
};

// header {"alg","typ":"JWT","kid"} . claims . signature
core::Result<std::string> sign(const boost::json::object& claims, const SigningKey& k);

struct Parsed {
  boost::json::object header;
  boost::json::object claims;
  std::string signing_input;  // base64url(header) "." base64url(claims)
  std::vector<uint8_t> signature;
};
// Structure only (three base64url parts, JSON objects, size limits): Errc::data on any fault.
core::Result<Parsed> parse(std::string_view token);

struct VerifyKey {
  pki::Key key;  // public
  Alg alg = Alg::EdDSA;
  std::string kid;
};

struct VerifyOptions {
  std::time_t now = 0;
  std::vector<std::string> audiences;  // when non-empty, "aud" must contain one of them
  std::string issuer;                  // when non-empty, "iss" must equal it
  int64_t leeway = 60;                 // seconds of clock skew allowed for exp/nbf/iat
};

// Checks signature (kid must match when present), exp, nbf, iat, aud, iss. Failure of a
// check -> Errc::failure with the reason ("token expired", "bad signature", …).
core::Result<Parsed> verify(std::string_view token, const std::vector<VerifyKey>& keys,
                            const VerifyOptions& opt);

std::string thumbprint(const pki::Key& pub);  // RFC 7638, base64url SHA-256
core::Result<boost::json::object> to_jwk(const pki::Key& pub, const std::string& kid);
core::Result<VerifyKey> from_jwk(const boost::json::object& jwk);
// A JWKS document {"keys":[...]} or a single JWK.
core::Result<std::vector<VerifyKey>> parse_jwks(std::string_view json);

}  // namespace jwt
