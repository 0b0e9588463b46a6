#include "pki/pki.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>

#include "core/text.h"

namespace pki {

using core::Errc;
using core::Error;
using core::Result;

// ---- small RAII helpers (local to this file) ----
namespace {
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free_all(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

BioPtr mem_bio(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}
BioPtr out_bio() {
  return BioPtr(BIO_new(BIO_s_mem()));
}
std::string bio_string(BIO* b) {
  char* p = nullptr;
  long n = BIO_get_mem_data(b, &p);
  return std::string(p, static_cast<size_t>(n));
}

template <class T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using NamePtr = std::unique_ptr<X509_NAME, Free<X509_NAME, X509_NAME_free>>;
using GensPtr = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES, GENERAL_NAMES_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION, X509_EXTENSION_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Free<BIGNUM, BN_free>>;
using AsnIntPtr = std::unique_ptr<ASN1_INTEGER, Free<ASN1_INTEGER, ASN1_INTEGER_free>>;
using TimePtr = std::unique_ptr<ASN1_TIME, Free<ASN1_TIME, ASN1_TIME_free>>;

Error ssl_err(Errc c, const std::string& what) {
  return Error(c, what + ": " + ssl_error());
}

// Never prompt: OpenSSL's default callback (used when none is given) reads the terminal,
// so every PEM read in this file passes this one.
int pass_cb(char* buf, int size, int, void* u) {
  if (!u) return -1;
  auto* s = static_cast<const std::string*>(u);
  if (static_cast<int>(s->size()) > size) return -1;
  std::memcpy(buf, s->data(), s->size());
  return static_cast<int>(s->size());
}

const EVP_MD* md_for(const Key& k) {
  return k.type() == KeyType::ed25519 ? nullptr : EVP_sha256();
}

std::time_t asn1_to_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return timegm(&tm);
}
}  // namespace

std::string ssl_error() {
  unsigned long e = ERR_get_error();
  std::string out;
  while (e) {
    const char* r = ERR_reason_error_string(e);
    if (out.empty()) out = r ? r : "unknown error";
    e = ERR_get_error();
  }
  return out.empty() ? "unknown error" : out;
}

// ---- Key / Cert / Csr ----
Key::Key(evp_pkey_st* p) : p_(p, EVP_PKEY_free) {}
Cert::Cert(x509_st* p) : p_(p, X509_free) {}
Csr::Csr(X509_req_st* p) : p_(p, X509_REQ_free) {}

KeyType Key::type() const {
  switch (EVP_PKEY_get_base_id(p_.get())) {
    case EVP_PKEY_ED25519:
      return KeyType::ed25519;
    case EVP_PKEY_RSA:
      return KeyType::rsa3072;
    default:
      return KeyType::p256;
  }
}

Result<KeyType> parse_key_type(std::string_view s) {
  std::string l = core::to_lower(s);
  if (l == "p256" || l == "p-256" || l == "ecdsa" || l == "ec") return KeyType::p256;
  if (l == "ed25519") return KeyType::ed25519;
  if (l == "rsa3072" || l == "rsa" || l == "rsa-3072") return KeyType::rsa3072;
  return Error(Errc::usage,
               "unknown key type \"" + std::string(s) + "\" (use p256, ed25519 or rsa3072)");
}

const char* key_type_name(KeyType t) {
  switch (t) {
    case KeyType::p256:
      return "p256";
    case KeyType::ed25519:
      return "ed25519";
    case KeyType::rsa3072:
      return "rsa3072";
  }
  return "?";
}

// One initialised keygen context per key type and thread: fetching the algorithm by name on
// every call (EVP_EC_gen) is a large share of the cost of a P-256 key on OpenSSL 3.0.
static EVP_PKEY_CTX* keygen_ctx(KeyType t) {
  struct Ctxs {
    EVP_PKEY_CTX* c[3] = {nullptr, nullptr, nullptr};
    ~Ctxs() {
      for (auto* x : c) EVP_PKEY_CTX_free(x);
    }
  };
  thread_local Ctxs ctxs;
  auto& slot = ctxs.c[static_cast<int>(t)];
  if (slot) return slot;
  EVP_PKEY_CTX* ctx = nullptr;
  switch (t) {
    case KeyType::p256:
      ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
      if (ctx &&
          (EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_CTX_set_group_name(ctx, "P-256") != 1)) {
        EVP_PKEY_CTX_free(ctx);
        ctx = nullptr;
      }
      break;
    case KeyType::ed25519:
      ctx = EVP_PKEY_CTX_new_from_name(nullptr, "ED25519", nullptr);
      if (ctx && EVP_PKEY_keygen_init(ctx) != 1) {
        EVP_PKEY_CTX_free(ctx);
        ctx = nullptr;
      }
      break;
    case KeyType::rsa3072:
      ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
      if (ctx &&
          (EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 3072) != 1)) {
        EVP_PKEY_CTX_free(ctx);
        ctx = nullptr;
      }
      break;
  }
  slot = ctx;
  return ctx;
}

Result<Key> generate_key(KeyType t) {
  EVP_PKEY* p = nullptr;
  EVP_PKEY_CTX* ctx = keygen_ctx(t);
  if (ctx && EVP_PKEY_keygen(ctx, &p) != 1) p = nullptr;
  if (!p) return ssl_err(Errc::internal, "key generation");
  return Key(p);
}

