// The Noise layer against the published cacophony vectors (IK and IKpsk2, 25519, ChaChaPoly and
// AESGCM, BLAKE2b): every handshake message, every transport message and the handshake hash,
// byte for byte, in both directions.
#include "../support.h"

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/text.h"
#include "tunnel/proto/noise.h"

using namespace tunnel::proto;

namespace {

std::vector<uint8_t> unhex(const boost::json::value& v) {
  auto b = core::unhex(std::string(v.as_string()));
  REQUIRE(b);
  return *b;
}

Key key(const boost::json::value& v) {
  auto b = unhex(v);
  REQUIRE(b.size() == 32);
  Key k;
  std::copy(b.begin(), b.end(), k.begin());
  return k;
}

boost::json::value load(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return boost::json::parse(ss.str());
}

const std::vector<std::string> kNames = {
    "Noise_IK_25519_ChaChaPoly_BLAKE2b", "Noise_IK_25519_AESGCM_BLAKE2b",
    "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b", "Noise_IKpsk2_25519_AESGCM_BLAKE2b"};

// Runs one vector; returns the number of messages checked.
int run_vector(const boost::json::object& v) {
  std::string name(v.at("protocol_name").as_string());
  INFO(name);
  auto suite = suite_from_name(name);
  REQUIRE(suite);
  REQUIRE(protocol_name(*suite) == name);

  Handshake::Config ic;
  ic.suite = *suite;
  ic.role = Handshake::Role::initiator;
  ic.static_priv = key(v.at("init_static"));
  ic.remote_static = key(v.at("init_remote_static"));
  ic.ephemeral_priv = key(v.at("init_ephemeral"));
  ic.prologue = unhex(v.at("init_prologue"));
  Handshake::Config rc;
  rc.suite = *suite;
  rc.role = Handshake::Role::responder;
  rc.static_priv = key(v.at("resp_static"));
  rc.ephemeral_priv = key(v.at("resp_ephemeral"));
  rc.prologue = unhex(v.at("resp_prologue"));
  if (uses_psk(*suite)) {
    ic.psk = key(v.at("init_psks").as_array().at(0));
    rc.psk = key(v.at("resp_psks").as_array().at(0));
  }
  Key init_pub = crypto::public_from_private(ic.static_priv);
  Handshake init(ic), resp(rc);

  const auto& msgs = v.at("messages").as_array();
  REQUIRE(msgs.size() == 6);
  auto payload = [&](size_t i) { return unhex(msgs[i].at("payload")); };
  auto ciphertext = [&](size_t i) { return unhex(msgs[i].at("ciphertext")); };

  std::vector<uint8_t> out, got;
  REQUIRE(init.write_message1(payload(0), out) == Fault::none);
  REQUIRE(core::hex(out) == core::hex(ciphertext(0)));
  Key seen{};
  REQUIRE(resp.read_message1(out, got, [&](const Key& k) {
    seen = k;
    return Fault::none;
  }) == Fault::none);
  REQUIRE(seen == init_pub);
  REQUIRE(resp.remote_static() == init_pub);
  REQUIRE(got == payload(0));

  out.clear();
  REQUIRE(resp.write_message2(payload(1), out) == Fault::none);
  REQUIRE(core::hex(out) == core::hex(ciphertext(1)));
  REQUIRE(init.read_message2(out, got) == Fault::none);
  REQUIRE(got == payload(1));
  REQUIRE(init.done());
  REQUIRE(resp.done());
  REQUIRE(core::hex(init.handshake_hash()) == std::string(v.at("handshake_hash").as_string()));
  REQUIRE(core::hex(resp.handshake_hash()) == core::hex(init.handshake_hash()));

  auto ik = init.split(), rk = resp.split();
  REQUIRE(ik.send == rk.recv);
  REQUIRE(ik.recv == rk.send);
  CipherState i_send(cipher_of(*suite)), i_recv(cipher_of(*suite));
  CipherState r_send(cipher_of(*suite)), r_recv(cipher_of(*suite));
  i_send.initialize_key(ik.send);
  i_recv.initialize_key(ik.recv);
  r_send.initialize_key(rk.send);
  r_recv.initialize_key(rk.recv);
  int checked = 2;
  for (size_t i = 2; i < msgs.size(); ++i) {
    bool from_init = i % 2 == 0;
    auto p = payload(i);
    std::vector<uint8_t> ct(p.size() + kTagLen);
    REQUIRE((from_init ? i_send : r_send).encrypt({}, p.data(), p.size(), ct.data()));
    REQUIRE(core::hex(ct) == core::hex(ciphertext(i)));
    std::vector<uint8_t> pt(p.size());
    REQUIRE((from_init ? r_recv : i_recv).decrypt({}, ct.data(), p.size(), pt.data()));
    REQUIRE(pt == p);
    ++checked;
  }
  return checked;
}

void run_file(const std::string& path) {
  auto doc = load(path);
  int found = 0;
  for (const auto& v : doc.at("vectors").as_array()) {
    const auto& o = v.as_object();
    std::string name(o.at("protocol_name").as_string());
    if (std::find(kNames.begin(), kNames.end(), name) == kNames.end()) continue;
    REQUIRE(run_vector(o) == 6);
    ++found;
  }
  REQUIRE(found == int(kNames.size()));
}

}  // namespace

