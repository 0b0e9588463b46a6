#include "tunnel/proto/noise.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace tunnel::proto {

Cipher cipher_of(Suite s) {
  return (s == Suite::ik_aesgcm_blake2b || s == Suite::ikpsk2_aesgcm_blake2b) ? Cipher::aesgcm
                                                                              : Cipher::chachapoly;
}

bool uses_psk(Suite s) {
  return s == Suite::ikpsk2_chachapoly_blake2b || s == Suite::ikpsk2_aesgcm_blake2b;
}

std::string protocol_name(Suite s) {
  std::string n = uses_psk(s) ? "Noise_IKpsk2_25519_" : "Noise_IK_25519_";
  n += cipher_of(s) == Cipher::aesgcm ? "AESGCM" : "ChaChaPoly";
  return n + "_BLAKE2b";
}

std::optional<Suite> suite_from_id(uint8_t id) {
  if (id >= 1 && id <= 4) return static_cast<Suite>(id);
  return std::nullopt;
}

std::optional<Suite> suite_from_name(std::string_view name) {
  for (uint8_t id = 1; id <= 4; ++id)
    if (protocol_name(static_cast<Suite>(id)) == name) return static_cast<Suite>(id);
  return std::nullopt;
}

// --- BLAKE2b, HMAC, HKDF -------------------------------------------------------------------

Hash blake2b(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  crypto_generichash_blake2b_state st;
  crypto_generichash_blake2b_init(&st, nullptr, 0, kHashLen);
  crypto_generichash_blake2b_update(&st, a.data(), a.size());
  if (!b.empty()) crypto_generichash_blake2b_update(&st, b.data(), b.size());
  Hash out;
  crypto_generichash_blake2b_final(&st, out.data(), out.size());
  return out;
}

Hash hmac_blake2b(std::span<const uint8_t> key, std::span<const uint8_t> data,
                  std::span<const uint8_t> data2) {
  // Keys here are at most HASHLEN (64) bytes, below BLOCKLEN, so they are only zero-padded.
  uint8_t block[kBlockLen] = {};
  if (key.size() > kBlockLen) {
    Hash hk = blake2b(key);
    std::memcpy(block, hk.data(), hk.size());
  } else if (!key.empty()) {
    std::memcpy(block, key.data(), key.size());
  }
  uint8_t pad[kBlockLen];
  for (size_t i = 0; i < kBlockLen; ++i) pad[i] = block[i] ^ 0x36;
  crypto_generichash_blake2b_state st;
  crypto_generichash_blake2b_init(&st, nullptr, 0, kHashLen);
  crypto_generichash_blake2b_update(&st, pad, sizeof pad);
  if (!data.empty()) crypto_generichash_blake2b_update(&st, data.data(), data.size());
  if (!data2.empty()) crypto_generichash_blake2b_update(&st, data2.data(), data2.size());
  Hash inner;
  crypto_generichash_blake2b_final(&st, inner.data(), inner.size());
  for (size_t i = 0; i < kBlockLen; ++i) pad[i] = block[i] ^ 0x5c;
  Hash out = blake2b(std::span<const uint8_t>(pad, sizeof pad), inner);
  sodium_memzero(block, sizeof block);
  sodium_memzero(pad, sizeof pad);
  sodium_memzero(inner.data(), inner.size());
  return out;
}

void hkdf(const Hash& ck, std::span<const uint8_t> ikm, Hash& out1, Hash& out2, Hash* out3) {
  Hash temp = hmac_blake2b(ck, ikm);
  static constexpr uint8_t one = 1, two = 2, three = 3;
  out1 = hmac_blake2b(temp, std::span<const uint8_t>(&one, 1));
  out2 = hmac_blake2b(temp, out1, std::span<const uint8_t>(&two, 1));
  if (out3) *out3 = hmac_blake2b(temp, out2, std::span<const uint8_t>(&three, 1));
  sodium_memzero(temp.data(), temp.size());
}

// --- Aead ----------------------------------------------------------------------------------

Aead::Aead(Cipher c) : cipher_(c), ctx_(EVP_CIPHER_CTX_new()) {
  if (!ctx_) std::abort();  // out of memory
}

Aead::~Aead() {
  if (ctx_) EVP_CIPHER_CTX_free(ctx_);
  sodium_memzero(key_.data(), key_.size());
}

Aead::Aead(Aead&& o) noexcept
    : cipher_(o.cipher_), ctx_(std::exchange(o.ctx_, nullptr)), key_(o.key_), mode_(o.mode_) {
  sodium_memzero(o.key_.data(), o.key_.size());
}

