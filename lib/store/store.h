// store — the Warren store: one SQLite database (WAL) per installation, numbered migrations,
// prepared statements in RAII wrappers, transactions, and the append-only audit log.
// A Db is used from one thread at a time (open one per thread; SQLite serialises writers).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace store {

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3_stmt* s, sqlite3* db) : s_(s), db_(db) {}
  Stmt(Stmt&& o) noexcept : s_(o.s_), db_(o.db_) { o.s_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Positional binding, 1-based.
  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt& bind(int i, std::string_view v);
  Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Stmt& bind_blob(int i, std::span<const uint8_t> v);
  Stmt& bind_null(int i);
  template <class T>
  Stmt& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bind_null(i);
  }

  // true: a row is available; false: done.
  core::Result<bool> step();
  // Runs to completion (for INSERT/UPDATE/DELETE).
  core::Result<void> run();
  void reset();

  int64_t col_int(int i) const;
  std::string col_text(int i) const;
  std::vector<uint8_t> col_blob(int i) const;
  bool col_null(int i) const;

 private:
  sqlite3_stmt* s_ = nullptr;
  sqlite3* db_ = nullptr;
};

struct OpenOptions {
  bool create = true;  // create the file (and apply migrations) when missing
  bool readonly = false;
  bool migrate = true;  // apply pending migrations
  int busy_timeout_ms = 5000;
};

class Db {
 public:
  Db() = default;
  Db(Db&& o) noexcept : db_(o.db_), path_(std::move(o.path_)) { o.db_ = nullptr; }
  Db& operator=(Db&& o) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  static core::Result<Db> open(const std::string& path, const OpenOptions& opt = {});

  core::Result<Stmt> prepare(std::string_view sql);
  core::Result<void> exec(const std::string& sql);
  int64_t last_insert_rowid() const;
  int changes() const;
  // Changes when another connection commits (PRAGMA data_version): daemons poll it to reload.
  core::Result<int64_t> data_version();
  // Moves when what the daemons serve changes (resources, targets, auth settings, rules, sites,
  // forwards, users, links, keys, session revocations; migration 0060's triggers), and not
  // with audit rows, session touches or failure counts: daemons poll this to reload.
  core::Result<int64_t> change_gen();
  int schema_version();
  // Whether the path no longer names the file this connection has open: another file was
  // renamed over it (a backup restored, a deployment moved in) or it was removed. SQLite's
  // SQLITE_FCNTL_HAS_MOVED: one stat(2) of the path against the inode of the open file. A
  // daemon's store poll asks it and reopens; a connection never follows the path by itself.
  bool replaced() const;
  const std::string& path() const { return path_; }
  sqlite3* raw() { return db_; }

  core::Error error(const std::string& what) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// BEGIN IMMEDIATE … COMMIT; rolls back in the destructor unless committed. Inside an open
// transaction it nests as a SAVEPOINT, so library calls compose into a caller's batch.
class Tx {
 public:
  static core::Result<Tx> begin(Db& db);
  Tx(Tx&& o) noexcept : db_(o.db_), savepoint_(std::move(o.savepoint_)) { o.db_ = nullptr; }
  Tx(const Tx&) = delete;
  ~Tx();
  core::Result<void> commit();

 private:
  Tx(Db& db, std::string sp) : db_(&db), savepoint_(std::move(sp)) {}
  Db* db_;
  std::string savepoint_;  // empty for the outermost transaction
};

// The highest migration version compiled into this binary.
int latest_version();
// Applies pending migrations; refuses a database newer than the binary (Errc::config).
core::Result<void> migrate(Db& db);

// $dir/warren.db, created (0600) with its directory (0700) when missing.
std::string db_path(const std::string& warren_dir);
core::Result<Db> open_dir(const std::string& warren_dir, const OpenOptions& opt = {});

// Appends one row to the audit log (inside the caller's transaction when there is one).
core::Result<void> audit(Db& db, std::string_view actor, std::string_view action,
                         std::string_view object, std::string_view detail_json = "{}");

}  // namespace store
