#include "pki/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include <boost/json.hpp>

#include "core/text.h"

namespace jwt {

using core::Errc;
using core::Error;
using core::Result;
namespace json = boost::json;

constexpr size_t kMaxToken = 64 * 1024;

Result<Alg> parse_alg(std::string_view s) {
  if (s == "EdDSA") return Alg::EdDSA;
  if (s == "ES256") return Alg::ES256;
  return Error(Errc::usage,
               "unsupported algorithm \"" + std::string(s) + "\" (use EdDSA or ES256)");
}

const char* alg_name(Alg a) {
  return a == Alg::EdDSA ? "EdDSA" : "ES256";
}

Result<Alg> alg_for(const pki::Key& k) {
  switch (EVP_PKEY_get_base_id(k.get())) {
    case EVP_PKEY_ED25519:
      return Alg::EdDSA;
    case EVP_PKEY_EC: {
      char group[64] = {0};
      size_t len = 0;
      EVP_PKEY_get_utf8_string_param(k.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                     &len);
      std::string g(group);
      if (g == "prime256v1" || g == "P-256") return Alg::ES256;
      return Error(Errc::data, "EC key on curve " + g + " cannot sign ES256");
    }
    default:
      return Error(Errc::data, "key type cannot sign JWTs (use Ed25519 or P-256)");
  }
}

namespace {
struct MdCtx {
  EVP_MD_CTX* c = EVP_MD_CTX_new();
  ~MdCtx() { EVP_MD_CTX_free(c); }
};

std::string b64(std::string_view s) {
  return core::base64url(core::as_bytes(s));
}

Result<std::vector<uint8_t>> raw_sign(const pki::Key& k, Alg alg, std::string_view data) {
  MdCtx ctx;
  const EVP_MD* md = alg == Alg::EdDSA ? nullptr : EVP_sha256();
  if (EVP_DigestSignInit(ctx.c, nullptr, md, nullptr, k.get()) != 1)
    return Error(Errc::internal, "sign init: " + pki::ssl_error());
  size_t len = 0;
  auto* d = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_DigestSign(ctx.c, nullptr, &len, d, data.size()) != 1)
    return Error(Errc::internal, "sign: " + pki::ssl_error());
  std::vector<uint8_t> sig(len);
  if (EVP_DigestSign(ctx.c, sig.data(), &len, d, data.size()) != 1)
    return Error(Errc::internal, "sign: " + pki::ssl_error());
  sig.resize(len);
  if (alg == Alg::EdDSA) return sig;
  // DER ECDSA-Sig-Value -> raw r||s (32 bytes each), as JWS requires.
  const unsigned char* p = sig.data();
  ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  if (!es) return Error(Errc::internal, "ECDSA signature decode");
  std::vector<uint8_t> raw(64);
  BN_bn2binpad(ECDSA_SIG_get0_r(es), raw.data(), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(es), raw.data() + 32, 32);
  ECDSA_SIG_free(es);
  return raw;
}

bool raw_verify(const pki::Key& k, Alg alg, std::string_view data,
                const std::vector<uint8_t>& sig) {
  std::vector<uint8_t> der;
  if (alg == Alg::ES256) {
    if (sig.size() != 64) return false;
    ECDSA_SIG* es = ECDSA_SIG_new();
    ECDSA_SIG_set0(es, BN_bin2bn(sig.data(), 32, nullptr), BN_bin2bn(sig.data() + 32, 32, nullptr));
    unsigned char* out = nullptr;
    int n = i2d_ECDSA_SIG(es, &out);
    ECDSA_SIG_free(es);
    if (n <= 0) return false;
    der.assign(out, out + n);
    OPENSSL_free(out);
  } else {
    if (sig.size() != 64) return false;
    der = sig;
  }
  MdCtx ctx;
  const EVP_MD* md = alg == Alg::EdDSA ? nullptr : EVP_sha256();
  if (EVP_DigestVerifyInit(ctx.c, nullptr, md, nullptr, k.get()) != 1) {
    ERR_clear_error();
    return false;
  }
  int ok = EVP_DigestVerify(ctx.c, der.data(), der.size(),
                            reinterpret_cast<const unsigned char*>(data.data()), data.size());
  ERR_clear_error();
  return ok == 1;
}

Result<json::object> parse_obj(std::string_view b64part, const char* what) {
  auto raw = core::unbase64url(b64part);
  if (!raw) return Error(Errc::data, std::string("token ") + what + " is not base64url");
  boost::system::error_code ec;
  json::value v =
      json::parse(std::string_view(reinterpret_cast<const char*>(raw->data()), raw->size()), ec);
  if (ec || !v.is_object())
    return Error(Errc::data, std::string("token ") + what + " is not a JSON object");
  return v.as_object();
}

std::optional<int64_t> num_claim(const json::object& o, const char* k) {
  auto it = o.find(k);
  if (it == o.end()) return std::nullopt;
  if (it->value().is_int64()) return it->value().as_int64();
  if (it->value().is_uint64()) return static_cast<int64_t>(it->value().as_uint64());
  if (it->value().is_double()) return static_cast<int64_t>(it->value().as_double());
  return std::numeric_limits<int64_t>::min();  // present but not a number
}
}  // namespace

