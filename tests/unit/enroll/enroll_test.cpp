// enroll: one-time tokens — a good token stores the site's key and returns its config once; a
// used, expired or unknown token is refused alike; bad requests are bad data; nothing changes on
// a refusal.
#include <boost/json.hpp>

#include "../support.h"
#include "crypto/crypto.h"
#include "enroll/enroll.h"
#include "tunnel/sites.h"

namespace {

struct Fixture {
  testing::TempDir dir;
  store::Db db;
  std::string token;
  Fixture() {
    db = std::move(*store::open_dir(dir.path));
    tunnel::SiteRecord s;
    s.name = "homelab";
    s.public_key = crypto::generate_keypair().pub;
    s.created_at = 1000;
    REQUIRE(tunnel::add_site(db, s, "test"));
    REQUIRE(tunnel::set_meta(db, tunnel::kMetaEdgeKey,
                             crypto::key_to_base64(crypto::generate_keypair().pub)));
    REQUIRE(tunnel::set_meta(db, tunnel::kMetaEdgeEndpoint, "edge.example.com:7443"));
    auto t = enroll::issue_token(db, "homelab", 1000, 3600);
    REQUIRE(t);
    token = *t;
  }
  std::string request(const std::string& tok, const std::string& pub) {
    return boost::json::serialize(boost::json::object{{"token", tok}, {"public_key", pub}});
  }
  std::string stored_key() {
    return crypto::key_to_base64(tunnel::find_site(db, "homelab")->public_key);
  }
};

}  // namespace

TEST_CASE("enroll: a token is good once; the key is stored; the reply carries the config") {
  Fixture f;
  CHECK(f.token.size() >= 40);
  std::string pub = crypto::key_to_base64(crypto::generate_keypair().pub);
  auto r = enroll::enroll_site(f.db, f.request(f.token, pub), 2000);
  REQUIRE(r);
  auto v = boost::json::parse(*r).as_object();
  CHECK(v.at("ok").as_bool());
  CHECK(v.at("site").as_string() == "homelab");
  CHECK(v.at("edge").as_string() == "edge.example.com:7443");
  std::string cfg(v.at("config").as_string());
  CHECK(cfg.find("[site]\nname = \"homelab\"\nedge = \"edge.example.com:7443\"\n") !=
        std::string::npos);
  CHECK(f.stored_key() == pub);
  // The token hash is gone; enrolled_at is set.
  auto q = f.db.prepare("SELECT enroll_token_hash IS NULL, enrolled_at FROM sites");
  REQUIRE(q->step());
  CHECK(q->col_int(0) == 1);
  CHECK(q->col_int(1) == 2000);

  std::string other = crypto::key_to_base64(crypto::generate_keypair().pub);
  auto again = enroll::enroll_site(f.db, f.request(f.token, other), 2001);
  REQUIRE(!again);
  CHECK(again.error().code == core::Errc::noperm);
  CHECK(enroll::http_status(again.error()) == 403);
  CHECK(f.stored_key() == pub);
}

TEST_CASE("enroll: expired, unknown and malformed requests change nothing") {
  Fixture f;
  std::string before = f.stored_key();
  std::string pub = crypto::key_to_base64(crypto::generate_keypair().pub);
  auto expired = enroll::enroll_site(f.db, f.request(f.token, pub), 1000 + 3600);
  REQUIRE(!expired);
  CHECK(expired.error().message == "unknown, used or expired enrollment token");
  auto unknown = enroll::enroll_site(f.db, f.request("nope", pub), 1500);
  REQUIRE(!unknown);
  CHECK(unknown.error().message == expired.error().message);
  for (std::string bad :
       {"", "[]", "{\"token\":1}", "{\"token\":\"x\",\"public_key\":\"short\"}"}) {
    auto r = enroll::enroll_site(f.db, bad, 1500);
    REQUIRE(!r);
    CHECK(r.error().code == core::Errc::data);
    CHECK(enroll::http_status(r.error()) == 400);
  }
  CHECK(f.stored_key() == before);
  // The token still works after all that.
  CHECK(enroll::enroll_site(f.db, f.request(f.token, pub), 1500));
}

TEST_CASE("enroll: a new token replaces the old; a key of another site is refused") {
  Fixture f;
  auto t2 = enroll::issue_token(f.db, "homelab", 1000, 3600);
  REQUIRE(t2);
  std::string pub = crypto::key_to_base64(crypto::generate_keypair().pub);
  CHECK(!enroll::enroll_site(f.db, f.request(f.token, pub), 1500));
  tunnel::SiteRecord s;
  s.name = "office";
  s.public_key = *crypto::key_from_base64(pub);
  s.created_at = 1000;
  REQUIRE(tunnel::add_site(f.db, s, "test"));
  auto r = enroll::enroll_site(f.db, f.request(*t2, pub), 1500);
  REQUIRE(!r);
  CHECK(r.error().code == core::Errc::data);
  CHECK(!enroll::issue_token(f.db, "nope", 1, 1));
  // A per-site edge address wins over the published one.
  REQUIRE(enroll::set_site_edge(f.db, "homelab", "10.1.1.1:7443"));
  std::string pub2 = crypto::key_to_base64(crypto::generate_keypair().pub);
  auto ok = enroll::enroll_site(f.db, f.request(*t2, pub2), 1500);
  REQUIRE(ok);
  CHECK(ok->find("\"edge\":\"10.1.1.1:7443\"") != std::string::npos);
  CHECK(boost::json::parse(enroll::error_json(r.error())).as_object().at("ok").as_bool() == false);
}
