// The sites and forwards tables (migration 0030), the edge key file, and the site's reconnect
// timing helpers.
#include "../support.h"

#include <sys/stat.h>

#include "core/fs.h"
#include "tunnel/site.h"
#include "tunnel/sites.h"

namespace {

tunnel::SiteRecord site(std::string name) {
  tunnel::SiteRecord s;
  s.name = std::move(name);
  s.public_key = crypto::generate_keypair().pub;
  s.created_at = 1'800'000'000;
  return s;
}

}  // namespace

TEST_CASE("sites: add, find, list, rotate, remove, with audit rows", "[tunneld][sites]") {
  testing::TempDir d;
  auto db = store::open_dir(d.path);
  REQUIRE(db);
  auto a = site("homelab"), b = site("office");
  REQUIRE(tunnel::add_site(*db, a, "test"));
  REQUIRE(tunnel::add_site(*db, b, "test"));

  auto dup = tunnel::add_site(*db, site("homelab"), "test");
  REQUIRE_FALSE(dup);
  CHECK(dup.error().code == core::Errc::data);
  CHECK(dup.error().message == "site homelab already exists");
  auto c = site("other");
  c.public_key = a.public_key;
  auto same_key = tunnel::add_site(*db, c, "test");
  REQUIRE_FALSE(same_key);
  CHECK(same_key.error().message.find("belongs to site homelab") != std::string::npos);
  CHECK_FALSE(tunnel::add_site(*db, site("bad name"), "test"));
  CHECK_FALSE(tunnel::add_site(*db, site(""), "test"));
  CHECK_FALSE(tunnel::add_site(*db, site(std::string(65, 'x')), "test"));

  auto all = tunnel::list_sites(*db);
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].name == "homelab");
  CHECK((*all)[0].public_key == a.public_key);
  CHECK((*all)[0].enabled);

  auto k2 = crypto::generate_keypair().pub;
  REQUIRE(tunnel::set_site_key(*db, "homelab", k2, 1'800'000'100, "test"));
  auto f = tunnel::find_site(*db, "homelab");
  REQUIRE(f);
  CHECK(f->public_key == k2);
  CHECK(f->key_rotated_at == 1'800'000'100);
  auto none = tunnel::find_site(*db, "nope");
  REQUIRE_FALSE(none);
  CHECK(none.error().code == core::Errc::noinput);

  tunnel::ForwardRecord fw{"tcp", 8080, "homelab", "192.168.1.10:80", true};
  REQUIRE(tunnel::add_forward(*db, fw, 1, "test"));
  auto again = tunnel::add_forward(*db, fw, 1, "test");
  REQUIRE_FALSE(again);
  CHECK(again.error().message == "tcp port 8080 is already forwarded");
  fw.protocol = "udp";
  REQUIRE(tunnel::add_forward(*db, fw, 1, "test"));  // same port, other protocol
  CHECK_FALSE(tunnel::add_forward(*db, {"sctp", 1, "homelab", "a:1", true}, 1, "test"));
  CHECK_FALSE(tunnel::add_forward(*db, {"tcp", 9, "nope", "a:1", true}, 1, "test"));
  CHECK_FALSE(tunnel::add_forward(*db, {"tcp", 9, "homelab", "no-port", true}, 1, "test"));
  auto fl = tunnel::list_forwards(*db);
  REQUIRE(fl);
  REQUIRE(fl->size() == 2);
  CHECK((*fl)[0].protocol == "tcp");
  CHECK((*fl)[0].target == "192.168.1.10:80");

  REQUIRE(tunnel::remove_site(*db, "homelab", "test"));
  CHECK(tunnel::list_forwards(*db)->empty());  // forwards go with their site
  CHECK(tunnel::list_sites(*db)->size() == 1);
  CHECK_FALSE(tunnel::remove_site(*db, "homelab", "test"));

  auto st = db->prepare("SELECT action, object FROM audit ORDER BY id");
  REQUIRE(st);
  std::vector<std::string> actions;
  while (*st->step()) actions.push_back(st->col_text(0) + " " + st->col_text(1));
  CHECK(actions == std::vector<std::string>{"site.add homelab", "site.add office",
                                            "site.rotate_key homelab", "forward.add tcp:8080",
                                            "forward.add udp:8080", "site.remove homelab"});
}

TEST_CASE("meta values and the edge key file", "[tunneld][sites]") {
  testing::TempDir d;
  auto db = store::open_dir(d.path);
  REQUIRE(db);
  CHECK_FALSE(*tunnel::get_meta(*db, tunnel::kMetaEdgeKey));
  REQUIRE(tunnel::set_meta(*db, tunnel::kMetaEdgeKey, "a"));
  REQUIRE(tunnel::set_meta(*db, tunnel::kMetaEdgeKey, "b"));
  CHECK(**tunnel::get_meta(*db, tunnel::kMetaEdgeKey) == "b");

  std::string path = d.path + "/edge.key";
  CHECK_FALSE(tunnel::load_key_file(path, false));
  auto kp = tunnel::load_key_file(path, true);
  REQUIRE(kp);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto again = tunnel::load_key_file(path, true);
  REQUIRE(again);
  CHECK(again->pub == kp->pub);  // created once, then read back
  CHECK(again->pub == crypto::public_from_private(again->priv));
  REQUIRE(core::write_file_atomic(path, "garbage\n", 0600));
  auto bad = tunnel::load_key_file(path, true);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == core::Errc::data);
}

TEST_CASE("reconnect backoff doubles, caps and jitters within [d/2, d]", "[tunneld][site]") {
  using std::chrono::milliseconds;
  milliseconds lo{500}, hi{30000};
  CHECK(tunnel::backoff_delay(0, lo, hi, 0.0) == milliseconds(250));
  CHECK(tunnel::backoff_delay(0, lo, hi, 0.999) == milliseconds(499));
  CHECK(tunnel::backoff_delay(1, lo, hi, 0.0) == milliseconds(500));
  CHECK(tunnel::backoff_delay(3, lo, hi, 0.0) == milliseconds(2000));
  CHECK(tunnel::backoff_delay(10, lo, hi, 0.0) == milliseconds(15000));
  CHECK(tunnel::backoff_delay(10, lo, hi, 1.0) == milliseconds(30000));
  CHECK(tunnel::backoff_delay(1000, lo, hi, 0.5) == milliseconds(22500));
}

TEST_CASE("handshake timestamps never repeat or go back", "[tunneld][site]") {
  using tunnel::proto::tai64n_from_unix;
  auto t0 = tai64n_from_unix(1'800'000'000, 5);
  CHECK(tunnel::next_timestamp({}, t0) == t0);
  auto t1 = tunnel::next_timestamp(t0, t0);
  CHECK(t1 > t0);
  CHECK(tunnel::next_timestamp(t1, tai64n_from_unix(1'700'000'000, 0)) > t1);  // clock went back
  auto edge = tai64n_from_unix(1'800'000'000, 999'999'999);
  auto carry = tunnel::next_timestamp(edge, edge);
  CHECK(carry > edge);
  CHECK(carry.nanos == 0);
  CHECK(tunnel::next_timestamp(t0, tai64n_from_unix(1'800'000'001, 0)) ==
        tai64n_from_unix(1'800'000'001, 0));
}