// OpenSSL 3.0 routes key serialisation through its provider encoders, which costs ~0.8M
// instructions per key; P-256 and Ed25519 PKCS#8 are fixed layouts, so build them directly
// (tests check OpenSSL reads them back as the same key).
static std::string pem_wrap(const char* label, std::span<const uint8_t> der) {
  std::string b64 = core::base64(der), out = std::string("-----BEGIN ") + label + "-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + "-----END " + label + "-----\n";
}

static std::optional<std::string> fast_pkcs8(const Key& k) {
  std::vector<uint8_t> der;
  if (k.type() == KeyType::p256) {
    BIGNUM* priv = nullptr;
    uint8_t pub[65];
    size_t publen = 0;
    if (EVP_PKEY_get_bn_param(k.get(), OSSL_PKEY_PARAM_PRIV_KEY, &priv) != 1) return std::nullopt;
    BnPtr privp(priv);
    if (EVP_PKEY_get_octet_string_param(k.get(), OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub,
                                        &publen) != 1 ||
        publen != 65 || pub[0] != 4)
      return std::nullopt;
    der = *core::unhex("308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420");
    size_t off = der.size();
    der.resize(off + 32);
    BN_bn2binpad(priv, der.data() + off, 32);
    static const uint8_t mid[] = {0xa1, 0x44, 0x03, 0x42, 0x00};
    der.insert(der.end(), mid, mid + sizeof mid);
    der.insert(der.end(), pub, pub + 65);
  } else if (k.type() == KeyType::ed25519) {
    uint8_t raw[32];
    size_t len = sizeof raw;
    if (EVP_PKEY_get_raw_private_key(k.get(), raw, &len) != 1 || len != 32) return std::nullopt;
    der = *core::unhex("302e020100300506032b657004220420");
    der.insert(der.end(), raw, raw + 32);
    OPENSSL_cleanse(raw, sizeof raw);
  } else {
    return std::nullopt;
  }
  std::string pem = pem_wrap("PRIVATE KEY", der);
  OPENSSL_cleanse(der.data(), der.size());
  return pem;
}

Result<std::string> private_key_pem(const Key& k, const std::optional<std::string>& pass) {
  if (!pass)
    if (auto fast = fast_pkcs8(k)) return *fast;
  auto b = out_bio();
  int ok;
  if (pass) {
    // PKCS#8 with PBES2: scrypt (N=2^14, r=8, p=1: 16 MiB, within OpenSSL's 32 MiB limit) and
    // AES-256-CBC, far slower to brute-force than OpenSSL's default PBKDF2 with 2048 iterations.
    PKCS8_PRIV_KEY_INFO* p8inf = EVP_PKEY2PKCS8(k.get());
    X509_ALGOR* pbe = PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), nullptr, 0, nullptr, 1 << 14, 8, 1);
    X509_SIG* p8 = p8inf && pbe
                       ? PKCS8_set0_pbe(pass->data(), static_cast<int>(pass->size()), p8inf, pbe)
                       : nullptr;
    if (!p8) X509_ALGOR_free(pbe);
    ok = p8 && PEM_write_bio_PKCS8(b.get(), p8);
    X509_SIG_free(p8);
    PKCS8_PRIV_KEY_INFO_free(p8inf);
  } else
    ok = PEM_write_bio_PKCS8PrivateKey(b.get(), k.get(), nullptr, nullptr, 0, nullptr, nullptr);
  if (!ok) return ssl_err(Errc::internal, "write private key");
  return bio_string(b.get());
}

std::string public_key_pem(const Key& k) {
  auto b = out_bio();
  PEM_write_bio_PUBKEY(b.get(), k.get());
  return bio_string(b.get());
}

bool is_encrypted_pem(std::string_view pem) {
  return pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos ||
         pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
}

Result<Key> parse_private_key(std::string_view pem, const std::optional<std::string>& pass) {
  auto b = mem_bio(pem);
  bool enc = is_encrypted_pem(pem);
  if (enc && !pass) return Error(Errc::noperm, "key is encrypted: passphrase required");
  std::string p = pass.value_or("");
  EVP_PKEY* k = PEM_read_bio_PrivateKey(b.get(), nullptr, pass_cb, enc ? &p : nullptr);
  if (!k) {
    if (enc) {
      ERR_clear_error();
      return Error(Errc::noperm, "wrong passphrase");
    }
    {
      ERR_clear_error();
      return Error(Errc::data, "not a PEM private key");
    }
  }
  return Key(k);
}

Result<Key> parse_public_key(std::string_view pem) {
  auto b = mem_bio(pem);
  EVP_PKEY* k = PEM_read_bio_PUBKEY(b.get(), nullptr, pass_cb, nullptr);
  if (!k) {
    ERR_clear_error();
    return Error(Errc::data, "not a PEM public key");
  }
  Key key(k);
  key.set_has_private(false);
  return key;
}

bool same_public_key(const Key& a, const Key& b) {
  return EVP_PKEY_eq(a.get(), b.get()) == 1;
}

// ---- SANs, profiles ----
std::string San::str() const {
  switch (type) {
    case SanType::dns:
      return "DNS:" + value;
    case SanType::ip:
      return "IP:" + value;
    case SanType::email:
      return "email:" + value;
    case SanType::uri:
      return "URI:" + value;
  }
  return value;
}

