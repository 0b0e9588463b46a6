#include <openssl/x509.h>

#include "../support.h"
#include "core/text.h"
#include "pki/pki.h"

namespace {
constexpr std::time_t kNow = 1795399200;  // 2026-11-23T02:00:00Z

struct Ca {
  pki::Key root_key, int_key;
  pki::Cert root, inter;
  explicit Ca(std::vector<std::string> dns = {}, std::vector<std::string> ip = {},
              pki::KeyType kt = pki::KeyType::p256) {
    root_key = *pki::generate_key(kt);
    int_key = *pki::generate_key(kt);
    pki::CaParams rp{"Test Root", "T", 3650, dns, ip};
    pki::CaParams ipar{"Test Int", "T", 1825, dns, ip, 0};
    auto r = pki::make_root(root_key, rp, pki::random_serial_hex(), kNow);
    REQUIRE(r);
    root = *r;
    auto i = pki::make_intermediate(int_key, ipar, root, root_key, pki::random_serial_hex(), kNow);
    REQUIRE(i);
    inter = *i;
  }
  core::Result<pki::Cert> leaf(const pki::LeafParams& p, pki::KeyType kt = pki::KeyType::p256) {
    auto k = pki::generate_key(kt);
    return pki::issue(*k, p, inter, int_key, {inter, root}, pki::random_serial_hex(), kNow);
  }
};
}  // namespace

TEST_CASE("SANs parse typed and untyped, and reject junk", "[pki]") {
  REQUIRE(pki::parse_san("DNS:Web.Example.com")->str() == "DNS:web.example.com");
  REQUIRE(pki::parse_san("10.1.2.3")->type == pki::SanType::ip);
  REQUIRE(pki::parse_san("::1")->type == pki::SanType::ip);
  REQUIRE(pki::parse_san("a@b.c")->type == pki::SanType::email);
  REQUIRE(pki::parse_san("spiffe://warren/site/1")->type == pki::SanType::uri);
  REQUIRE(pki::parse_san("*.example.com")->type == pki::SanType::dns);
  REQUIRE_FALSE(pki::parse_san("IP:300.1.1.1"));
  REQUIRE_FALSE(pki::parse_san("bad name!"));
  REQUIRE_FALSE(pki::parse_san("email:nobody"));
  REQUIRE(pki::parse_san("-x.com").error().code == core::Errc::data);
}

TEST_CASE("name constraints: DNS suffix and CIDR semantics", "[pki]") {
  std::vector<std::string> dns{"example.com"}, ip{"10.0.0.0/8", "fd00::/8"};
  auto ok = [&](const char* s) { return pki::permitted(*pki::parse_san(s), dns, ip); };
  REQUIRE(ok("example.com"));
  REQUIRE(ok("a.b.example.com"));
  REQUIRE(ok("*.example.com"));
  REQUIRE_FALSE(ok("badexample.com"));
  REQUIRE_FALSE(ok("example.org"));
  REQUIRE(ok("10.255.0.1"));
  REQUIRE_FALSE(ok("11.0.0.1"));
  REQUIRE(ok("fd12::1"));
  REQUIRE_FALSE(ok("fe80::1"));
  REQUIRE(ok("email:x@anywhere.org"));  // not constrained by DNS/IP subtrees
  std::vector<std::string> dot{".example.com"};
  REQUIRE_FALSE(pki::permitted(*pki::parse_san("example.com"), dot, {}));
  REQUIRE(pki::permitted(*pki::parse_san("a.example.com"), dot, {}));
}

TEST_CASE("root, intermediate and leaf form a chain that verifies", "[pki]") {
  for (auto kt : {pki::KeyType::p256, pki::KeyType::ed25519}) {
    Ca ca({}, {}, kt);
    pki::LeafParams p{
        "web.example.com", {*pki::parse_san("web.example.com")}, pki::Profile::server, 90};
    auto leaf = ca.leaf(p, kt);
    REQUIRE(leaf);
    REQUIRE(pki::verify(*leaf, {ca.inter}, ca.root, std::nullopt, kNow + 10));
    auto info = pki::inspect(*leaf);
    REQUIRE(info.common_name == "web.example.com");
    REQUIRE(info.sans.size() == 1);
    REQUIRE_FALSE(info.is_ca);
    REQUIRE(info.not_after - info.not_before == 90 * 86400 + 300);
    REQUIRE(pki::inspect(ca.inter).is_ca);
    // Expired leaf does not verify.
    auto late = pki::verify(*leaf, {ca.inter}, ca.root, std::nullopt, kNow + 91 * 86400);
    REQUIRE_FALSE(late);
    REQUIRE(late.error().message.find("expired") != std::string::npos);
    // Without the intermediate it does not verify either.
    REQUIRE_FALSE(pki::verify(*leaf, {}, ca.root, std::nullopt, kNow + 10));
  }
}

