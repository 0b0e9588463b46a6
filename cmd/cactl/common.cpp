#include <boost/json.hpp>
#include <cstdlib>

#include "cactl.h"
#include "core/fs.h"
#include "core/text.h"

namespace cactl {

std::time_t now() {
  if (const char* f = std::getenv("WARREN_FAKE_NOW"); f && *f) {
    if (auto v = core::parse_uint(f)) return static_cast<std::time_t>(*v);
    if (auto t = core::parse_rfc3339(f)) return *t;
  }
  return std::time(nullptr);
}

core::Result<std::string> passphrase(const Ctx& c, bool confirm) {
  std::string file = c.passphrase_file;
  if (file.empty())
    if (const char* e = std::getenv("CACTL_PASSPHRASE_FILE"); e && *e) file = e;
  if (!file.empty()) {
    auto p = cli::read_secret(file);
    if (!p) return p.error().context("passphrase file");
    if (p->empty()) return core::Error(core::Errc::data, "passphrase file " + file + " is empty");
    return p;
  }
  auto p = cli::prompt_secret("CA passphrase: ", confirm);
  if (!p)
    return core::Error(p.error().code,
                       p.error().message + "; use --passphrase-file or CACTL_PASSPHRASE_FILE");
  if (p->empty()) return core::Error(core::Errc::usage, "empty passphrase");
  return p;
}

core::Result<Opened> open_ca(const Ctx& c, bool unlock) {
  std::string dir = c.prog.warren_dir();
  if (!pki::Authority::exists(dir))
    return core::Error(core::Errc::noinput,
                       pki::Authority::ca_dir(dir) + ": no CA here (run 'cactl init' first)");
  store::OpenOptions o;
  o.create = false;
  WARREN_TRY(db, store::open_dir(dir, o));
  Opened out;
  out.db = std::make_unique<store::Db>(std::move(db));
  WARREN_TRY(ca, pki::Authority::open(dir, *out.db));
  out.ca = std::make_unique<pki::Authority>(std::move(ca));
  if (unlock) {
    std::optional<std::string> pass;
    if (out.ca->encrypted()) {
      WARREN_TRY(p, passphrase(c, false));
      pass = std::move(p);
    }
    WARREN_CHECK(out.ca->unlock(pass));
  }
  return out;
}

core::Result<void> write_out(const std::string& path, const std::string& data, unsigned mode,
                             bool replace) {
  if (path == "-") return core::write_stdout(data);
  if (replace) return core::write_file_atomic(path, data, mode);
  return core::write_file_excl(path, data, mode);
}

std::string json_line(const boost::json::object& o) {
  return boost::json::serialize(o) + "\n";
}

}  // namespace cactl