static bool parse_ip(std::string_view s, std::vector<uint8_t>& out) {
  std::string str(s);
  uint8_t buf[16];
  if (inet_pton(AF_INET, str.c_str(), buf) == 1) {
    out.assign(buf, buf + 4);
    return true;
  }
  if (inet_pton(AF_INET6, str.c_str(), buf) == 1) {
    out.assign(buf, buf + 16);
    return true;
  }
  return false;
}

static bool valid_dns(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  if (s.substr(0, 2) == "*.") s.remove_prefix(2);
  for (auto& label : core::split(s, '.', false)) {
    if (label.empty() || label.size() > 63) return false;
    for (char c : label)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
    if (label.front() == '-' || label.back() == '-') return false;
  }
  return true;
}

Result<San> parse_san(std::string_view s) {
  s = core::trim(s);
  auto typed = [&](std::string_view prefix, SanType t) -> std::optional<San> {
    if (s.size() > prefix.size() && core::to_lower(s.substr(0, prefix.size())) == prefix)
      return San{t, std::string(s.substr(prefix.size()))};
    return std::nullopt;
  };
  std::optional<San> san;
  if (!(san = typed("dns:", SanType::dns)) && !(san = typed("ip:", SanType::ip)) &&
      !(san = typed("email:", SanType::email)) && !(san = typed("uri:", SanType::uri))) {
    std::vector<uint8_t> tmp;
    if (parse_ip(s, tmp))
      san = San{SanType::ip, std::string(s)};
    else if (s.find("://") != std::string_view::npos)
      san = San{SanType::uri, std::string(s)};
    else if (s.find('@') != std::string_view::npos)
      san = San{SanType::email, std::string(s)};
    else
      san = San{SanType::dns, std::string(s)};
  }
  std::vector<uint8_t> ipb;
  switch (san->type) {
    case SanType::dns:
      san->value = core::to_lower(san->value);
      if (!valid_dns(san->value)) return Error(Errc::data, "bad DNS name \"" + san->value + "\"");
      break;
    case SanType::ip:
      if (!parse_ip(san->value, ipb))
        return Error(Errc::data, "bad IP address \"" + san->value + "\"");
      break;
    case SanType::email: {
      auto at = san->value.find('@');
      if (at == std::string::npos || at == 0 || at + 1 == san->value.size() ||
          san->value.find_first_of(" ,<>") != std::string::npos)
        return Error(Errc::data, "bad email address \"" + san->value + "\"");
      break;
    }
    case SanType::uri:
      if (san->value.find(':') == std::string::npos ||
          san->value.find_first_of(" <>\"") != std::string::npos)
        return Error(Errc::data, "bad URI \"" + san->value + "\"");
      break;
  }
  return *san;
}

Result<Profile> parse_profile(std::string_view s) {
  if (s == "server") return Profile::server;
  if (s == "client") return Profile::client;
  if (s == "peer") return Profile::peer;
  return Error(Errc::usage,
               "unknown profile \"" + std::string(s) + "\" (use server, client or peer)");
}

const char* profile_name(Profile p) {
  switch (p) {
    case Profile::server:
      return "server";
    case Profile::client:
      return "client";
    case Profile::peer:
      return "peer";
  }
  return "?";
}

// ---- name constraints ----
static bool dns_within(std::string_view name, std::string_view base) {
  if (base.empty()) return true;
  if (name.size() < base.size()) return false;
  std::string n = core::to_lower(name), b = core::to_lower(base);
  if (n.size() > b.size()) {
    if (b[0] != '.' && n[n.size() - b.size() - 1] != '.') return false;
  }
  return n.compare(n.size() - b.size(), b.size(), b) == 0;
}

static bool parse_cidr(std::string_view cidr, std::vector<uint8_t>& addr, int& bits) {
  auto slash = cidr.find('/');
  std::string_view a = cidr.substr(0, slash);
  if (!parse_ip(a, addr)) return false;
  int max = static_cast<int>(addr.size() * 8);
  if (slash == std::string_view::npos) {
    bits = max;
    return true;
  }
  auto b = core::parse_uint(cidr.substr(slash + 1));
  if (!b || *b > static_cast<uint64_t>(max)) return false;
  bits = static_cast<int>(*b);
  return true;
}

static bool ip_within(const std::vector<uint8_t>& ip, const std::vector<uint8_t>& net, int bits) {
  if (ip.size() != net.size()) return false;
  for (int i = 0; i < bits; i++) {
    int byte = i / 8, bit = 7 - i % 8;
    if (((ip[byte] >> bit) & 1) != ((net[byte] >> bit) & 1)) return false;
  }
  return true;
}

bool permitted(const San& san, const std::vector<std::string>& permit_dns,
               const std::vector<std::string>& permit_ip) {
  if (san.type == SanType::dns) {
    if (permit_dns.empty()) return true;
    std::string name = san.value;
    if (core::starts_with(name, "*.")) name = name.substr(2);
    for (auto& b : permit_dns)
      if (dns_within(name, b)) return true;
    return false;
  }
  if (san.type == SanType::ip) {
    if (permit_ip.empty()) return true;
    std::vector<uint8_t> ip;
    if (!parse_ip(san.value, ip)) return false;
    for (auto& c : permit_ip) {
      std::vector<uint8_t> net;
      int bits = 0;
      if (parse_cidr(c, net, bits) && ip_within(ip, net, bits)) return true;
    }
    return false;
  }
  return true;  // email and URI are not constrained by DNS/IP subtrees
}