Aead& Aead::operator=(Aead&& o) noexcept {
  if (this != &o) {
    if (ctx_) EVP_CIPHER_CTX_free(ctx_);
    cipher_ = o.cipher_;
    ctx_ = std::exchange(o.ctx_, nullptr);
    key_ = o.key_;
    mode_ = o.mode_;
    sodium_memzero(o.key_.data(), o.key_.size());
  }
  return *this;
}

void Aead::set_key(const Key& key) {
  key_ = key;
  mode_ = -1;
}

// The key schedule is loaded once per key and direction; each message only sets the IV.
void Aead::ensure_mode(int enc) {
  if (mode_ == enc) return;
  const EVP_CIPHER* c = cipher_ == Cipher::aesgcm ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
  if (EVP_CipherInit_ex(ctx_, c, nullptr, key_.data(), nullptr, enc) != 1) std::abort();
  mode_ = enc;
}

static void make_iv(Cipher c, uint64_t n, uint8_t iv[12]) {
  std::memset(iv, 0, 4);
  if (c == Cipher::aesgcm) {
    put_u64(iv + 4, n);
  } else {
    for (int i = 0; i < 8; ++i) iv[4 + i] = uint8_t(n >> (8 * i));
  }
}

void Aead::seal(uint64_t nonce, std::span<const uint8_t> ad, const uint8_t* in, size_t n,
                uint8_t* out, uint8_t* tag) {
  ensure_mode(1);
  uint8_t iv[12];
  make_iv(cipher_, nonce, iv);
  int len = 0;
  // Only our own sizes reach here (records are at most 128 KiB); EVP failures are bugs.
  bool ok = n <= INT_MAX && ad.size() <= INT_MAX &&
            EVP_CipherInit_ex(ctx_, nullptr, nullptr, nullptr, iv, 1) == 1 &&
            (ad.empty() || EVP_CipherUpdate(ctx_, nullptr, &len, ad.data(), int(ad.size())) == 1) &&
            (n == 0 || EVP_CipherUpdate(ctx_, out, &len, in, int(n)) == 1) &&
            EVP_CipherFinal_ex(ctx_, out + (n ? len : 0), &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, int(kTagLen), tag) == 1;
  if (!ok) std::abort();
}

bool Aead::open(uint64_t nonce, std::span<const uint8_t> ad, const uint8_t* in, size_t n,
                uint8_t* out, const uint8_t* tag) {
  ensure_mode(0);
  uint8_t iv[12];
  make_iv(cipher_, nonce, iv);
  int len = 0;
  if (n > INT_MAX || ad.size() > INT_MAX) return false;
  if (EVP_CipherInit_ex(ctx_, nullptr, nullptr, nullptr, iv, 0) != 1) return false;
  if (!ad.empty() && EVP_CipherUpdate(ctx_, nullptr, &len, ad.data(), int(ad.size())) != 1)
    return false;
  if (n && EVP_CipherUpdate(ctx_, out, &len, in, int(n)) != 1) return false;
  if (EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_TAG, int(kTagLen), const_cast<uint8_t*>(tag)) !=
      1)
    return false;
  int flen = 0;
  return EVP_CipherFinal_ex(ctx_, out + (n ? len : 0), &flen) == 1;
}

// --- CipherState ---------------------------------------------------------------------------

static constexpr uint64_t kMaxNonce = ~uint64_t{0};

void CipherState::initialize_key(const Key& k) {
  k_ = k;
  has_key_ = true;
  n_ = 0;
  aead_.set_key(k);
}

bool CipherState::encrypt(std::span<const uint8_t> ad, const uint8_t* in, size_t n, uint8_t* out) {
  if (!has_key_) {
    if (out != in && n) std::memmove(out, in, n);
    return true;
  }
  if (n_ == kMaxNonce) return false;
  aead_.seal(n_, ad, in, n, out, out + n);
  ++n_;
  return true;
}

bool CipherState::decrypt(std::span<const uint8_t> ad, const uint8_t* in, size_t n, uint8_t* out) {
  if (!has_key_) {
    if (out != in && n) std::memmove(out, in, n);
    return true;
  }
  if (n_ == kMaxNonce) return false;
  if (!aead_.open(n_, ad, in, n, out, in + n)) return false;
  ++n_;
  return true;
}

void CipherState::rekey() {
  uint8_t zeros[kKeyLen] = {};
  uint8_t out[kKeyLen];
  uint8_t tag[kTagLen];
  aead_.seal(kMaxNonce, {}, zeros, sizeof zeros, out, tag);
  std::memcpy(k_.data(), out, kKeyLen);
  aead_.set_key(k_);
  sodium_memzero(out, sizeof out);
}

