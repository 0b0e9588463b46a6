// crypto — libsodium wrappers: X25519 keys in the `wg genkey` base64 text form, argon2id
// password hashing, constant-time comparison, random tokens. Thread-safe (init() is idempotent).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"

namespace crypto {

// Initialises libsodium once; aborts the process if the library cannot initialise.
void init();

using Key = std::array<uint8_t, 32>;

struct KeyPair {
  Key priv;
  Key pub;
};

// A new X25519 private key, clamped as `wg genkey` does.
Key generate_private();
Key public_from_private(const Key& priv);
KeyPair generate_keypair();

// 44-character base64 (standard alphabet, padded) as `wg` prints; parse accepts only that form.
std::string key_to_base64(const Key& k);
core::Result<Key> key_from_base64(std::string_view s);
// Short fingerprint for logs: first 8 characters of the base64 public key + "…".
std::string fingerprint(const Key& pub);

// argon2id (crypto_pwhash_str, interactive limits by default): "$argon2id$v=19$m=…".
core::Result<std::string> hash_password(std::string_view password);
bool verify_password(std::string_view hash, std::string_view password);

// Constant-time equality (length leaks, contents do not).
bool equal(std::span<const uint8_t> a, std::span<const uint8_t> b);
bool equal(std::string_view a, std::string_view b);

void random_bytes(std::span<uint8_t> out);
// n random bytes as base64url without padding (a URL- and cookie-safe token).
std::string random_token(size_t n = 32);

// BLAKE2b-256 of data, as hex (used to store session tokens as hashes).
std::string hash_hex(std::string_view data);

// Wipes memory (sodium_memzero).
void wipe(void* p, size_t n);

}  // namespace crypto
