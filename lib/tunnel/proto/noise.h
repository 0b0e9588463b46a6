// Noise IK and IKpsk2 (Noise spec rev 34) with X25519 and BLAKE2b from libsodium and the AEAD
// (ChaCha20-Poly1305 or AES-256-GCM) from OpenSSL 3's EVP interface. Pure computation, no I/O.
// An Aead/CipherState/Handshake belongs to one session and is used by one thread at a time; each
// keeps its EVP context alive for its whole life (no context is created per message).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "crypto/crypto.h"
#include "tunnel/proto/wire.h"

struct evp_cipher_ctx_st;  // OpenSSL's EVP_CIPHER_CTX, kept out of this header

namespace tunnel::proto {

inline constexpr size_t kKeyLen = 32;
inline constexpr size_t kHashLen = 64;    // BLAKE2b-512
inline constexpr size_t kBlockLen = 128;  // BLAKE2b block, for HMAC

using Key = crypto::Key;
using Hash = std::array<uint8_t, kHashLen>;

enum class Cipher : uint8_t { chachapoly, aesgcm };

// The handshake suites, by the id carried in the handshake-init message.
enum class Suite : uint8_t {
  ik_chachapoly_blake2b = 1,      // Noise_IK_25519_ChaChaPoly_BLAKE2b (default)
  ik_aesgcm_blake2b = 2,          // Noise_IK_25519_AESGCM_BLAKE2b
  ikpsk2_chachapoly_blake2b = 3,  // Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b
  ikpsk2_aesgcm_blake2b = 4,      // Noise_IKpsk2_25519_AESGCM_BLAKE2b
};
Cipher cipher_of(Suite s);
bool uses_psk(Suite s);
std::string protocol_name(Suite s);
// The suite for a Noise protocol name, or nullopt if this implementation does not speak it.
std::optional<Suite> suite_from_name(std::string_view name);
std::optional<Suite> suite_from_id(uint8_t id);

// BLAKE2b-512 and HMAC/HKDF over it exactly as the Noise spec defines them.
Hash blake2b(std::span<const uint8_t> a, std::span<const uint8_t> b = {});
Hash hmac_blake2b(std::span<const uint8_t> key, std::span<const uint8_t> data,
                  std::span<const uint8_t> data2 = {});
// HKDF(ck, ikm) -> 2 or 3 outputs of HASHLEN bytes.
void hkdf(const Hash& ck, std::span<const uint8_t> ikm, Hash& out1, Hash& out2,
          Hash* out3 = nullptr);

// One AEAD key schedule in an EVP context that is reused for every message. The nonce encoding
// follows Noise: 4 zero bytes then the 64-bit counter, little-endian for ChaChaPoly and
// big-endian for AESGCM. In-place operation (out == in) is supported.
class Aead {
 public:
  explicit Aead(Cipher c);
  ~Aead();
  Aead(Aead&& o) noexcept;
  Aead& operator=(Aead&& o) noexcept;
  Aead(const Aead&) = delete;
  Aead& operator=(const Aead&) = delete;

  Cipher cipher() const { return cipher_; }
  void set_key(const Key& key);
  // Encrypts in[0,n) to out[0,n) and writes the tag to tag[0,16).
  void seal(uint64_t nonce, std::span<const uint8_t> ad, const uint8_t* in, size_t n, uint8_t* out,
            uint8_t* tag);
  // Decrypts and authenticates; false on a bad tag (out then holds garbage; discard it).
  bool open(uint64_t nonce, std::span<const uint8_t> ad, const uint8_t* in, size_t n, uint8_t* out,
            const uint8_t* tag);