// --- Handshake -----------------------------------------------------------------------------

Handshake::Handshake(Config cfg) : cfg_(std::move(cfg)), cs_(cipher_of(cfg_.suite)) {
  crypto::init();
  // InitializeSymmetric: every name we speak is at most HASHLEN bytes, so h = name || zeros.
  std::string name = protocol_name(cfg_.suite);
  h_.fill(0);
  std::memcpy(h_.data(), name.data(), name.size());
  ck_ = h_;
  mix_hash(cfg_.prologue);
  s_pub_ = crypto::public_from_private(cfg_.static_priv);
  // Pre-message pattern "<- s": both sides hash the responder's static public key.
  if (cfg_.role == Role::initiator) {
    rs_ = cfg_.remote_static.value_or(Key{});
    mix_hash(rs_);
  } else {
    mix_hash(s_pub_);
  }
}

Handshake::~Handshake() {
  sodium_memzero(cfg_.static_priv.data(), cfg_.static_priv.size());
  if (cfg_.psk) sodium_memzero(cfg_.psk->data(), cfg_.psk->size());
  sodium_memzero(e_priv_.data(), e_priv_.size());
  sodium_memzero(ck_.data(), ck_.size());
}

void Handshake::mix_hash(std::span<const uint8_t> data) {
  h_ = blake2b(h_, data);
}

void Handshake::mix_key(std::span<const uint8_t> ikm) {
  Hash o1, o2;
  hkdf(ck_, ikm, o1, o2);
  ck_ = o1;
  Key k;
  std::memcpy(k.data(), o2.data(), kKeyLen);  // HASHLEN 64: truncate to 32
  cs_.initialize_key(k);
  sodium_memzero(o2.data(), o2.size());
  sodium_memzero(k.data(), k.size());
}

void Handshake::mix_key_and_hash(std::span<const uint8_t> ikm) {
  Hash o1, o2, o3;
  hkdf(ck_, ikm, o1, o2, &o3);
  ck_ = o1;
  mix_hash(o2);
  Key k;
  std::memcpy(k.data(), o3.data(), kKeyLen);
  cs_.initialize_key(k);
  sodium_memzero(o3.data(), o3.size());
  sodium_memzero(k.data(), k.size());
}

bool Handshake::encrypt_and_hash(std::span<const uint8_t> plain, std::vector<uint8_t>& out) {
  size_t at = out.size();
  out.resize(at + plain.size() + (cs_.has_key() ? kTagLen : 0));
  if (!cs_.encrypt(h_, plain.data(), plain.size(), out.data() + at)) return false;
  mix_hash(std::span<const uint8_t>(out.data() + at, out.size() - at));
  return true;
}

bool Handshake::decrypt_and_hash(std::span<const uint8_t> cipher, std::vector<uint8_t>& out) {
  size_t tag = cs_.has_key() ? kTagLen : 0;
  if (cipher.size() < tag) return false;
  size_t n = cipher.size() - tag;
  out.resize(n);
  if (!cs_.decrypt(h_, cipher.data(), n, out.data())) return false;
  mix_hash(cipher);
  return true;
}

Fault Handshake::dh(const Key& priv, const Key& pub, Key& out) {
  // libsodium refuses an all-zero shared secret (a low-order point).
  return crypto_scalarmult(out.data(), priv.data(), pub.data()) == 0 ? Fault::none : Fault::bad_key;
}

void Handshake::make_ephemeral() {
  e_priv_ = cfg_.ephemeral_priv ? *cfg_.ephemeral_priv : crypto::generate_private();
  e_pub_ = crypto::public_from_private(e_priv_);
}

// Runs a step; any failure poisons the handshake.
#define HS_TRY(expr)         \
  do {                       \
    Fault f_ = (expr);       \
    if (f_ != Fault::none) { \
      failed_ = true;        \
      return f_;             \
    }                        \
  } while (0)

Fault Handshake::write_message1(std::span<const uint8_t> payload, std::vector<uint8_t>& out) {
  if (failed_ || step_ != 0 || cfg_.role != Role::initiator || !cfg_.remote_static)
    return Fault::protocol;
  Key shared;
  make_ephemeral();
  out.insert(out.end(), e_pub_.begin(), e_pub_.end());
  mix_hash(e_pub_);
  if (uses_psk(cfg_.suite)) mix_key(e_pub_);
  HS_TRY(dh(e_priv_, rs_, shared));  // es
  mix_key(shared);
  HS_TRY(encrypt_and_hash(s_pub_, out) ? Fault::none : Fault::nonce_exhausted);  // s
  HS_TRY(dh(cfg_.static_priv, rs_, shared));                                     // ss
  mix_key(shared);
  sodium_memzero(shared.data(), shared.size());
  HS_TRY(encrypt_and_hash(payload, out) ? Fault::none : Fault::nonce_exhausted);
  step_ = 1;
  return Fault::none;
}

