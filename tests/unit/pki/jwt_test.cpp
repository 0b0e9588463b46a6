#include <boost/json.hpp>

#include "../support.h"
#include "core/text.h"
#include "pki/jwt.h"

namespace json = boost::json;

namespace {
constexpr std::time_t kNow = 1795399200;

jwt::SigningKey key(jwt::Alg a) {
  auto k = pki::generate_key(a == jwt::Alg::EdDSA ? pki::KeyType::ed25519 : pki::KeyType::p256);
  REQUIRE(k);
  return {*k, a, "k1"};
}
std::vector<jwt::VerifyKey> pub(const jwt::SigningKey& k) {
  return {{k.key, k.alg, k.kid}};
}
}  // namespace

TEST_CASE("tokens sign and verify with EdDSA and ES256", "[jwt]") {
  for (auto a : {jwt::Alg::EdDSA, jwt::Alg::ES256}) {
    auto k = key(a);
    json::object c{{"sub", "alice"}, {"aud", "edge"}, {"exp", kNow + 60}, {"nbf", kNow}};
    auto t = jwt::sign(c, k);
    REQUIRE(t);
    jwt::VerifyOptions o{kNow, {"edge"}};
    auto p = jwt::verify(*t, pub(k), o);
    REQUIRE(p);
    REQUIRE(p->claims["sub"].as_string() == "alice");
    REQUIRE(p->header["alg"].as_string() == jwt::alg_name(a));
    REQUIRE(p->signature.size() == 64);
  }
}

TEST_CASE("verification failures say why", "[jwt]") {
  auto k = key(jwt::Alg::EdDSA);
  auto other = key(jwt::Alg::EdDSA);
  json::object c{{"sub", "a"}, {"aud", json::array{"x", "edge"}}, {"exp", kNow + 60}};
  auto t = *jwt::sign(c, k);
  auto why = [&](std::string tok, jwt::VerifyOptions o, const jwt::SigningKey& kk) {
    auto r = jwt::verify(tok, pub(kk), o);
    REQUIRE_FALSE(r);
    return r.error().message;
  };
  REQUIRE(why(t, {kNow + 3600}, k).find("expired") != std::string::npos);
  REQUIRE(why(t, {kNow, {"nope"}}, k).find("audience") != std::string::npos);
  REQUIRE(why(t, {kNow}, other) == "bad signature");
  REQUIRE(jwt::verify(t, pub(k), {kNow, {"edge"}}));  // audience array matches
  // Tamper with the claims: signature no longer matches.
  auto d1 = t.find('.'), d2 = t.rfind('.');
  std::string forged = t.substr(0, d1 + 1) +
                       core::base64url(core::as_bytes(R"({"sub":"root","exp":9999999999})")) +
                       t.substr(d2);
  REQUIRE(why(forged, {kNow}, k) == "bad signature");
  // alg none and unknown algorithms are refused.
  std::string none = core::base64url(core::as_bytes(R"({"alg":"none"})")) + "." +
                     t.substr(d1 + 1, d2 - d1 - 1) + ".";
  REQUIRE(why(none, {kNow}, k).find("not accepted") != std::string::npos);
  // An ES256 key does not verify an EdDSA token (no algorithm confusion).
  auto es = key(jwt::Alg::ES256);
  REQUIRE(jwt::verify(t, pub(es), {kNow}).error().message.find("no key") != std::string::npos);
  // nbf in the future.
  auto later = *jwt::sign(json::object{{"nbf", kNow + 600}}, k);
  REQUIRE(why(later, {kNow}, k).find("not valid before") != std::string::npos);
  auto badexp = *jwt::sign(json::object{{"exp", "tomorrow"}}, k);
  REQUIRE(why(badexp, {kNow}, k).find("not a number") != std::string::npos);
}

TEST_CASE("malformed tokens are bad data, not crashes", "[jwt]") {
  for (const char* s : {"", "a", "a.b", "a.b.c.d", "!!.!!.!!", "e30.e30.", "W10.e30.AA"}) {
    auto r = jwt::parse(s);
    REQUIRE_FALSE(r);
    REQUIRE(r.error().code == core::Errc::data);
  }
}

TEST_CASE("JWK export and import round-trip with RFC 7638 thumbprints", "[jwt]") {
  for (auto a : {jwt::Alg::EdDSA, jwt::Alg::ES256}) {
    auto k = key(a);
    auto j = jwt::to_jwk(k.key, "");
    REQUIRE(j);
    REQUIRE((*j)["kid"].as_string() == jwt::thumbprint(k.key));
    json::object set{{"keys", json::array{*j}}};
    auto keys = jwt::parse_jwks(json::serialize(set));
    REQUIRE(keys);
    REQUIRE(keys->size() == 1);
    auto t = jwt::sign(json::object{{"sub", "x"}}, {k.key, a, (*keys)[0].kid});
    REQUIRE(jwt::verify(*t, *keys, {kNow}));
  }
  REQUIRE_FALSE(jwt::parse_jwks(R"({"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]})"));
  REQUIRE_FALSE(jwt::parse_jwks("[]"));
}

TEST_CASE("RFC 8037 A.3: Ed25519 JWK thumbprint", "[jwt]") {
  // RFC 8037 appendix A.2/A.3: public key and its RFC 7638 thumbprint.
  auto keys = jwt::parse_jwks(
      R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})");
  REQUIRE(keys);
  REQUIRE((*keys)[0].kid == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
}