 private:
  void ensure_mode(int enc);
  Cipher cipher_;
  evp_cipher_ctx_st* ctx_ = nullptr;
  Key key_{};
  int mode_ = -1;  // 1 encrypting, 0 decrypting, -1 not initialised for the current key
};

// Noise CipherState: a key (or none) and a nonce counter.
class CipherState {
 public:
  explicit CipherState(Cipher c) : aead_(c) {}
  void initialize_key(const Key& k);
  bool has_key() const { return has_key_; }
  uint64_t nonce() const { return n_; }
  // EncryptWithAd: writes n + 16 bytes to out (out may equal in). False only when the nonce is
  // exhausted (2^64 − 1 is reserved).
  bool encrypt(std::span<const uint8_t> ad, const uint8_t* in, size_t n, uint8_t* out);
  // DecryptWithAd: in holds n bytes of ciphertext followed by the tag; writes n bytes to out.
  bool decrypt(std::span<const uint8_t> ad, const uint8_t* in, size_t n, uint8_t* out);
  // Noise Rekey(): k = first 32 bytes of ENCRYPT(k, 2^64 − 1, "", 32 zero bytes).
  void rekey();
  const Key& key() const { return k_; }

 private:
  Aead aead_;
  Key k_{};
  bool has_key_ = false;
  uint64_t n_ = 0;
};

// The transport keys of an established session, oriented for one side.
struct TransportKeys {
  Key send;
  Key recv;
};

// Noise_IK[psk2]_25519_<cipher>_BLAKE2b handshake for one side. Message buffers are appended to;
// payloads are plain bytes. Every failure returns a Fault and leaves the object unusable.
class Handshake {
 public:
  enum class Role { initiator, responder };
  struct Config {
    Suite suite = Suite::ik_chachapoly_blake2b;
    Role role = Role::initiator;
    Key static_priv{};
    std::optional<Key> remote_static;  // the responder's key; required for the initiator
    std::vector<uint8_t> prologue;
    std::optional<Key> ephemeral_priv;  // tests only: a fixed ephemeral key
    std::optional<Key> psk;             // IKpsk2; the responder may set it late (set_psk)
  };

  explicit Handshake(Config cfg);
  ~Handshake();

  // Initiator: -> e, es, s, ss, payload. Appends 32 + 48 + payload + 16 bytes to out.
  Fault write_message1(std::span<const uint8_t> payload, std::vector<uint8_t>& out);
  // Responder. on_static runs as soon as the initiator's static key is decrypted, before the
  // payload is trusted; a Fault it returns stops the handshake.
  Fault read_message1(std::span<const uint8_t> msg, std::vector<uint8_t>& payload,
                      const std::function<Fault(const Key&)>& on_static = {});
  void set_psk(const Key& psk) { cfg_.psk = psk; }
  // Responder: <- e, ee, se, [psk], payload. Appends 32 + payload + 16 bytes.
  Fault write_message2(std::span<const uint8_t> payload, std::vector<uint8_t>& out);
  // Initiator.
  Fault read_message2(std::span<const uint8_t> msg, std::vector<uint8_t>& payload);

  bool done() const { return step_ == 2; }
  const Hash& handshake_hash() const { return h_; }
  const Key& remote_static() const { return rs_; }
  // Split(): the two transport keys, send/recv for this side. Only after done().
  TransportKeys split() const;

 private:
  void mix_hash(std::span<const uint8_t> data);
  void mix_key(std::span<const uint8_t> ikm);
  void mix_key_and_hash(std::span<const uint8_t> ikm);
  bool encrypt_and_hash(std::span<const uint8_t> plain, std::vector<uint8_t>& out);
  bool decrypt_and_hash(std::span<const uint8_t> cipher, std::vector<uint8_t>& out);
  Fault dh(const Key& priv, const Key& pub, Key& out);
  void make_ephemeral();

  Config cfg_;
  Hash ck_{};
  Hash h_{};
  CipherState cs_;
  Key s_pub_{};
  Key e_priv_{};
  Key e_pub_{};
  Key rs_{};
  Key re_{};
  int step_ = 0;  // messages processed
  bool failed_ = false;
};

}  // namespace tunnel::proto