void name_constraints(const Cert& ca, std::vector<std::string>& dns, std::vector<std::string>& ip) {
  auto* nc = static_cast<NAME_CONSTRAINTS*>(
      X509_get_ext_d2i(ca.get(), NID_name_constraints, nullptr, nullptr));
  if (!nc) return;
  for (int i = 0; i < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees); i++) {
    GENERAL_SUBTREE* st = sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i);
    GENERAL_NAME* g = st->base;
    if (g->type == GEN_DNS) {
      dns.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)),
                       ASN1_STRING_length(g->d.dNSName));
    } else if (g->type == GEN_IPADD) {
      const uint8_t* d = ASN1_STRING_get0_data(g->d.iPAddress);
      int n = ASN1_STRING_length(g->d.iPAddress);
      if (n != 8 && n != 32) continue;
      int half = n / 2;
      char buf[64];
      inet_ntop(half == 4 ? AF_INET : AF_INET6, d, buf, sizeof buf);
      int bits = 0;
      for (int j = 0; j < half; j++) bits += __builtin_popcount(d[half + j]);
      ip.push_back(std::string(buf) + "/" + std::to_string(bits));
    }
  }
  NAME_CONSTRAINTS_free(nc);
}

// ---- building certificates ----
std::string random_serial_hex() {
  uint8_t b[16];
  RAND_bytes(b, sizeof b);
  b[0] &= 0x7f;
  if (b[0] == 0) b[0] = 0x01;
  return core::hex(b);
}

static Result<void> set_serial(X509* x, const std::string& hex) {
  BIGNUM* bn = nullptr;
  if (!BN_hex2bn(&bn, hex.c_str())) return Error(Errc::internal, "bad serial");
  BnPtr bnp(bn);
  AsnIntPtr ai(BN_to_ASN1_INTEGER(bn, nullptr));
  X509_set_serialNumber(x, ai.get());
  return {};
}

static NamePtr make_name(const std::string& cn, const std::string& org) {
  NamePtr n(X509_NAME_new());
  if (!org.empty())
    X509_NAME_add_entry_by_txt(n.get(), "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(org.c_str()), -1, -1, 0);
  if (!cn.empty())
    X509_NAME_add_entry_by_txt(n.get(), "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return n;
}

static Result<void> add_ext(X509* x, X509V3_CTX* ctx, int nid, const std::string& value) {
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext) return ssl_err(Errc::data, std::string("extension ") + OBJ_nid2sn(nid));
  X509_add_ext(x, ext.get(), -1);
  return {};
}

static Result<GensPtr> make_gens(const std::vector<San>& sans) {
  GensPtr gens(sk_GENERAL_NAME_new_null());
  for (auto& s : sans) {
    GENERAL_NAME* g = GENERAL_NAME_new();
    if (s.type == SanType::ip) {
      ASN1_OCTET_STRING* o = a2i_IPADDRESS(s.value.c_str());
      if (!o) {
        GENERAL_NAME_free(g);
        return Error(Errc::data, "bad IP address \"" + s.value + "\"");
      }
      GENERAL_NAME_set0_value(g, GEN_IPADD, o);
    } else {
      ASN1_IA5STRING* str = ASN1_IA5STRING_new();
      ASN1_STRING_set(str, s.value.data(), static_cast<int>(s.value.size()));
      int t = s.type == SanType::dns ? GEN_DNS : s.type == SanType::email ? GEN_EMAIL : GEN_URI;
      GENERAL_NAME_set0_value(g, t, str);
    }
    sk_GENERAL_NAME_push(gens.get(), g);
  }
  return gens;
}

static std::string ip_to_conf(const std::string& cidr, Result<void>& status) {
  std::vector<uint8_t> net;
  int bits = 0;
  if (!parse_cidr(cidr, net, bits)) {
    status = Error(Errc::usage, "bad IP range \"" + cidr + "\" (use CIDR, e.g. 10.0.0.0/8)");
    return "";
  }
  std::vector<uint8_t> mask(net.size(), 0);
  for (int i = 0; i < bits; i++) mask[i / 8] |= static_cast<uint8_t>(0x80 >> (i % 8));
  for (size_t i = 0; i < net.size(); i++) net[i] &= mask[i];
  char a[64], m[64];
  int af = net.size() == 4 ? AF_INET : AF_INET6;
  inet_ntop(af, net.data(), a, sizeof a);
  inet_ntop(af, mask.data(), m, sizeof m);
  return std::string("IP:") + a + "/" + m;
}

// X509_set_pubkey goes through the provider encoders (~2M instructions on OpenSSL 3.0); for
// P-256 and Ed25519 the SubjectPublicKeyInfo is just an algorithm id and the raw public key.
static bool set_pubkey_fast(X509* x, const Key& k) {
  uint8_t buf[65];
  size_t len = 0;
  ASN1_OBJECT* alg = nullptr;
  int ptype = V_ASN1_UNDEF;
  void* pval = nullptr;
  if (k.type() == KeyType::p256) {
    if (EVP_PKEY_get_octet_string_param(k.get(), OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof buf, &len) !=
            1 ||
        len != 65 || buf[0] != 4)
      return false;
    alg = OBJ_nid2obj(NID_X9_62_id_ecPublicKey);
    ptype = V_ASN1_OBJECT;
    pval = OBJ_nid2obj(NID_X9_62_prime256v1);
  } else if (k.type() == KeyType::ed25519) {
    len = 32;
    if (EVP_PKEY_get_raw_public_key(k.get(), buf, &len) != 1 || len != 32) return false;
    alg = OBJ_nid2obj(NID_ED25519);
  } else {
    return false;
  }
  auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(len));
  std::memcpy(copy, buf, len);
  if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), alg, ptype, pval, copy,
                             static_cast<int>(len)) != 1) {
    OPENSSL_free(copy);
    return false;
  }
  return true;
}

