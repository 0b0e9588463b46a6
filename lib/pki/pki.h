// pki — X.509 for Warren's certificate authority, on OpenSSL 3 (kept out of this header):
// key generation and (encrypted) PEM, CA certificates with name constraints, leaf issuance
// from a key or a CSR under a profile, CRLs, chain verification, PKCS#12. No I/O, no clock:
// callers pass `now`. Objects are immutable after creation and safe to share across threads.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

struct evp_pkey_st;
struct x509_st;
struct X509_req_st;
struct X509_crl_st;

namespace pki {

enum class KeyType { p256, ed25519, rsa3072 };
core::Result<KeyType> parse_key_type(std::string_view s);  // "p256", "ed25519", "rsa3072"
const char* key_type_name(KeyType t);

class Key {
 public:
  Key() = default;
  explicit Key(evp_pkey_st* p);  // takes ownership
  evp_pkey_st* get() const { return p_.get(); }
  explicit operator bool() const { return bool(p_); }
  KeyType type() const;
  bool has_private() const { return private_; }
  void set_has_private(bool v) { private_ = v; }

 private:
  std::shared_ptr<evp_pkey_st> p_;
  bool private_ = true;
};

class Cert {
 public:
  Cert() = default;
  explicit Cert(x509_st* p);  // takes ownership
  x509_st* get() const { return p_.get(); }
  explicit operator bool() const { return bool(p_); }

 private:
  std::shared_ptr<x509_st> p_;
};

class Csr {
 public:
  Csr() = default;
  explicit Csr(X509_req_st* p);
  X509_req_st* get() const { return p_.get(); }

 private:
  std::shared_ptr<X509_req_st> p_;
};

// ---- keys ----
core::Result<Key> generate_key(KeyType t);
// PKCS#8 PEM; encrypted (AES-256-CBC, PBKDF2) when passphrase is set.
core::Result<std::string> private_key_pem(const Key& k, const std::optional<std::string>& pass);
std::string public_key_pem(const Key& k);
// Wrong passphrase -> Errc::noperm; not a key -> Errc::data.
core::Result<Key> parse_private_key(std::string_view pem, const std::optional<std::string>& pass);
core::Result<Key> parse_public_key(std::string_view pem);
bool is_encrypted_pem(std::string_view pem);
bool same_public_key(const Key& a, const Key& b);

// ---- names and SANs ----
enum class SanType { dns, ip, email, uri };
struct San {
  SanType type;
  std::string value;        // IP in text form
  std::string str() const;  // "DNS:x", "IP:1.2.3.4", "email:a@b", "URI:u"
};
// "DNS:x", "IP:…", "email:…", "URI:…", or untyped (detected: IP, '@' -> email, "://" -> URI).
core::Result<San> parse_san(std::string_view s);

enum class Profile { server, client, peer };
core::Result<Profile> parse_profile(std::string_view s);
const char* profile_name(Profile p);

// ---- certificates ----
struct CaParams {
  std::string common_name;
  std::string organization;
  int64_t days = 3650;
  std::vector<std::string> permit_dns;  // DNS suffixes, e.g. "example.com" or ".example.com"
  std::vector<std::string> permit_ip;   // CIDRs, e.g. "10.0.0.0/8"
  int path_len = -1;                    // -1: none
};

struct LeafParams {
  std::string common_name;
  std::vector<San> sans;
  Profile profile = Profile::server;
  int64_t days = 90;
};

// A fresh random positive 128-bit serial as lower-case hex (never reused in practice; the store
// enforces uniqueness).
std::string random_serial_hex();

core::Result<Cert> make_root(const Key& key, const CaParams& p, const std::string& serial,
                             std::time_t now);
core::Result<Cert> make_intermediate(const Key& key, const CaParams& p, const Cert& issuer,
                                     const Key& issuer_key, const std::string& serial,
                                     std::time_t now);
// Signs a leaf for `subject_key` (public part) under `issuer`. Checks every SAN against the
// name constraints of each CA in `chain` (issuer first) and refuses violations (Errc::data).
core::Result<Cert> issue(const Key& subject_key, const LeafParams& p, const Cert& issuer,
                         const Key& issuer_key, const std::vector<Cert>& chain,
                         const std::string& serial, std::time_t now);

// CSR: PEM or DER; its signature must verify. Gives the public key, CN and requested SANs.
core::Result<Csr> parse_csr(std::string_view data);
struct CsrInfo {
  Key public_key;
  std::string common_name;
  std::vector<San> sans;
};
core::Result<CsrInfo> csr_info(const Csr& csr);
// A CSR for `key` (used by tests and `cactl renew` round trips).
core::Result<std::string> make_csr_pem(const Key& key, const std::string& cn,
                                       const std::vector<San>& sans);

core::Result<Cert> parse_cert(std::string_view data);               // PEM or DER
core::Result<std::vector<Cert>> parse_certs(std::string_view pem);  // every PEM cert in order
std::string cert_pem(const Cert& c);
std::string cert_der(const Cert& c);
Key cert_public_key(const Cert& c);

struct CertInfo {
  std::string serial;  // lower-case hex
  std::string subject;
  std::string issuer;
  std::string common_name;
  std::vector<San> sans;
  std::time_t not_before = 0;
  std::time_t not_after = 0;
  bool is_ca = false;
  std::string key_type;
  std::string sha256;  // fingerprint, lower-case hex of the DER
};
CertInfo inspect(const Cert& c);

// Checks a SAN against permitted DNS suffixes / IP ranges (empty lists permit everything).
bool permitted(const San& san, const std::vector<std::string>& permit_dns,
               const std::vector<std::string>& permit_ip);
// The permitted subtrees of a CA certificate's name constraints.
void name_constraints(const Cert& ca, std::vector<std::string>& dns, std::vector<std::string>& ip);

// ---- revocation ----
struct Revoked {
  std::string serial;  // hex
  std::time_t when = 0;
  std::string reason;  // unspecified, keyCompromise, caCompromise, affiliationChanged,
                       // superseded, cessationOfOperation, certificateHold, privilegeWithdrawn
};
bool valid_reason(std::string_view r);
const std::vector<std::string>& reasons();

// A signed CRL (v2, CRL number, AKI, reason codes), PEM or DER.
core::Result<std::string> make_crl(const Cert& issuer, const Key& issuer_key,
                                   const std::vector<Revoked>& revoked, int64_t number,
                                   std::time_t now, std::time_t next_update, bool der);

// Verifies leaf -> intermediates -> root at time `now`; with a CRL (PEM), checks the leaf's
// revocation too. Returns the failure as Errc::failure with OpenSSL's reason.
core::Result<void> verify(const Cert& leaf, const std::vector<Cert>& intermediates,
                          const Cert& root, const std::optional<std::string>& crl_pem,
                          std::time_t now);

// PKCS#12 bundle (DER) of key, cert and chain, protected by passphrase (AES-256, PBKDF2).
core::Result<std::string> make_p12(const Key& key, const Cert& cert, const std::vector<Cert>& chain,
                                   const std::string& passphrase, const std::string& friendly);

// Last OpenSSL error as text (and clears the queue).
std::string ssl_error();

}  // namespace pki
