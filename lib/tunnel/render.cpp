// tunnel site config rendering: see render.h.
#include "tunnel/render.h"

#include <ctime>

#include "config/write.h"
#include "core/text.h"

namespace tunnel {

std::string site_config_title(std::string_view name, std::string_view how, int64_t at) {
  return "# tunneld.toml for site " + config::toml_string(name) + ", " + std::string(how) + " on " +
         core::rfc3339(std::time_t(at)) + ".\n";
}

std::string render_site_config(const SiteFile& f) {
  return f.comment + "[site]\nname = " + config::toml_string(f.name) +
         "\nedge = " + config::toml_string(f.edge) +
         "\nedge_public_key = " + config::toml_string(f.edge_public_key) + "\n" +
         render_site_local(f);
}

std::string render_site_local(const SiteFile& f) {
  std::string s;
  if (!f.private_key_file.empty())
    s += "private_key_file = " + config::toml_string(f.private_key_file) + "\n";
  else if (!f.private_key.empty())
    s += "private_key = " + config::toml_string(f.private_key) + "\n";
  if (f.lanes) s += "lanes = " + std::to_string(f.lanes) + "\n";
  if (!f.allow.empty()) s += "allow = " + config::toml_array(f.allow) + "\n";
  return s;
}

}  // namespace tunnel
