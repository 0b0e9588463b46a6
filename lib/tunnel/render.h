// tunnel::render_site_config — a site's tunneld.toml as text, the other direction of
// load_config for the [site] table: the one renderer `peerctl site add/rotate-key`, `peerctl
// site enroll` and the edge's enrollment reply (lib/enroll) use. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tunnel {

// What a site's file says. Strings are as they will be read back (keys in base64).
struct SiteFile {
  std::string comment;  // leading lines, each starting with "#" and ending in "\n" (as is)
  std::string name;
  std::string edge;             // host:port the site dials
  std::string edge_public_key;  // base64
  // The site's key: private_key_file (absolute) when set, else private_key inline, else none
  // (the edge's enrollment reply: the site adds its own).
  std::string private_key_file;
  std::string private_key;
  unsigned lanes = 0;              // 0: no line (tunneld's default)
  std::vector<std::string> allow;  // rules as written; empty: no line
};

// "# tunneld.toml for site \"NAME\", HOW on 2026-01-02T03:04:05Z.\n"
std::string site_config_title(std::string_view name, std::string_view how, int64_t at);

// The comment, then [site] with name, edge, edge_public_key, and render_site_local(f).
std::string render_site_config(const SiteFile& f);
// Only the lines a site adds to the edge's part: its key, lanes and allow list (what
// `peerctl site enroll` appends to the config in the edge's reply).
std::string render_site_local(const SiteFile& f);

}  // namespace tunnel