// A certificate built with set_pubkey_fast carries no decoded key object, which verification
// and PKCS#12 need: hand out the parsed DER instead, as any reader of the file would see it.
static Result<Cert> reparsed(const Cert& c) {
  unsigned char* der = nullptr;
  int n = i2d_X509(c.get(), &der);
  if (n <= 0) return ssl_err(Errc::internal, "encode certificate");
  const unsigned char* p = der;
  X509* x = d2i_X509(nullptr, &p, n);
  OPENSSL_free(der);
  if (!x) return ssl_err(Errc::internal, "decode certificate");
  return Cert(x);
}

// c itself when its key is decoded, else its reparsed DER.
static Cert usable(const Cert& c) {
  if (X509_get0_pubkey(c.get())) return c;
  ERR_clear_error();
  auto r = reparsed(c);
  return r ? *r : c;
}

static Result<X509*> new_cert(const Key& pub, const std::string& serial, const std::string& cn,
                              const std::string& org, int64_t days, std::time_t now) {
  if (days <= 0 || days > 36500) return Error(Errc::usage, "validity must be 1..36500 days");
  X509* x = X509_new();
  X509_set_version(x, 2);
  if (auto r = set_serial(x, serial); !r) {
    X509_free(x);
    return r.error();
  }
  // Backdate a little for clock skew between issuer and relying parties.
  X509_time_adj_ex(X509_getm_notBefore(x), 0, -300, &now);
  X509_time_adj_ex(X509_getm_notAfter(x), static_cast<int>(days), 0, &now);
  auto name = make_name(cn, org);
  X509_set_subject_name(x, name.get());
  if (!set_pubkey_fast(x, pub)) X509_set_pubkey(x, pub.get());
  return x;
}

