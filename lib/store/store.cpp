#include "store/store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "core/fs.h"
#include "store/migrations.h"

namespace store {

using core::Errc;
using core::Error;
using core::Result;

static Errc errc_for(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
      return Errc::tempfail;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return Errc::noperm;
    case SQLITE_CANTOPEN:
      return Errc::noinput;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Errc::data;
    case SQLITE_CONSTRAINT:
      return Errc::failure;
    default:
      return Errc::internal;
  }
}

Error Db::error(const std::string& what) const {
  int rc = db_ ? sqlite3_extended_errcode(db_) : SQLITE_CANTOPEN;
  std::string msg = db_ ? sqlite3_errmsg(db_) : "cannot open database";
  return Error(errc_for(rc), what + ": " + msg);
}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    if (s_) sqlite3_finalize(s_);
    s_ = o.s_;
    db_ = o.db_;
    o.s_ = nullptr;
  }
  return *this;
}

Stmt::~Stmt() {
  if (s_) sqlite3_finalize(s_);
}

Stmt& Stmt::bind(int i, int64_t v) {
  sqlite3_bind_int64(s_, i, v);
  return *this;
}
Stmt& Stmt::bind(int i, std::string_view v) {
  sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::bind_blob(int i, std::span<const uint8_t> v) {
  sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::bind_null(int i) {
  sqlite3_bind_null(s_, i);
  return *this;
}

Result<bool> Stmt::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error e(errc_for(rc), std::string(sqlite3_db_filename(db_, "main")) + ": " + sqlite3_errmsg(db_));
  sqlite3_reset(s_);
  return e;
}

Result<void> Stmt::run() {
  for (;;) {
    auto r = step();
    if (!r) return r.error();
    if (!*r) break;
  }
  reset();
  return {};
}

void Stmt::reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

int64_t Stmt::col_int(int i) const {
  return sqlite3_column_int64(s_, i);
}
std::string Stmt::col_text(int i) const {
  const unsigned char* t = sqlite3_column_text(s_, i);
  return t ? std::string(reinterpret_cast<const char*>(t),
                         static_cast<size_t>(sqlite3_column_bytes(s_, i)))
           : std::string();
}
std::vector<uint8_t> Stmt::col_blob(int i) const {
  const auto* b = static_cast<const uint8_t*>(sqlite3_column_blob(s_, i));
  return b ? std::vector<uint8_t>(b, b + sqlite3_column_bytes(s_, i)) : std::vector<uint8_t>();
}
bool Stmt::col_null(int i) const {
  return sqlite3_column_type(s_, i) == SQLITE_NULL;
}

void Db::close() {
  if (!db_) return;
  if (replaced()) sqlite3_db_config(db_, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  sqlite3_close_v2(db_);
  db_ = nullptr;
}

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    close();
    db_ = o.db_;
    path_ = std::move(o.path_);
    logs_[0] = o.logs_[0];
    logs_[1] = o.logs_[1];
    o.db_ = nullptr;
  }
  return *this;
}

Db::~Db() {
  close();
}

Result<Db> Db::open(const std::string& path, const OpenOptions& opt) {
  Db d;
  d.path_ = path;
  bool existed = core::file_exists(path);
  if (!existed && !opt.create)
    return Error(Errc::noinput, path + ": no such store (run an init command first)");
  int flags = SQLITE_OPEN_NOMUTEX |
              (opt.readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  mode_t old = ::umask(077);
  int rc = sqlite3_open_v2(path.c_str(), &d.db_, flags, nullptr);
  ::umask(old);
  if (rc != SQLITE_OK) {
    int e = errno;
    Error err = d.error(path);
    if (rc == SQLITE_CANTOPEN && (e == EACCES || e == EPERM)) err.code = Errc::noperm;
    return err;
  }
  sqlite3_extended_result_codes(d.db_, 1);
  sqlite3_busy_timeout(d.db_, opt.busy_timeout_ms);
  // Cheap check that this is a database at all before any pragma writes.
  if (auto r = d.exec("SELECT count(*) FROM sqlite_master"); !r) return r.error().context(path);
  if (!opt.readonly) {
    auto r = d.exec("PRAGMA journal_mode=WAL");
    if (!r) return r.error().context(path);
  }
  if (auto r =
          d.exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY");
      !r)
    return r.error().context(path);
  if (opt.migrate && !opt.readonly) {
    if (auto r = migrate(d); !r) return r.error();
  } else if (d.schema_version() > latest_version()) {
    return Error(Errc::config, path + ": store schema version " +
                                   std::to_string(d.schema_version()) +
                                   " is newer than this binary supports (" +
                                   std::to_string(latest_version()) + "); upgrade Warren");
  }
  (void)d.replaced();  // learns the -wal and -shm this connection uses
  return d;
}

Result<Stmt> Db::prepare(std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  if (rc != SQLITE_OK) return error("prepare");
  return Stmt(s, db_);
}

Result<void> Db::exec(const std::string& sql) {
  char* msg = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg);
  if (rc != SQLITE_OK) {
    std::string m = msg ? msg : sqlite3_errstr(rc);
    sqlite3_free(msg);
    return Error(errc_for(sqlite3_extended_errcode(db_)), path_ + ": " + m);
  }
  return {};
}

