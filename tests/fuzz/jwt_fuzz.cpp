// Fuzz target: JWT compact parsing and JWK/JWKS import (tokens arrive from anyone).
#include <cstdint>
#include <string_view>

#include "pki/jwt.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)jwt::parse(in);
  (void)jwt::parse_jwks(in);
  static const std::vector<jwt::VerifyKey> keys = [] {
    auto k = pki::generate_key(pki::KeyType::ed25519);
    return std::vector<jwt::VerifyKey>{{*k, jwt::Alg::EdDSA, ""}};
  }();
  (void)jwt::verify(in, keys, {1795399200});
  return 0;
}