static Result<Cert> finish_ca(X509* x, const CaParams& p, X509* issuer, const Key& signer,
                              bool root) {
  Cert cert(x);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer ? issuer : x, x, nullptr, nullptr, 0);
  std::string bc = "critical,CA:TRUE";
  if (p.path_len >= 0) bc += ",pathlen:" + std::to_string(p.path_len);
  WARREN_CHECK(add_ext(x, &ctx, NID_basic_constraints, bc));
  WARREN_CHECK(add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"));
  WARREN_CHECK(add_ext(x, &ctx, NID_subject_key_identifier, "hash"));
  if (!root) WARREN_CHECK(add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (!p.permit_dns.empty() || !p.permit_ip.empty()) {
    std::string nc = "critical";
    for (auto& d : p.permit_dns) {
      std::string v = core::to_lower(d);
      if (!valid_dns(v[0] == '.' ? v.substr(1) : v))
        return Error(Errc::usage, "bad DNS suffix \"" + d + "\"");
      nc += ",permitted;DNS:" + v;
    }
    Result<void> st;
    for (auto& ip : p.permit_ip) {
      std::string v = ip_to_conf(ip, st);
      if (!st) return st.error();
      nc += ",permitted;" + v;
    }
    WARREN_CHECK(add_ext(x, &ctx, NID_name_constraints, nc));
  }
  if (!X509_sign(x, signer.get(), md_for(signer))) return ssl_err(Errc::internal, "sign");
  return reparsed(cert);
}

Result<Cert> make_root(const Key& key, const CaParams& p, const std::string& serial,
                       std::time_t now) {
  WARREN_TRY(x, new_cert(key, serial, p.common_name, p.organization, p.days, now));
  auto name = make_name(p.common_name, p.organization);
  X509_set_issuer_name(x, name.get());
  return finish_ca(x, p, nullptr, key, true);
}

Result<Cert> make_intermediate(const Key& key, const CaParams& p, const Cert& issuer,
                               const Key& issuer_key, const std::string& serial, std::time_t now) {
  WARREN_TRY(x, new_cert(key, serial, p.common_name, p.organization, p.days, now));
  X509_set_issuer_name(x, X509_get_subject_name(issuer.get()));
  return finish_ca(x, p, issuer.get(), issuer_key, false);
}

Result<Cert> issue(const Key& subject_key, const LeafParams& p, const Cert& issuer,
                   const Key& issuer_key, const std::vector<Cert>& chain, const std::string& serial,
                   std::time_t now) {
  if (p.sans.empty() && p.common_name.empty())
    return Error(Errc::usage, "a certificate needs a common name or at least one SAN");
  // Name constraints of every CA above the leaf.
  for (const Cert& ca : chain) {
    std::vector<std::string> dns, ip;
    name_constraints(ca, dns, ip);
    bool has_dns_san = false;
    for (auto& s : p.sans) {
      has_dns_san |= s.type == SanType::dns;
      if (!permitted(s, dns, ip))
        return Error(Errc::data, "SAN " + s.str() + " is outside the CA's name constraints");
    }
    // A CN that looks like a host name is checked too when there are no DNS SANs (as OpenSSL).
    if (!has_dns_san && p.common_name.find('.') != std::string::npos && valid_dns(p.common_name) &&
        !permitted({SanType::dns, p.common_name}, dns, {}))
      return Error(Errc::data,
                   "common name " + p.common_name + " is outside the CA's name constraints");
  }
  WARREN_TRY(x, new_cert(subject_key, serial, p.common_name, "", p.days, now));
  Cert cert(x);
  X509_set_issuer_name(x, X509_get_subject_name(issuer.get()));
  // A leaf never outlives its issuer.
  if (X509_cmp_time(X509_get0_notAfter(issuer.get()), nullptr) &&
      ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(issuer.get())) > 0)
    X509_set1_notAfter(x, X509_get0_notAfter(issuer.get()));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer.get(), x, nullptr, nullptr, 0);
  WARREN_CHECK(add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE"));
  std::string ku = "critical,digitalSignature";
  if (subject_key.type() == KeyType::rsa3072) ku += ",keyEncipherment";
  WARREN_CHECK(add_ext(x, &ctx, NID_key_usage, ku));
  const char* eku = p.profile == Profile::server   ? "serverAuth"
                    : p.profile == Profile::client ? "clientAuth"
                                                   : "serverAuth,clientAuth";
  WARREN_CHECK(add_ext(x, &ctx, NID_ext_key_usage, eku));
  WARREN_CHECK(add_ext(x, &ctx, NID_subject_key_identifier, "hash"));
  WARREN_CHECK(add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (!p.sans.empty()) {
    WARREN_TRY(gens, make_gens(p.sans));
    if (!X509_add1_ext_i2d(x, NID_subject_alt_name, gens.get(), p.common_name.empty() ? 1 : 0,
                           X509V3_ADD_DEFAULT))
      return ssl_err(Errc::internal, "subjectAltName");
  }
  if (!X509_sign(x, issuer_key.get(), md_for(issuer_key))) return ssl_err(Errc::internal, "sign");
  return cert;  // reparsed lazily by usable() where a decoded key is needed (rare for leaves)
}

// ---- parsing ----
Result<Cert> parse_cert(std::string_view data) {
  X509* x = nullptr;
  if (data.find("-----BEGIN") != std::string_view::npos) {
    auto b = mem_bio(data);
    x = PEM_read_bio_X509(b.get(), nullptr, pass_cb, nullptr);
  } else {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
    x = d2i_X509(nullptr, &p, static_cast<long>(data.size()));
  }
  if (!x) {
    ERR_clear_error();
    return Error(Errc::data, "not a certificate (PEM or DER)");
  }
  return Cert(x);
}

Result<std::vector<Cert>> parse_certs(std::string_view pem) {
  std::vector<Cert> out;
  auto b = mem_bio(pem);
  for (;;) {
    X509* x = PEM_read_bio_X509(b.get(), nullptr, pass_cb, nullptr);
    if (!x) break;
    out.emplace_back(x);
  }
  ERR_clear_error();
  if (out.empty()) return Error(Errc::data, "no PEM certificate found");
  return out;
}

std::string cert_pem(const Cert& c) {
  auto b = out_bio();
  PEM_write_bio_X509(b.get(), c.get());
  return bio_string(b.get());
}

std::string cert_der(const Cert& c) {
  unsigned char* p = nullptr;
  int n = i2d_X509(c.get(), &p);
  std::string out(reinterpret_cast<char*>(p), n > 0 ? static_cast<size_t>(n) : 0);
  OPENSSL_free(p);
  return out;
}

Key cert_public_key(const Cert& c) {
  EVP_PKEY* k = X509_get_pubkey(usable(c).get());
  Key key(k);
  key.set_has_private(false);
  return key;
}

static std::vector<San> sans_of(const GENERAL_NAMES* gens) {
  std::vector<San> out;
  for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(gens, i);
    auto str = [](const ASN1_STRING* s) {
      return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<size_t>(ASN1_STRING_length(s)));
    };
    switch (g->type) {
      case GEN_DNS:
        out.push_back({SanType::dns, str(g->d.dNSName)});
        break;
      case GEN_EMAIL:
        out.push_back({SanType::email, str(g->d.rfc822Name)});
        break;
      case GEN_URI:
        out.push_back({SanType::uri, str(g->d.uniformResourceIdentifier)});
        break;
      case GEN_IPADD: {
        int n = ASN1_STRING_length(g->d.iPAddress);
        char buf[64];
        if (n == 4 || n == 16) {
          inet_ntop(n == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(g->d.iPAddress), buf,
                    sizeof buf);
          out.push_back({SanType::ip, buf});
        }
        break;
      }
      default:
        break;
    }
  }
  return out;
}