int64_t Db::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}
int Db::changes() const {
  return sqlite3_changes(db_);
}

Result<int64_t> Db::data_version() {
  auto st = prepare("PRAGMA data_version");
  if (!st) return st.error();
  auto r = st->step();
  if (!r) return r.error();
  return st->col_int(0);
}

Result<int64_t> Db::change_gen() {
  auto st = prepare("SELECT gen FROM change_gen WHERE id = 1");
  if (!st) return st.error();
  auto r = st->step();
  if (!r) return r.error();
  if (!*r) return int64_t{0};
  return st->col_int(0);
}

bool Db::moved() const {
  int moved = 0;
  if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK) return false;
  return moved != 0;
}

bool Db::replaced() {
  if (!db_) return false;
  if (moved()) return true;
  static constexpr const char* kSuffix[] = {"-wal", "-shm"};
  for (int i = 0; i < 2; ++i) {
    struct stat st {};
    bool there = ::stat((path_ + kSuffix[i]).c_str(), &st) == 0;
    LogId& l = logs_[i];
    if (l.ino == 0) {  // not seen yet (not in WAL mode, or no reader yet): learn it
      if (there) l = {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
      continue;
    }
    if (!there || l.dev != static_cast<uint64_t>(st.st_dev) ||
        l.ino != static_cast<uint64_t>(st.st_ino))
      return true;
  }
  return false;
}

Result<void> Db::release_replaced() {
  if (!db_ || !moved()) return {};
  auto st = prepare("PRAGMA wal_checkpoint(TRUNCATE)");
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  if (*row && st->col_int(0) != 0)
    return Error(Errc::tempfail, path_ +
                                     ": replaced, but another connection still reads the "
                                     "old file through its log");
  return {};
}

int Db::schema_version() {
  auto st = prepare("PRAGMA user_version");
  if (!st) return -1;
  auto r = st->step();
  if (!r || !*r) return -1;
  return static_cast<int>(st->col_int(0));
}

Result<Tx> Tx::begin(Db& db) {
  if (!sqlite3_get_autocommit(db.raw())) {
    static int counter = 0;
    std::string sp = "warren_sp" + std::to_string(++counter);
    if (auto r = db.exec("SAVEPOINT " + sp); !r) return r.error();
    return Tx(db, sp);
  }
  if (auto r = db.exec("BEGIN IMMEDIATE"); !r) return r.error();
  return Tx(db, "");
}

Tx::~Tx() {
  if (!db_) return;
  if (savepoint_.empty())
    (void)db_->exec("ROLLBACK");
  else
    (void)db_->exec("ROLLBACK TO " + savepoint_ + "; RELEASE " + savepoint_);
}

Result<void> Tx::commit() {
  auto r = db_->exec(savepoint_.empty() ? std::string("COMMIT") : "RELEASE " + savepoint_);
  if (r) db_ = nullptr;
  return r;
}

int latest_version() {
  int v = 0;
  for (const auto& m : migrations()) v = std::max(v, m.version);
  return v;
}

Result<void> migrate(Db& db) {
  int cur = db.schema_version();
  int latest = latest_version();
  if (cur > latest)
    return Error(Errc::config, db.path() + ": store schema version " + std::to_string(cur) +
                                   " is newer than this binary supports (" +
                                   std::to_string(latest) + "); upgrade Warren");
  if (cur == latest) return {};
  auto tx = Tx::begin(db);
  if (!tx) return tx.error().context(db.path());
  // Re-read inside the write lock: another process may have migrated meanwhile.
  cur = db.schema_version();
  for (const auto& m : migrations()) {
    if (m.version <= cur) continue;
    if (auto r = db.exec(m.sql); !r)
      return Error(Errc::internal, db.path() + ": migration " + m.name + ": " + r.error().message);
    if (auto r = db.exec("PRAGMA user_version=" + std::to_string(m.version)); !r) return r.error();
  }
  return tx->commit();
}

std::string db_path(const std::string& warren_dir) {
  return warren_dir + "/warren.db";
}

Result<Db> open_dir(const std::string& warren_dir, const OpenOptions& opt) {
  if (opt.create && !opt.readonly) {
    if (auto r = core::ensure_dir(warren_dir, 0700); !r) return r.error();
  }
  return Db::open(db_path(warren_dir), opt);
}

Result<void> audit(Db& db, std::string_view actor, std::string_view action, std::string_view object,
                   std::string_view detail_json) {
  auto st = db.prepare("INSERT INTO audit(ts, actor, action, object, detail) VALUES(?,?,?,?,?)");
  if (!st) return st.error();
  st->bind(1, static_cast<int64_t>(std::time(nullptr)))
      .bind(2, actor)
      .bind(3, action)
      .bind(4, object)
      .bind(5, detail_json);
  return st->run();
}

}  // namespace store
