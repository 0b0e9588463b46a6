// tls::ServerContext / ClientContext / Session pumped in memory: SNI picks the certificate,
// ALPN http/1.1, verification of names against a CA, reload on file change, load errors.
#include <cstdlib>
#include <fstream>

#include "../support.h"
#include "core/fs.h"
#include "tls/tls.h"

namespace {

// A CA and leaves made with the openssl command (test fixtures only).
struct Pki {
  testing::TempDir d;
  std::string p(const std::string& n) const { return d.path + "/" + n; }
  void sh(const std::string& cmd) const {
    REQUIRE(std::system(("cd '" + d.path + "' && " + cmd + " >/dev/null 2>&1").c_str()) == 0);
  }
  Pki() {
    sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
       "-subj /CN=TestCA -keyout ca.key -out ca.crt");
    leaf("a", "DNS:a.example.test");
    leaf("w", "DNS:*.wild.test");
    leaf("d", "DNS:default.test");
  }
  void leaf(const std::string& n, const std::string& san) const {
    sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=" + n +
       " -keyout " + n + ".key -out " + n + ".csr && printf 'subjectAltName=" + san + "' > " + n +
       ".ext && openssl x509 -req -in " + n + ".csr -CA ca.crt -CAkey ca.key " +
       "-CAcreateserial -days 2 -extfile " + n + ".ext -out " + n + ".crt");
  }
};

// Moves what one session produced to the other (the network, in memory).
void pump(tls::Session& from, tls::Session& to) {
  char buf[65536];
  size_t n;
  while ((n = from.take_output(buf, sizeof buf)) > 0) to.feed(buf, n);
}

// Drives both handshakes until both are done (or one fails).
bool handshake(tls::Session& s, tls::Session& c) {
  for (int i = 0; i < 100; ++i) {
    tls::Want b = c.handshake();
    pump(c, s);
    tls::Want a = s.handshake();
    pump(s, c);
    if (a == tls::Want::done && b == tls::Want::done) return true;
    if (a == tls::Want::error || b == tls::Want::error) return false;
  }
  return false;
}

}  // namespace

TEST_CASE("SNI picks exact, wildcard and default certificates; ALPN http/1.1") {
  Pki k;
  tls::ServerOptions so;
  so.certs = {
      {k.p("d.crt"), k.p("d.key")}, {k.p("a.crt"), k.p("a.key")}, {k.p("w.crt"), k.p("w.key")}};
  auto sc = tls::ServerContext::create(so);
  REQUIRE(sc);
  auto names = (*sc)->names();
  CHECK(std::find(names.begin(), names.end(), "*.wild.test") != names.end());
  tls::ClientOptions co;
  co.ca_file = k.p("ca.crt");
  auto cc = tls::ClientContext::create(co);
  REQUIRE(cc);
  // Verification with the name checked proves which certificate was served.
  for (auto [sni, ok] : std::vector<std::pair<std::string, bool>>{{"a.example.test", true},
                                                                  {"x.wild.test", true},
                                                                  {"default.test", true},
                                                                  {"y.x.wild.test", false},
                                                                  {"other.test", false}}) {
    auto s = tls::Session::server(**sc);
    auto c = tls::Session::client(**cc, sni, true);
    INFO(sni);
    CHECK(handshake(s, c) == ok);
    if (ok) {
      CHECK(s.sni() == sni);
      CHECK(s.alpn() == "http/1.1");
      CHECK_FALSE(s.client_verified());
      // Data both ways.
      auto w = c.write("ping", 4);
      CHECK(w.n == 4);
      pump(c, s);
      char buf[8];
      tls::Io r = s.read(buf, sizeof buf);
      REQUIRE(r.want == tls::Want::done);
      CHECK(std::string(buf, static_cast<size_t>(r.n)) == "ping");
    } else {
      CHECK(c.error().find("certificate verify failed") != std::string::npos);
    }
  }
}

TEST_CASE("client certificates are asked for per SNI and verified against the CA") {
  Pki k;
  k.leaf("alice", "email:alice@example.test");
  tls::ServerOptions so;
  so.certs = {{k.p("a.crt"), k.p("a.key")}};
  auto sc = tls::ServerContext::create(so);
  REQUIRE(sc);
  (*sc)->set_client_auth([&](std::string_view sni) {
    tls::ClientAuth a;
    if (sni == "a.example.test") {
      a.mode = tls::ClientAuth::required;
      a.ca = k.p("ca.crt");
    }
    return a;
  });
  auto cc = tls::ClientContext::create({k.p("ca.crt")});
  REQUIRE(cc);
  auto s = tls::Session::server(**sc);
  auto c = tls::Session::client(**cc, "a.example.test", true);
  // No client certificate: the server refuses (TLS 1.3 reports it at the client's next read).
  bool done = handshake(s, c);
  CHECK_FALSE(s.client_verified());
  if (done) {
    char buf[8];
    tls::Io r;
    for (int i = 0; i < 10; ++i) {
      (void)s.read(buf, sizeof buf);
      pump(s, c);
      r = c.read(buf, sizeof buf);
      if (r.want != tls::Want::read) break;
    }
    CHECK(r.want != tls::Want::done);
    CHECK(r.want != tls::Want::read);
  }
}

TEST_CASE("load errors name the file; reload picks up changed files and keeps good ones") {
  Pki k;
  tls::ServerOptions so;
  so.certs = {{k.p("missing.crt"), k.p("a.key")}};
  auto bad = tls::ServerContext::create(so);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == core::Errc::noinput);
  CHECK(bad.error().message.find("missing.crt") != std::string::npos);
  so.certs = {{k.p("a.crt"), k.p("w.key")}};
  bad = tls::ServerContext::create(so);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("mismatch") != std::string::npos);
  CHECK(bad.error().message.find("w.key") != std::string::npos);

  so.certs = {{k.p("a.crt"), k.p("a.key")}};
  auto sc = tls::ServerContext::create(so);
  REQUIRE(sc);
  auto r = (*sc)->reload_if_changed();
  REQUIRE(r);
  CHECK_FALSE(*r);
  // Replace a.crt/a.key with the wildcard pair: the names change.
  k.sh("sleep 0.01; cp w.crt a.crt; cp w.key a.key");
  r = (*sc)->reload_if_changed();
  REQUIRE(r);
  CHECK(*r);
  CHECK((*sc)->names() == std::vector<std::string>{"*.wild.test"});
  // A broken file: the error is reported and the previous certificates stay.
  k.sh("echo junk > a.crt");
  r = (*sc)->reload_if_changed();
  CHECK_FALSE(r);
  CHECK((*sc)->names() == std::vector<std::string>{"*.wild.test"});
}

TEST_CASE("cert_dir loads NAME.key with NAME.crt") {
  Pki k;
  k.sh("mkdir certs && cp a.crt a.key w.crt w.key certs/ && cp ca.crt certs/");
  tls::ServerOptions so;
  so.cert_dir = k.p("certs");
  auto sc = tls::ServerContext::create(so);
  REQUIRE(sc);
  auto names = (*sc)->names();
  CHECK(names.size() == 2);
  so.cert_dir = k.p("nope");
  CHECK_FALSE(tls::ServerContext::create(so));
}