static std::string name_text(const X509_NAME* n) {
  auto b = out_bio();
  X509_NAME_print_ex(b.get(), n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  return bio_string(b.get());
}

static std::string name_cn(const X509_NAME* n) {
  int i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
  if (i < 0) return "";
  ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, s);
  if (len < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

static std::string serial_hex(const ASN1_INTEGER* ai) {
  BnPtr bn(ASN1_INTEGER_to_BN(ai, nullptr));
  char* h = BN_bn2hex(bn.get());
  std::string out = core::to_lower(h);
  OPENSSL_free(h);
  if (out.size() % 2) out = "0" + out;
  return out;
}

CertInfo inspect(const Cert& c) {
  CertInfo i;
  X509* x = c.get();
  i.serial = serial_hex(X509_get0_serialNumber(x));
  i.subject = name_text(X509_get_subject_name(x));
  i.issuer = name_text(X509_get_issuer_name(x));
  i.common_name = name_cn(X509_get_subject_name(x));
  if (auto* gens = static_cast<GENERAL_NAMES*>(
          X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr))) {
    i.sans = sans_of(gens);
    GENERAL_NAMES_free(gens);
  }
  i.not_before = asn1_to_time(X509_get0_notBefore(x));
  i.not_after = asn1_to_time(X509_get0_notAfter(x));
  i.is_ca = X509_check_ca(x) > 0;
  // Key type from the SubjectPublicKeyInfo algorithm, without decoding the key.
  ASN1_OBJECT* alg = nullptr;
  X509_PUBKEY_get0_param(&alg, nullptr, nullptr, nullptr, X509_get_X509_PUBKEY(x));
  switch (alg ? OBJ_obj2nid(alg) : NID_undef) {
    case NID_X9_62_id_ecPublicKey:
      i.key_type = "p256";
      break;
    case NID_ED25519:
      i.key_type = "ed25519";
      break;
    case NID_rsaEncryption:
      i.key_type = "rsa";
      break;
    default:
      i.key_type = "unknown";
      break;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(x, EVP_sha256(), md, &n);
  i.sha256 = core::hex({md, n});
  return i;
}

Result<Csr> parse_csr(std::string_view data) {
  X509_REQ* r = nullptr;
  if (data.find("-----BEGIN") != std::string_view::npos) {
    auto b = mem_bio(data);
    r = PEM_read_bio_X509_REQ(b.get(), nullptr, pass_cb, nullptr);
  } else {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
    r = d2i_X509_REQ(nullptr, &p, static_cast<long>(data.size()));
  }
  if (!r) {
    ERR_clear_error();
    return Error(Errc::data, "not a certificate signing request (PEM or DER)");
  }
  Csr csr(r);
  EVP_PKEY* pk = X509_REQ_get0_pubkey(r);
  if (!pk || X509_REQ_verify(r, pk) != 1) {
    ERR_clear_error();
    return Error(Errc::data, "CSR signature does not verify");
  }
  return csr;
}

Result<CsrInfo> csr_info(const Csr& csr) {
  CsrInfo info;
  EVP_PKEY* pk = X509_REQ_get_pubkey(csr.get());
  if (!pk) return Error(Errc::data, "CSR has no public key");
  info.public_key = Key(pk);
  info.public_key.set_has_private(false);
  int base = EVP_PKEY_get_base_id(pk);
  if (base == EVP_PKEY_EC) {
    char group[64] = {0};
    size_t len = 0;
    EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len);
    if (std::string(group) != "prime256v1" && std::string(group) != "P-256")
      return Error(Errc::data, std::string("CSR key curve ") + group + " is not supported (P-256)");
  } else if (base == EVP_PKEY_RSA) {
    if (EVP_PKEY_get_bits(pk) < 2048)
      return Error(Errc::data, "CSR RSA key shorter than 2048 bits");
  } else if (base != EVP_PKEY_ED25519) {
    return Error(Errc::data, "CSR key type is not supported (P-256, Ed25519 or RSA)");
  }
  info.common_name = name_cn(X509_REQ_get_subject_name(csr.get()));
  if (STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(csr.get())) {
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
      X509_EXTENSION* e = sk_X509_EXTENSION_value(exts, i);
      if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) != NID_subject_alt_name) continue;
      auto* gens = static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(e));
      if (gens) {
        info.sans = sans_of(gens);
        GENERAL_NAMES_free(gens);
      }
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  }
  // Re-validate the requested names with our own rules.
  for (auto& s : info.sans) {
    auto r = parse_san(s.str());
    if (!r) return r.error().context("CSR");
    s = *r;
  }
  return info;
}