TEST_CASE("Noise IK/IKpsk2 BLAKE2b vectors (copy in tests/unit/tunnel/vectors)",
          "[tunnel][noise]") {
  run_file("tests/unit/tunnel/vectors/noise-ik.json");
}

TEST_CASE("Noise IK/IKpsk2 BLAKE2b vectors (published cacophony.txt)", "[tunnel][noise]") {
  const std::string path = "../shared/testdata/noise/cacophony.txt";
  if (!std::filesystem::exists(path)) {
    WARN("skipped: " << path << " is not beside the project root");
    return;
  }
  run_file(path);
}

TEST_CASE("HMAC-BLAKE2b follows RFC 2104 with a 128-byte block", "[tunnel][noise]") {
  // HMAC over BLAKE2b-512 recomputed by hand: H((K^opad) || H((K^ipad) || m)).
  std::vector<uint8_t> k(64, 0x0b), m = {'h', 'i'};
  std::vector<uint8_t> ipad(128, 0x36), opad(128, 0x5c);
  for (size_t i = 0; i < k.size(); ++i) ipad[i] ^= k[i], opad[i] ^= k[i];
  Hash inner = blake2b(ipad, m);
  Hash expect = blake2b(opad, inner);
  REQUIRE(hmac_blake2b(k, m) == expect);
}

TEST_CASE("Noise handshake failures are values, not crashes", "[tunnel][noise]") {
  auto ikp = crypto::generate_keypair(), rkp = crypto::generate_keypair();
  Handshake::Config ic{
      Suite::ik_chachapoly_blake2b, Handshake::Role::initiator, ikp.priv, rkp.pub, {1, 2, 3}};
  Handshake::Config rc{
      Suite::ik_chachapoly_blake2b, Handshake::Role::responder, rkp.priv, {}, {1, 2, 3}};
  std::vector<uint8_t> m1, got;

  SECTION("a flipped bit in message 1 is a bad MAC") {
    Handshake i(ic), r(rc);
    REQUIRE(i.write_message1({}, m1) == Fault::none);
    m1[40] ^= 1;
    REQUIRE(r.read_message1(m1, got) == Fault::bad_mac);
    REQUIRE(r.write_message2({}, got) == Fault::protocol);
  }
  SECTION("a different prologue is a bad MAC") {
    rc.prologue = {9};
    Handshake i(ic), r(rc);
    REQUIRE(i.write_message1({}, m1) == Fault::none);
    REQUIRE(r.read_message1(m1, got) == Fault::bad_mac);
  }
  SECTION("the wrong responder key is a bad MAC") {
    ic.remote_static = crypto::generate_keypair().pub;
    Handshake i(ic), r(rc);
    REQUIRE(i.write_message1({}, m1) == Fault::none);
    REQUIRE(r.read_message1(m1, got) == Fault::bad_mac);
  }
  SECTION("short messages are malformed") {
    Handshake r(rc);
    REQUIRE(r.read_message1(std::vector<uint8_t>(50), got) == Fault::malformed);
  }
  SECTION("the static-key hook can refuse before the payload is read") {
    Handshake i(ic), r(rc);
    REQUIRE(i.write_message1(std::vector<uint8_t>{'x'}, m1) == Fault::none);
    REQUIRE(r.read_message1(m1, got, [](const Key&) { return Fault::unknown_key; }) ==
            Fault::unknown_key);
  }
  SECTION("a low-order ephemeral key is refused") {
    Handshake i(ic), r(rc);
    REQUIRE(i.write_message1({}, m1) == Fault::none);
    std::fill(m1.begin(), m1.begin() + 32, 0);  // the all-zero point
    REQUIRE(r.read_message1(m1, got) == Fault::bad_key);
  }
}
