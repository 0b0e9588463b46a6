// pki::Authority — Warren's CA as files under $WARREN_DIR/ca plus its index in the store:
// init (root + intermediate + token-signing keys), unlock with a passphrase, issue and record,
// list, revoke, CRL, token bookkeeping. Owned by one command invocation; single-threaded.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "pki/jwt.h"
#include "pki/pki.h"
#include "store/store.h"

namespace pki {

struct InitOptions {
  KeyType key_type = KeyType::p256;
  CaParams root{"Warren Root CA", "Warren", 3650};
  CaParams intermediate{"Warren Intermediate CA", "Warren", 1825};
  std::optional<std::string> passphrase;  // nullopt: keys stored unencrypted
};

struct CertRecord {
  std::string serial;
  std::string name;
  std::string subject;
  std::string sans;  // "DNS:a,IP:b"
  std::string profile;
  std::string key_type;
  std::time_t not_before = 0;
  std::time_t not_after = 0;
  std::string status;  // valid | revoked (expired is derived from not_after)
  std::time_t revoked_at = 0;
  std::string reason;
  std::string renewed_from;
  std::string cert_pem;
  std::string state(std::time_t now) const;  // valid | expired | revoked
};

enum class ListFilter { all, valid, expired, revoked, expiring };

struct TokenRecord {
  std::string jti, sub, aud, alg;
  std::time_t issued_at = 0, expires_at = 0, revoked_at = 0;
  std::string reason;
};

class Authority {
 public:
  static std::string ca_dir(const std::string& warren_dir) { return warren_dir + "/ca"; }
  static bool exists(const std::string& warren_dir);

  // Creates the CA; refuses when one exists (Errc::failure).
  static core::Result<void> init(const std::string& warren_dir, store::Db& db,
                                 const InitOptions& opt, std::time_t now);
  // Loads certificates and public keys (no passphrase needed). Missing CA -> Errc::noinput.
  static core::Result<Authority> open(const std::string& warren_dir, store::Db& db);

  // True when the CA's private keys are encrypted at rest.
  bool encrypted() const { return encrypted_; }
  // Decrypts the intermediate key and keeps the passphrase for the token keys, which are
  // decrypted only when a token is signed (each scrypt costs ~70 ms). Wrong -> Errc::noperm.
  core::Result<void> unlock(const std::optional<std::string>& passphrase);

  const Cert& root() const { return root_; }
  const Cert& intermediate() const { return intermediate_; }
  std::string chain_pem() const;  // intermediate then root

  // Signs and records a leaf (cert row + audit row); the caller wraps it in a store::Tx so a
  // batch commits once and an interrupted run leaves no half-written record.
  core::Result<CertRecord> issue(const Key& subject_key, const LeafParams& p,
                                 const std::string& name, std::time_t now,
                                 const std::string& renewed_from = "");
  core::Result<CertRecord> find(const std::string& serial_or_prefix);
  core::Result<std::vector<CertRecord>> list(ListFilter f, std::time_t now, int64_t within_days);
  core::Result<CertRecord> revoke(const std::string& serial, const std::string& reason,
                                  std::time_t now);
  // CRL of the intermediate (needs unlock) with a fresh CRL number.
  core::Result<std::string> crl(bool der, int64_t valid_days, std::time_t now);

  // Tokens.
  core::Result<jwt::SigningKey> signing_key(jwt::Alg alg);  // needs unlock
  std::vector<jwt::VerifyKey> verify_keys() const;
  core::Result<std::string> token_private_pem(jwt::Alg alg, const std::optional<std::string>& pass);
  core::Result<void> record_token(const TokenRecord& t);
  core::Result<TokenRecord> revoke_token(const std::string& jti, const std::string& reason,
                                         std::time_t now);
  core::Result<std::optional<TokenRecord>> find_token(const std::string& jti);

  store::Db& db() { return *db_; }

 private:
  std::string dir_;
  store::Db* db_ = nullptr;
  Cert root_, intermediate_;
  Key int_key_;
  core::Result<const Key*> token_key(jwt::Alg alg);  // decrypts on first use
  Key tok_ed_, tok_es_;          // private (decrypted on first use after unlock)
  Key tok_ed_pub_, tok_es_pub_;  // public
  bool unlocked_ = false;
  std::optional<std::string> passphrase_;
  bool encrypted_ = false;
};

}  // namespace pki