Result<std::string> sign(const json::object& claims, const SigningKey& k) {
  json::object header;
  header["alg"] = alg_name(k.alg);
  header["typ"] = "JWT";
  if (!k.kid.empty()) header["kid"] = k.kid;
  std::string input = b64(json::serialize(header)) + "." + b64(json::serialize(claims));
  WARREN_TRY(sig, raw_sign(k.key, k.alg, input));
  return input + "." + core::base64url(sig);
}

Result<Parsed> parse(std::string_view token) {
  token = core::trim(token);
  if (token.size() > kMaxToken) return Error(Errc::data, "token too long");
  auto d1 = token.find('.');
  auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d1 == std::string_view::npos || d2 == std::string_view::npos ||
      token.find('.', d2 + 1) != std::string_view::npos)
    return Error(Errc::data, "not a JWT: expected three dot-separated parts");
  Parsed p;
  WARREN_TRY(h, parse_obj(token.substr(0, d1), "header"));
  WARREN_TRY(c, parse_obj(token.substr(d1 + 1, d2 - d1 - 1), "claims"));
  auto sig = core::unbase64url(token.substr(d2 + 1));
  if (!sig) return Error(Errc::data, "token signature is not base64url");
  auto alg = h.find("alg");
  if (alg == h.end() || !alg->value().is_string())
    return Error(Errc::data, "token header has no \"alg\"");
  p.header = std::move(h);
  p.claims = std::move(c);
  p.signing_input = std::string(token.substr(0, d2));
  p.signature = std::move(*sig);
  return p;
}

Result<Parsed> verify(std::string_view token, const std::vector<VerifyKey>& keys,
                      const VerifyOptions& opt) {
  WARREN_TRY(p, parse(token));
  std::string alg(p.header["alg"].as_string());
  auto a = parse_alg(alg);
  if (!a) return Error(Errc::failure, "algorithm \"" + alg + "\" is not accepted");
  std::string kid;
  if (auto it = p.header.find("kid"); it != p.header.end() && it->value().is_string())
    kid = std::string(it->value().as_string());
  bool tried = false, ok = false;
  for (const auto& k : keys) {
    if (k.alg != *a) continue;
    if (!kid.empty() && !k.kid.empty() && k.kid != kid) continue;
    tried = true;
    if (raw_verify(k.key, k.alg, p.signing_input, p.signature)) {
      ok = true;
      break;
    }
  }
  if (!tried) return Error(Errc::failure, "no key for kid \"" + kid + "\" and alg " + alg);
  if (!ok) return Error(Errc::failure, "bad signature");
  const auto& c = p.claims;
  constexpr int64_t kBad = std::numeric_limits<int64_t>::min();
  for (const char* k : {"exp", "nbf", "iat"})
    if (auto v = num_claim(c, k); v && *v == kBad)
      return Error(Errc::failure, std::string("claim \"") + k + "\" is not a number");
  if (auto exp = num_claim(c, "exp"); exp && opt.now > *exp + opt.leeway)
    return Error(Errc::failure, "token expired at " + core::rfc3339(*exp));
  if (auto nbf = num_claim(c, "nbf"); nbf && opt.now + opt.leeway < *nbf)
    return Error(Errc::failure, "token not valid before " + core::rfc3339(*nbf));
  if (auto iat = num_claim(c, "iat"); iat && opt.now + opt.leeway < *iat)
    return Error(Errc::failure, "token issued in the future");
  if (!opt.issuer.empty()) {
    auto it = c.find("iss");
    if (it == c.end() || !it->value().is_string() || it->value().as_string() != opt.issuer)
      return Error(Errc::failure, "issuer does not match");
  }
  if (!opt.audiences.empty()) {
    bool match = false;
    if (auto it = c.find("aud"); it != c.end()) {
      auto has = [&](const json::value& v) {
        if (!v.is_string()) return false;
        for (auto& a2 : opt.audiences)
          if (v.as_string() == a2) return true;
        return false;
      };
      if (it->value().is_array()) {
        for (auto& v : it->value().as_array()) match |= has(v);
      } else {
        match = has(it->value());
      }
    }
    if (!match) return Error(Errc::failure, "audience does not match");
  }
  return p;
}

