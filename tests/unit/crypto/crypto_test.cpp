#include "../support.h"

#include "core/text.h"
#include "crypto/crypto.h"

TEST_CASE("keys round-trip in the wg base64 form", "[crypto]") {
  auto kp = crypto::generate_keypair();
  std::string s = crypto::key_to_base64(kp.priv);
  REQUIRE(s.size() == 44);
  auto back = crypto::key_from_base64(s);
  REQUIRE(back);
  REQUIRE(*back == kp.priv);
  REQUIRE((kp.priv[0] & 7) == 0);
  REQUIRE((kp.priv[31] & 0xc0) == 0x40);
  REQUIRE(crypto::public_from_private(kp.priv) == kp.pub);
}

TEST_CASE("X25519 public key matches RFC 7748 test vector", "[crypto]") {
  // RFC 7748 section 6.1: Alice's private and public keys.
  auto priv = core::unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  REQUIRE(priv);
  crypto::Key k;
  std::copy(priv->begin(), priv->end(), k.begin());
  auto pub = crypto::public_from_private(k);
  REQUIRE(core::hex(pub) == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
}

TEST_CASE("bad keys are rejected with a reason", "[crypto]") {
  REQUIRE_FALSE(crypto::key_from_base64("short"));
  REQUIRE_FALSE(crypto::key_from_base64("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!="));
  auto e = crypto::key_from_base64("AAAA");
  REQUIRE(e.error().code == core::Errc::data);
}

TEST_CASE("argon2id hashes verify and reject", "[crypto]") {
  auto h = crypto::hash_password("correct horse");
  REQUIRE(h);
  REQUIRE(h->rfind("$argon2id$", 0) == 0);
  REQUIRE(crypto::verify_password(*h, "correct horse"));
  REQUIRE_FALSE(crypto::verify_password(*h, "correct horsE"));
  REQUIRE_FALSE(crypto::verify_password("garbage", "x"));
}

TEST_CASE("constant-time compare and tokens", "[crypto]") {
  REQUIRE(crypto::equal("abc", "abc"));
  REQUIRE_FALSE(crypto::equal("abc", "abd"));
  REQUIRE_FALSE(crypto::equal("abc", "abcd"));
  auto t1 = crypto::random_token(32), t2 = crypto::random_token(32);
  REQUIRE(t1.size() == 43);
  REQUIRE(t1 != t2);
  REQUIRE(t1.find_first_of("+/=") == std::string::npos);
}
