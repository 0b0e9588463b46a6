// Helpers shared by peerctl's nouns: time, the store, the audit actor, daemon sockets.
#include <pwd.h>
#include <unistd.h>
#include <boost/json.hpp>

#include <cstdlib>

#include "core/fs.h"
#include "core/text.h"
#include "ipc/client.h"
#include "peerctl.h"

namespace peerctl {

std::time_t now() {
  if (const char* f = std::getenv("WARREN_FAKE_NOW"); f && *f) {
    if (auto v = core::parse_uint(f)) return static_cast<std::time_t>(*v);
    if (auto t = core::parse_rfc3339(f)) return *t;
  }
  return std::time(nullptr);
}

core::Result<store::Db> open_store(const Ctx& c, bool create) {
  store::OpenOptions o;
  o.create = create;
  std::string dir = c.prog.warren_dir();
  if (!create && !core::file_exists(store::db_path(dir)))
    return core::err(core::Errc::noinput,
                     store::db_path(dir) + ": no store here (set WARREN_DIR or --dir)");
  return store::open_dir(dir, o);
}

std::string actor() {
  const passwd* pw = ::getpwuid(::geteuid());
  return std::string("peerctl:") + (pw ? pw->pw_name : std::to_string(::geteuid()));
}

std::string json_line(const boost::json::object& o) {
  return boost::json::serialize(o) + "\n";
}

std::optional<boost::json::object> daemon_status(const Ctx& c, const std::string& daemon) {
  std::string path = c.prog.warren_dir() + "/run/" + daemon + ".sock";
  if (!core::file_exists(path)) return std::nullopt;
  auto r = ipc::call(path, {{"op", "status"}}, 1000);
  if (!r) return std::nullopt;
  auto* ok = r->if_contains("ok");
  if (!ok || !ok->is_bool() || !ok->as_bool()) return std::nullopt;
  return std::move(*r);
}

std::string edged_port_suffix(store::Db& db, bool tls) {
  auto st = db.prepare("SELECT value FROM meta WHERE key = ?1");
  if (!st) return "";
  st->bind(1, tls ? "edged.https_port" : "edged.http_port");
  auto row = st->step();
  if (!row || !*row) return "";
  std::string port = st->col_text(0);
  if (port.empty() || port == (tls ? "443" : "80")) return "";
  return ":" + port;
}

}  // namespace peerctl
