#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include <cstdio>

#include "core/fs.h"
#include "flowrun.h"

namespace flowrun {

core::Result<flow::Config> load_config(const Ctx& c) {
  flow::Config base;
  base.warren_dir = c.prog.warren_dir();
  base.user_agent = c.user_agent;
  std::string path = c.config_path;
  if (path.empty()) {
    std::string def = base.warren_dir + "/flowrun.toml";
    if (!core::file_exists(def)) return base;
    path = def;
  }
  return flow::load_config(path, std::move(base));
}

namespace {
// A regular file is read with one read into a buffer of its size (large workflows: no
// re-allocations); stdin and other files through core::read_file.
core::Result<std::string> read_input(const std::string& path, size_t max) {
  if (path != "-") {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd >= 0 && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        static_cast<uint64_t>(st.st_size) <= max) {
      std::string out(static_cast<size_t>(st.st_size), '\0');
      size_t got = 0;
      while (got < out.size()) {
        ssize_t k = ::read(fd, out.data() + got, out.size() - got);
        if (k <= 0) break;
        got += static_cast<size_t>(k);
      }
      ::close(fd);
      if (got == out.size()) return out;
    } else if (fd >= 0) {
      ::close(fd);
    }
  }
  return core::read_file(path, max);
}
}  // namespace

core::Result<flow::Workflow> read_workflow(const std::string& path, const flow::Config& cfg) {
  auto text = read_input(path, cfg.limits.load.max_payload_bytes);
  if (!text) {
    if (text.error().code == core::Errc::data)  // read_file's size cap
      return core::Error(core::Errc::data,
                         (path == "-" ? "stdin" : path) + ": payload too large (limit: " +
                             std::to_string(cfg.limits.load.max_payload_bytes) + " bytes)");
    return text.error();
  }
  auto wf = flow::load_workflow(*text, cfg.limits.load);
  if (!wf) return wf.error().context(path == "-" ? "stdin" : path);
  return wf;
}

core::Result<flow::Workflow> load_file(const Ctx& c, const std::string& path) {
  WARREN_TRY(cfg, load_config(c));
  return read_workflow(path, cfg);
}

core::Result<store::Db> open_store(const Ctx& c, bool create) {
  store::OpenOptions o;
  o.create = create;
  WARREN_TRY(db, store::open_dir(c.prog.warren_dir(), o));
  // A run appends one row: leave the WAL for the next checkpoint instead of checkpointing (and
  // syncing four times) on every close. Commits stay atomic; SQLite replays the WAL on open.
  sqlite3_db_config(db.raw(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  return db;
}

std::string json_line(const flow::Value& v) {
  return flow::to_json(v) + "\n";
}

std::string ms_text(int64_t ms) {
  char buf[32];
  if (ms < 1000)
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
  else
    std::snprintf(buf, sizeof buf, "%.3gs", static_cast<double>(ms) / 1000.0);
  return buf;
}

}  // namespace flowrun