TEST_CASE("issue refuses SANs outside the CA's name constraints", "[pki]") {
  Ca ca({"example.com"}, {"127.0.0.0/8"});
  pki::LeafParams good{"a.example.com",
                       {*pki::parse_san("a.example.com"), *pki::parse_san("127.0.0.1")},
                       pki::Profile::server,
                       30};
  auto leaf = ca.leaf(good);
  REQUIRE(leaf);
  REQUIRE(pki::verify(*leaf, {ca.inter}, ca.root, std::nullopt, kNow + 10));
  pki::LeafParams bad = good;
  bad.sans.push_back(*pki::parse_san("evil.org"));
  auto r = ca.leaf(bad);
  REQUIRE_FALSE(r);
  REQUIRE(r.error().code == core::Errc::data);
  REQUIRE(r.error().message.find("DNS:evil.org") != std::string::npos);
  pki::LeafParams badip = good;
  badip.sans = {*pki::parse_san("192.168.0.1")};
  REQUIRE_FALSE(ca.leaf(badip));
  std::vector<std::string> dns, ip;
  pki::name_constraints(ca.inter, dns, ip);
  REQUIRE(dns == std::vector<std::string>{"example.com"});
  REQUIRE(ip == std::vector<std::string>{"127.0.0.0/8"});
}

TEST_CASE("private keys round-trip; encrypted keys need the right passphrase", "[pki]") {
  for (auto kt : {pki::KeyType::p256, pki::KeyType::ed25519}) {
    auto k = pki::generate_key(kt);
    REQUIRE(k);
    auto plain = pki::private_key_pem(*k, std::nullopt);
    REQUIRE(plain);
    REQUIRE(plain->find("BEGIN PRIVATE KEY") != std::string::npos);
    auto back = pki::parse_private_key(*plain, std::nullopt);
    REQUIRE(back);
    REQUIRE(pki::same_public_key(*k, *back));
    REQUIRE(back->type() == kt);
    auto enc = pki::private_key_pem(*k, std::string("pw"));
    REQUIRE(enc);
    REQUIRE(pki::is_encrypted_pem(*enc));
    REQUIRE(pki::parse_private_key(*enc, std::string("pw")));
    auto wrong = pki::parse_private_key(*enc, std::string("nope"));
    REQUIRE(wrong.error().code == core::Errc::noperm);
    REQUIRE(pki::parse_private_key(*enc, std::nullopt).error().code == core::Errc::noperm);
  }
  REQUIRE(pki::parse_private_key("garbage", std::nullopt).error().code == core::Errc::data);
}

TEST_CASE("CSRs: parsed, signature checked, SANs extracted", "[pki]") {
  auto k = pki::generate_key(pki::KeyType::p256);
  auto pem = pki::make_csr_pem(*k, "svc.example.com",
                               {*pki::parse_san("svc.example.com"), *pki::parse_san("10.0.0.7")});
  REQUIRE(pem);
  auto csr = pki::parse_csr(*pem);
  REQUIRE(csr);
  auto info = pki::csr_info(*csr);
  REQUIRE(info);
  REQUIRE(info->common_name == "svc.example.com");
  REQUIRE(info->sans.size() == 2);
  REQUIRE(pki::same_public_key(info->public_key, *k));
  // Flip a byte in the base64 body: either unparseable or a bad signature, never accepted.
  std::string bad = *pem;
  bad[bad.size() / 2] = bad[bad.size() / 2] == 'A' ? 'B' : 'A';
  auto r = pki::parse_csr(bad);
  REQUIRE_FALSE(r);
  REQUIRE(r.error().code == core::Errc::data);
  REQUIRE(pki::parse_csr("").error().code == core::Errc::data);
}

TEST_CASE("CRL lists revoked serials and makes the leaf fail verification", "[pki]") {
  Ca ca;
  pki::LeafParams p{"a.example.com", {*pki::parse_san("a.example.com")}, pki::Profile::peer, 30};
  auto leaf = ca.leaf(p);
  auto other = ca.leaf(p);
  REQUIRE(leaf);
  auto serial = pki::inspect(*leaf).serial;
  auto crl = pki::make_crl(ca.inter, ca.int_key, {{serial, kNow, "keyCompromise"}}, 1, kNow,
                           kNow + 7 * 86400, false);
  REQUIRE(crl);
  auto r = pki::verify(*leaf, {ca.inter}, ca.root, *crl, kNow + 10);
  REQUIRE_FALSE(r);
  REQUIRE(r.error().message.find("revoked") != std::string::npos);
  REQUIRE(pki::verify(*other, {ca.inter}, ca.root, *crl, kNow + 10));
  auto der = pki::make_crl(ca.inter, ca.int_key, {}, 2, kNow, kNow + 86400, true);
  REQUIRE(der);
  REQUIRE(der->find("-----BEGIN") == std::string::npos);
}

TEST_CASE("a leaf never outlives its issuer", "[pki]") {
  Ca ca;
  pki::LeafParams p{"long.example.com", {}, pki::Profile::server, 36000};
  auto leaf = ca.leaf(p);
  REQUIRE(leaf);
  REQUIRE(pki::inspect(*leaf).not_after <= pki::inspect(ca.inter).not_after);
}

TEST_CASE("PKCS#12 bundles are produced", "[pki]") {
  Ca ca;
  auto k = pki::generate_key(pki::KeyType::p256);
  pki::LeafParams p{"c", {}, pki::Profile::client, 30};
  auto leaf = pki::issue(*k, p, ca.inter, ca.int_key, {ca.inter, ca.root}, "0a0b", kNow);
  REQUIRE(leaf);
  REQUIRE(pki::inspect(*leaf).serial == "0a0b");
  auto p12 = pki::make_p12(*k, *leaf, {ca.inter, ca.root}, "pw", "c");
  REQUIRE(p12);
  REQUIRE(p12->size() > 500);
}