Result<std::string> make_csr_pem(const Key& key, const std::string& cn,
                                 const std::vector<San>& sans) {
  std::unique_ptr<X509_REQ, Free<X509_REQ, X509_REQ_free>> r(X509_REQ_new());
  X509_REQ_set_version(r.get(), 0);
  auto name = make_name(cn, "");
  X509_REQ_set_subject_name(r.get(), name.get());
  X509_REQ_set_pubkey(r.get(), key.get());
  if (!sans.empty()) {
    WARREN_TRY(gens, make_gens(sans));
    STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
    sk_X509_EXTENSION_push(exts, X509V3_EXT_i2d(NID_subject_alt_name, 0, gens.get()));
    X509_REQ_add_extensions(r.get(), exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  }
  if (!X509_REQ_sign(r.get(), key.get(), md_for(key))) return ssl_err(Errc::internal, "sign CSR");
  auto b = out_bio();
  PEM_write_bio_X509_REQ(b.get(), r.get());
  return bio_string(b.get());
}

// ---- CRL ----
const std::vector<std::string>& reasons() {
  static const std::vector<std::string> r = {
      "unspecified",        "keyCompromise",        "caCompromise",    "affiliationChanged",
      "superseded",         "cessationOfOperation", "certificateHold", "removeFromCRL",
      "privilegeWithdrawn", "aACompromise"};
  return r;
}

bool valid_reason(std::string_view r) {
  for (auto& x : reasons())
    if (x == r && x != "removeFromCRL") return true;
  return false;
}

static int reason_code(const std::string& r) {
  auto& v = reasons();
  for (size_t i = 0; i < v.size(); i++)
    if (v[i] == r) return static_cast<int>(i);
  return 0;
}

Result<std::string> make_crl(const Cert& issuer, const Key& issuer_key,
                             const std::vector<Revoked>& revoked, int64_t number, std::time_t now,
                             std::time_t next_update, bool der) {
  std::unique_ptr<X509_CRL, Free<X509_CRL, X509_CRL_free>> crl(X509_CRL_new());
  X509_CRL* c = crl.get();
  X509_CRL_set_version(c, 1);
  X509_CRL_set_issuer_name(c, X509_get_subject_name(issuer.get()));
  TimePtr last(ASN1_TIME_set(nullptr, now)), next(ASN1_TIME_set(nullptr, next_update));
  X509_CRL_set1_lastUpdate(c, last.get());
  X509_CRL_set1_nextUpdate(c, next.get());
  std::unique_ptr<ASN1_ENUMERATED, Free<ASN1_ENUMERATED, ASN1_ENUMERATED_free>> reason(
      ASN1_ENUMERATED_new());
  for (const auto& r : revoked) {
    X509_REVOKED* rev = X509_REVOKED_new();
    BIGNUM* bn = nullptr;
    if (!BN_hex2bn(&bn, r.serial.c_str())) {
      X509_REVOKED_free(rev);
      return Error(Errc::data, "bad serial " + r.serial);
    }
    BnPtr bnp(bn);
    AsnIntPtr ai(BN_to_ASN1_INTEGER(bn, nullptr));
    X509_REVOKED_set_serialNumber(rev, ai.get());
    TimePtr when(ASN1_TIME_set(nullptr, r.when));
    X509_REVOKED_set_revocationDate(rev, when.get());
    int code = reason_code(r.reason);
    if (code != 0) {
      ASN1_ENUMERATED_set(reason.get(), code);
      X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, reason.get(), 0, 0);
    }
    X509_CRL_add0_revoked(c, rev);
  }
  AsnIntPtr num(ASN1_INTEGER_new());
  ASN1_INTEGER_set_int64(num.get(), number);
  X509_CRL_add1_ext_i2d(c, NID_crl_number, num.get(), 0, 0);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer.get(), nullptr, nullptr, c, 0);
  ExtPtr aki(X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (aki) X509_CRL_add_ext(c, aki.get(), -1);
  X509_CRL_sort(c);
  if (!X509_CRL_sign(c, issuer_key.get(), md_for(issuer_key)))
    return ssl_err(Errc::internal, "sign CRL");
  auto b = out_bio();
  if (der)
    i2d_X509_CRL_bio(b.get(), c);
  else
    PEM_write_bio_X509_CRL(b.get(), c);
  return bio_string(b.get());
}

Result<void> verify(const Cert& leaf, const std::vector<Cert>& intermediates, const Cert& root,
                    const std::optional<std::string>& crl_pem, std::time_t now) {
  std::unique_ptr<X509_STORE, Free<X509_STORE, X509_STORE_free>> st(X509_STORE_new());
  Cert r = usable(root);
  X509_STORE_add_cert(st.get(), r.get());
  if (crl_pem) {
    auto b = mem_bio(*crl_pem);
    int n = 0;
    while (X509_CRL* crl = PEM_read_bio_X509_CRL(b.get(), nullptr, pass_cb, nullptr)) {
      X509_STORE_add_crl(st.get(), crl);
      X509_CRL_free(crl);
      n++;
    }
    ERR_clear_error();
    if (n == 0) return Error(Errc::data, "no PEM CRL found");
    X509_STORE_set_flags(st.get(), X509_V_FLAG_CRL_CHECK);
  }
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> chain(
      sk_X509_new_null(), [](STACK_OF(X509) * s) { sk_X509_free(s); });
  std::vector<Cert> keep;
  for (auto& c : intermediates) {
    keep.push_back(usable(c));
    sk_X509_push(chain.get(), keep.back().get());
  }
  Cert l = usable(leaf);
  std::unique_ptr<X509_STORE_CTX, Free<X509_STORE_CTX, X509_STORE_CTX_free>> ctx(
      X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), st.get(), l.get(), chain.get());
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()), now);
  if (X509_verify_cert(ctx.get()) != 1) {
    int e = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return Error(Errc::failure, X509_verify_cert_error_string(e));
  }
  return {};
}

Result<std::string> make_p12(const Key& key, const Cert& cert, const std::vector<Cert>& chain,
                             const std::string& passphrase, const std::string& friendly) {
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> ca(
      sk_X509_new_null(), [](STACK_OF(X509) * s) { sk_X509_free(s); });
  std::vector<Cert> keep;
  for (auto& c : chain) {
    keep.push_back(usable(c));
    sk_X509_push(ca.get(), keep.back().get());
  }
  Cert leaf = usable(cert);
  PKCS12* p12 = PKCS12_create(passphrase.c_str(), friendly.c_str(), key.get(), leaf.get(), ca.get(),
                              NID_aes_256_cbc, NID_aes_256_cbc, 0, 0, 0);
  if (!p12) return ssl_err(Errc::internal, "PKCS#12");
  auto b = out_bio();
  i2d_PKCS12_bio(b.get(), p12);
  PKCS12_free(p12);
  return bio_string(b.get());
}

}  // namespace pki