Fault Handshake::read_message1(std::span<const uint8_t> msg, std::vector<uint8_t>& payload,
                               const std::function<Fault(const Key&)>& on_static) {
  if (failed_ || step_ != 0 || cfg_.role != Role::responder) return Fault::protocol;
  if (msg.size() < kKeyLen + kKeyLen + kTagLen + kTagLen) HS_TRY(Fault::malformed);
  Key shared;
  std::memcpy(re_.data(), msg.data(), kKeyLen);
  mix_hash(re_);
  if (uses_psk(cfg_.suite)) mix_key(re_);
  HS_TRY(dh(cfg_.static_priv, re_, shared));  // es
  mix_key(shared);
  std::vector<uint8_t> rs;
  HS_TRY(decrypt_and_hash(msg.subspan(kKeyLen, kKeyLen + kTagLen), rs) ? Fault::none
                                                                       : Fault::bad_mac);
  std::memcpy(rs_.data(), rs.data(), kKeyLen);
  if (on_static) HS_TRY(on_static(rs_));
  HS_TRY(dh(cfg_.static_priv, rs_, shared));  // ss
  mix_key(shared);
  sodium_memzero(shared.data(), shared.size());
  HS_TRY(decrypt_and_hash(msg.subspan(2 * kKeyLen + kTagLen), payload) ? Fault::none
                                                                       : Fault::bad_mac);
  step_ = 1;
  return Fault::none;
}

Fault Handshake::write_message2(std::span<const uint8_t> payload, std::vector<uint8_t>& out) {
  if (failed_ || step_ != 1 || cfg_.role != Role::responder) return Fault::protocol;
  if (uses_psk(cfg_.suite) && !cfg_.psk) HS_TRY(Fault::refused);
  Key shared;
  make_ephemeral();
  out.insert(out.end(), e_pub_.begin(), e_pub_.end());
  mix_hash(e_pub_);
  if (uses_psk(cfg_.suite)) mix_key(e_pub_);
  HS_TRY(dh(e_priv_, re_, shared));  // ee
  mix_key(shared);
  HS_TRY(dh(e_priv_, rs_, shared));  // se
  mix_key(shared);
  sodium_memzero(shared.data(), shared.size());
  if (uses_psk(cfg_.suite)) mix_key_and_hash(*cfg_.psk);
  HS_TRY(encrypt_and_hash(payload, out) ? Fault::none : Fault::nonce_exhausted);
  step_ = 2;
  return Fault::none;
}

Fault Handshake::read_message2(std::span<const uint8_t> msg, std::vector<uint8_t>& payload) {
  if (failed_ || step_ != 1 || cfg_.role != Role::initiator) return Fault::protocol;
  if (uses_psk(cfg_.suite) && !cfg_.psk) HS_TRY(Fault::refused);
  if (msg.size() < kKeyLen + kTagLen) HS_TRY(Fault::malformed);
  Key shared;
  std::memcpy(re_.data(), msg.data(), kKeyLen);
  mix_hash(re_);
  if (uses_psk(cfg_.suite)) mix_key(re_);
  HS_TRY(dh(e_priv_, re_, shared));  // ee
  mix_key(shared);
  HS_TRY(dh(cfg_.static_priv, re_, shared));  // se
  mix_key(shared);
  sodium_memzero(shared.data(), shared.size());
  if (uses_psk(cfg_.suite)) mix_key_and_hash(*cfg_.psk);
  HS_TRY(decrypt_and_hash(msg.subspan(kKeyLen), payload) ? Fault::none : Fault::bad_mac);
  step_ = 2;
  return Fault::none;
}

#undef HS_TRY

TransportKeys Handshake::split() const {
  Hash o1, o2;
  hkdf(ck_, {}, o1, o2);
  TransportKeys t;
  bool init = cfg_.role == Role::initiator;
  std::memcpy(t.send.data(), (init ? o1 : o2).data(), kKeyLen);
  std::memcpy(t.recv.data(), (init ? o2 : o1).data(), kKeyLen);
  sodium_memzero(o1.data(), o1.size());
  sodium_memzero(o2.data(), o2.size());
  return t;
}

}  // namespace tunnel::proto