static Result<std::pair<std::string, std::string>> ec_xy(const pki::Key& k) {
  uint8_t buf[65];
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(k.get(), OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof buf, &len) !=
          1 ||
      len != 65 || buf[0] != 4) {
    // Compressed form: ask for uncompressed.
    EVP_PKEY_set_utf8_string_param(k.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                   "uncompressed");
    if (EVP_PKEY_get_octet_string_param(k.get(), OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof buf, &len) !=
            1 ||
        len != 65)
      return Error(Errc::internal, "EC public key");
  }
  return std::make_pair(core::base64url({buf + 1, 32}), core::base64url({buf + 33, 32}));
}

std::string thumbprint(const pki::Key& pub) {
  std::string canon;
  if (EVP_PKEY_get_base_id(pub.get()) == EVP_PKEY_ED25519) {
    uint8_t raw[32];
    size_t len = sizeof raw;
    EVP_PKEY_get_raw_public_key(pub.get(), raw, &len);
    canon = R"({"crv":"Ed25519","kty":"OKP","x":")" + core::base64url({raw, len}) + "\"}";
  } else {
    auto xy = ec_xy(pub);
    if (!xy) return "";
    canon = R"({"crv":"P-256","kty":"EC","x":")" + xy->first + R"(","y":")" + xy->second + "\"}";
  }
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(canon.data()), canon.size(), md);
  return core::base64url(md);
}

Result<json::object> to_jwk(const pki::Key& pub, const std::string& kid) {
  WARREN_TRY(alg, alg_for(pub));
  json::object j;
  if (alg == Alg::EdDSA) {
    uint8_t raw[32];
    size_t len = sizeof raw;
    EVP_PKEY_get_raw_public_key(pub.get(), raw, &len);
    j["kty"] = "OKP";
    j["crv"] = "Ed25519";
    j["x"] = core::base64url({raw, len});
  } else {
    WARREN_TRY(xy, ec_xy(pub));
    j["kty"] = "EC";
    j["crv"] = "P-256";
    j["x"] = xy.first;
    j["y"] = xy.second;
  }
  j["use"] = "sig";
  j["alg"] = alg_name(alg);
  j["kid"] = kid.empty() ? thumbprint(pub) : kid;
  return j;
}

Result<VerifyKey> from_jwk(const json::object& j) {
  auto str = [&](const char* k) -> std::string {
    auto it = j.find(k);
    return it != j.end() && it->value().is_string() ? std::string(it->value().as_string()) : "";
  };
  std::string kty = str("kty"), crv = str("crv");
  VerifyKey vk;
  vk.kid = str("kid");
  if (kty == "OKP" && crv == "Ed25519") {
    auto x = core::unbase64url(str("x"));
    if (!x || x->size() != 32) return Error(Errc::data, "JWK: bad Ed25519 \"x\"");
    EVP_PKEY* k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, x->data(), x->size());
    if (!k) return Error(Errc::data, "JWK: bad Ed25519 key");
    vk.key = pki::Key(k);
    vk.alg = Alg::EdDSA;
  } else if (kty == "EC" && crv == "P-256") {
    auto x = core::unbase64url(str("x")), y = core::unbase64url(str("y"));
    if (!x || !y || x->size() != 32 || y->size() != 32)
      return Error(Errc::data, "JWK: bad P-256 coordinates");
    uint8_t pt[65];
    pt[0] = 4;
    std::copy(x->begin(), x->end(), pt + 1);
    std::copy(y->begin(), y->end(), pt + 33);
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt);
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
    EVP_PKEY* k = nullptr;
    bool ok = ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
              EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) == 1;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    if (!ok || !k) {
      ERR_clear_error();
      return Error(Errc::data, "JWK: P-256 point is not on the curve");
    }
    vk.key = pki::Key(k);
    vk.alg = Alg::ES256;
  } else {
    return Error(Errc::data, "JWK: unsupported key (kty " + kty + ", crv " + crv + ")");
  }
  vk.key.set_has_private(false);
  if (vk.kid.empty()) vk.kid = thumbprint(vk.key);
  return vk;
}

Result<std::vector<VerifyKey>> parse_jwks(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return Error(Errc::data, "JWKS: not a JSON object");
  std::vector<VerifyKey> out;
  auto& o = v.as_object();
  if (auto it = o.find("keys"); it != o.end()) {
    if (!it->value().is_array()) return Error(Errc::data, "JWKS: \"keys\" is not an array");
    for (auto& k : it->value().as_array()) {
      if (!k.is_object()) return Error(Errc::data, "JWKS: a key is not an object");
      WARREN_TRY(vk, from_jwk(k.as_object()));
      out.push_back(std::move(vk));
    }
  } else {
    WARREN_TRY(vk, from_jwk(o));
    out.push_back(std::move(vk));
  }
  if (out.empty()) return Error(Errc::data, "JWKS: no keys");
  return out;
}

}  // namespace jwt
