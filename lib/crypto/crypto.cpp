#include "crypto/crypto.h"

#include <sodium.h>

#include <cstdlib>
#include <mutex>

#include "core/text.h"

namespace crypto {

void init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) std::abort();
  });
}

Key generate_private() {
  init();
  Key k;
  randombytes_buf(k.data(), k.size());
  k[0] &= 248;
  k[31] &= 127;
  k[31] |= 64;
  return k;
}

Key public_from_private(const Key& priv) {
  init();
  Key pub;
  crypto_scalarmult_base(pub.data(), priv.data());
  return pub;
}

KeyPair generate_keypair() {
  KeyPair kp;
  kp.priv = generate_private();
  kp.pub = public_from_private(kp.priv);
  return kp;
}

std::string key_to_base64(const Key& k) {
  return core::base64(k);
}

core::Result<Key> key_from_base64(std::string_view s) {
  s = core::trim(s);
  auto b = core::unbase64(s);
  if (s.size() != 44 || !b || b->size() != 32)
    return core::Error(core::Errc::data, "bad key: expected 32 bytes in base64 (44 characters)");
  Key k;
  std::copy(b->begin(), b->end(), k.begin());
  return k;
}

std::string fingerprint(const Key& pub) {
  return key_to_base64(pub).substr(0, 8) + "…";
}

core::Result<std::string> hash_password(std::string_view password) {
  init();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    return core::Error(core::Errc::tempfail, "argon2id: out of memory");
  return std::string(out);
}

bool verify_password(std::string_view hash, std::string_view password) {
  init();
  std::string h(hash);
  if (h.size() >= crypto_pwhash_STRBYTES) return false;
  return crypto_pwhash_str_verify(h.c_str(), password.data(), password.size()) == 0;
}

bool equal(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool equal(std::string_view a, std::string_view b) {
  return equal(core::as_bytes(a), core::as_bytes(b));
}

void random_bytes(std::span<uint8_t> out) {
  init();
  randombytes_buf(out.data(), out.size());
}

std::string random_token(size_t n) {
  std::vector<uint8_t> b(n);
  random_bytes(b);
  return core::base64url(b);
}

std::string hash_hex(std::string_view data) {
  init();
  uint8_t out[32];
  crypto_generichash(out, sizeof out, reinterpret_cast<const uint8_t*>(data.data()), data.size(),
                     nullptr, 0);
  return core::hex(out);
}

void wipe(void* p, size_t n) {
  sodium_memzero(p, n);
}

}  // namespace crypto
