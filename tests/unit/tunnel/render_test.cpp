// tunnel::render_site_config: the one writer of a site's tunneld.toml. Its text is exact (the
// peerctl suites compare it), and what it writes, load_config reads back to the same values.
#include "../support.h"

#include <fstream>

#include "crypto/crypto.h"
#include "tunnel/config.h"
#include "tunnel/render.h"

namespace {

tunnel::SiteFile sample() {
  tunnel::SiteFile f;
  f.name = "homelab";
  f.edge = "edge.example.com:7443";
  f.edge_public_key = crypto::key_to_base64(crypto::generate_keypair().pub);
  return f;
}

}  // namespace

TEST_CASE("render_site_config: the edge's part, then the site's key, lanes and allow list",
          "[tunneld][config]") {
  auto f = sample();
  f.comment = tunnel::site_config_title("homelab", "enrolled", 1767322800);
  const std::string edge_part =
      "# tunneld.toml for site \"homelab\", enrolled on "
      "2026-01-02T03:00:00Z.\n[site]\nname = \"homelab\"\nedge = "
      "\"edge.example.com:7443\"\nedge_public_key = \"" +
      f.edge_public_key + "\"\n";
  // No key, no lanes, no allow list: what the edge's enrollment reply carries.
  CHECK(tunnel::render_site_config(f) == edge_part);
  CHECK(tunnel::render_site_local(f).empty());

  f.private_key = "PRIV";
  f.lanes = 2;
  CHECK(tunnel::render_site_local(f) == "private_key = \"PRIV\"\nlanes = 2\n");
  f.private_key_file = "/etc/warren/site.key";  // the file wins over an inline key
  f.allow = {"192.168.1.0/24", "nas.lan:80,443"};
  CHECK(tunnel::render_site_local(f) ==
        "private_key_file = \"/etc/warren/site.key\"\nlanes = 2\n"
        "allow = [\"192.168.1.0/24\", \"nas.lan:80,443\"]\n");
  CHECK(tunnel::render_site_config(f) == edge_part + tunnel::render_site_local(f));
}

TEST_CASE("render_site_config: names and comments are quoted, never TOML of their own",
          "[tunneld][config]") {
  auto f = sample();
  f.name = "a\"b\\c\nd";
  f.comment = tunnel::site_config_title(f.name, "written by peerctl", 0);
  std::string s = tunnel::render_site_config(f);
  CHECK(s.rfind("# tunneld.toml for site \"a\\\"b\\\\c\\u000ad\", written by peerctl on "
                "1970-01-01T00:00:00Z.\n[site]\n",
                0) == 0);
  CHECK(s.find("name = \"a\\\"b\\\\c\\u000ad\"\n") != std::string::npos);
}

TEST_CASE("render_site_config: load_config reads back what it wrote", "[tunneld][config]") {
  testing::TempDir d;
  auto site = crypto::generate_keypair();
  auto f = sample();
  f.name = "home.lab-2";
  f.comment = "# a comment\n";
  f.private_key = crypto::key_to_base64(site.priv);
  f.lanes = 3;
  f.allow = {"10.0.0.0/8:22", "*.lan"};
  std::string path = d.path + "/tunneld.toml";
  std::ofstream(path) << tunnel::render_site_config(f);
  auto c = tunnel::load_config(path, d.path);
  REQUIRE(c);
  CHECK(c->role == tunnel::Role::site);
  CHECK(c->site.name == "home.lab-2");
  CHECK(c->site.edge == "edge.example.com:7443");
  CHECK(crypto::key_to_base64(c->site.edge_public_key) == f.edge_public_key);
  CHECK(c->site.private_key == site.priv);
  CHECK(c->site.lanes == 3);
  REQUIRE(c->site.allow.rules().size() == 2);
  CHECK(c->site.allow.rules()[0].text == "10.0.0.0/8:22");
  CHECK(c->site.allow.rules()[1].text == "*.lan");

  // The key in a file of its own.
  std::ofstream(d.path + "/site.key") << f.private_key << "\n";
  f.private_key_file = d.path + "/site.key";
  std::ofstream(path) << tunnel::render_site_config(f);
  auto k = tunnel::load_config(path, d.path);
  REQUIRE(k);
  CHECK(k->site.private_key == site.priv);
}
