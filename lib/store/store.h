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
  Db(Db&& o) noexcept : db_(o.db_), path_(std::move(o.path_)), logs_(o.logs_) { o.db_ = nullptr; }
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
  // Whether the path no longer names the files this connection has open: another file was
  // renamed over the store (a backup restored, a deployment moved in), the store was removed,
  // or its -wal or -shm were (after which this connection and every new one would each keep a
  // log of their own and never see each other's commits). SQLite's SQLITE_FCNTL_HAS_MOVED and
  // a stat(2) of each log file against the one this connection first saw there. A daemon's
  // store poll asks it, calls release_replaced() and opens the path again; a connection never
  // follows the path by itself. A replaced connection never checkpoints or deletes a log when
  // it closes (those at the path are no longer its own).
  bool replaced();
  // Before a connection that replaced() reported is let go. When another file was renamed over
  // the store, the old file's WAL may still lie at the path beside the new one, and SQLite would
  // read the new file through it (a WAL names no database): it is checkpointed into the old
  // file and truncated; Errc::tempfail while another connection still reads through it (try
  // again later). When only the -wal or -shm were removed, nothing is written: commits left
  // only in the orphaned log are dropped rather than written over what others wrote since.
  core::Result<void> release_replaced();
  const std::string& path() const { return path_; }
  sqlite3* raw() { return db_; }

  core::Error error(const std::string& what) const;

 private:
  void close();
  bool moved() const;

  sqlite3* db_ = nullptr;
  std::string path_;
  // (device, inode) of the -wal and -shm this connection uses, learnt when they first exist.
  struct LogId {
    uint64_t dev = 0, ino = 0;
  };
  LogId logs_[2];
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
