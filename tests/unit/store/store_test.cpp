#include <sqlite3.h>
#include "../support.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "store/store.h"

namespace {
std::string tmpdir() {
  char tmpl[] = "/tmp/warren-store-XXXXXX";
  return ::mkdtemp(tmpl);
}
}  // namespace

TEST_CASE("store opens in WAL mode and applies every migration", "[store]") {
  auto dir = tmpdir();
  auto db = store::open_dir(dir);
  REQUIRE(db);
  REQUIRE(db->schema_version() == store::latest_version());
  auto st = db->prepare("PRAGMA journal_mode");
  REQUIRE(st);
  REQUIRE(*st->step());
  REQUIRE(st->col_text(0) == "wal");
  // Reopening is a no-op migration.
  auto db2 = store::open_dir(dir);
  REQUIRE(db2);
  REQUIRE(db2->schema_version() == store::latest_version());
  std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("a database newer than the binary is refused", "[store]") {
  auto dir = tmpdir();
  {
    auto db = store::open_dir(dir);
    REQUIRE(db);
    REQUIRE(db->exec("PRAGMA user_version=" + std::to_string(store::latest_version() + 1)));
  }
  auto db = store::open_dir(dir);
  REQUIRE_FALSE(db);
  REQUIRE(db.error().code == core::Errc::config);
  REQUIRE(db.error().message.find("newer") != std::string::npos);
  std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("a file that is not a database is bad data", "[store]") {
  auto dir = tmpdir();
  std::system(("echo 'not sqlite at all, definitely not' > " + dir + "/warren.db").c_str());
  auto db = store::open_dir(dir);
  REQUIRE_FALSE(db);
  REQUIRE(db.error().code == core::Errc::data);
  std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("transactions roll back unless committed; audit is append-only", "[store]") {
  auto dir = tmpdir();
  auto db = store::open_dir(dir);
  REQUIRE(db);
  {
    auto tx = store::Tx::begin(*db);
    REQUIRE(tx);
    REQUIRE(store::audit(*db, "test", "x.add", "obj1"));
  }  // rolled back
  {
    auto tx = store::Tx::begin(*db);
    REQUIRE(store::audit(*db, "test", "x.add", "obj2", R"({"k":1})"));
    REQUIRE(tx->commit());
  }
  auto st = db->prepare("SELECT object, detail FROM audit");
  REQUIRE(st);
  REQUIRE(*st->step());
  REQUIRE(st->col_text(0) == "obj2");
  REQUIRE(st->col_text(1) == R"({"k":1})");
  REQUIRE_FALSE(*st->step());
  REQUIRE_FALSE(db->exec("DELETE FROM audit"));
  REQUIRE_FALSE(db->exec("UPDATE audit SET object='x'"));
  std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("a second writer sees the store locked as a temporary failure", "[store]") {
  auto dir = tmpdir();
  auto a = store::open_dir(dir);
  store::OpenOptions o;
  o.busy_timeout_ms = 50;
  auto b = store::open_dir(dir, o);
  REQUIRE(a);
  REQUIRE(b);
  auto tx = store::Tx::begin(*a);
  REQUIRE(tx);
  auto tx2 = store::Tx::begin(*b);
  REQUIRE_FALSE(tx2);
  REQUIRE(tx2.error().code == core::Errc::tempfail);
  std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("nested transactions are savepoints: inner rollback keeps the outer work", "[store]") {
  testing::TempDir d;
  auto db = store::open_dir(d.path);
  REQUIRE(db);
  {
    auto outer = store::Tx::begin(*db);
    REQUIRE(outer);
    REQUIRE(store::audit(*db, "t", "a", "kept"));
    {
      auto inner = store::Tx::begin(*db);
      REQUIRE(inner);
      REQUIRE(store::audit(*db, "t", "a", "dropped"));
    }  // inner rolled back
    {
      auto inner = store::Tx::begin(*db);
      REQUIRE(store::audit(*db, "t", "a", "kept2"));
      REQUIRE(inner->commit());
    }
    REQUIRE(outer->commit());
  }
  auto st = db->prepare("SELECT group_concat(object, ',') FROM audit");
  REQUIRE(*st->step());
  REQUIRE(st->col_text(0) == "kept,kept2");
}

TEST_CASE("replaced(): a file renamed over the store, its log or itself removed; not a write",
          "[store]") {
  auto dir = tmpdir();
  auto db = store::open_dir(dir);
  REQUIRE(db);
  REQUIRE_FALSE(db->replaced());
  {
    // Another connection's write changes the file, not which file the path names.
    auto other = store::open_dir(dir);
    REQUIRE(other);
    REQUIRE(other->exec("INSERT INTO meta(key, value) VALUES ('k', 'v')"));
  }
  REQUIRE_FALSE(db->replaced());
  // A copy (a backup restored) renamed over the path.
  {
    auto copy = store::open_dir(dir + "/copy");
    REQUIRE(copy);
    REQUIRE(copy->exec("INSERT INTO meta(key, value) VALUES ('k', 'from the copy')"));
  }
  REQUIRE(std::rename((dir + "/copy/warren.db").c_str(), (dir + "/warren.db").c_str()) == 0);
  REQUIRE(db->replaced());
  // The old file's WAL, still at the path beside the new file, is emptied into the old file
  // before the connection is let go (else SQLite reads the new file through the old log: the
  // value below would be "v").
  REQUIRE(db->release_replaced());
  *db = store::Db();
  // A connection opened now has the new file, and is not replaced.
  auto fresh = store::open_dir(dir);
  REQUIRE(fresh);
  REQUIRE_FALSE(fresh->replaced());
  auto st = fresh->prepare("SELECT value FROM meta WHERE key = 'k'");
  REQUIRE(st);
  REQUIRE(*st->step());
  REQUIRE(st->col_text(0) == "from the copy");
  // The -wal removed under a live connection: its commits and the path's no longer meet.
  REQUIRE(std::remove((dir + "/warren.db-wal").c_str()) == 0);
  REQUIRE(fresh->replaced());
  REQUIRE(fresh->release_replaced());  // writes nothing: the file was not replaced
  *fresh = store::Db();
  fresh = store::open_dir(dir);
  REQUIRE(fresh);
  REQUIRE_FALSE(fresh->replaced());
  // Removed: the path names no file at all.
  REQUIRE(std::remove((dir + "/warren.db").c_str()) == 0);
  REQUIRE(fresh->replaced());
  REQUIRE_FALSE(store::Db().replaced());
  std::system(("rm -rf " + dir).c_str());
}
