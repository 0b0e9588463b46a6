#include "flow/history.h"

namespace flow {

using core::Errc;
using core::Error;
using core::Result;

namespace {

const char* kRunCols =
    "id, execution_id, workflow_id, source, started_at, duration_ms, status, exit_code, error, "
    "node_count, executions, final_output";

RunRecord read_run(const store::Stmt& s) {
  RunRecord r;
  r.id = s.col_int(0);
  r.execution_id = s.col_text(1);
  r.workflow_id = s.col_text(2);
  r.source = s.col_text(3);
  r.started_ms = s.col_int(4);
  r.duration_ms = s.col_int(5);
  r.status = s.col_text(6);
  r.exit_code = static_cast<int>(s.col_int(7));
  r.error = s.col_text(8);
  r.node_count = s.col_int(9);
  r.executions = s.col_int(10);
  if (!s.col_null(11)) r.final_output = s.col_text(11);
  return r;
}

}  // namespace

Result<int64_t> record_run(store::Db& db, const RunRecord& r) {
  WARREN_TRY(
      st, db.prepare("INSERT INTO flow_runs (execution_id, workflow_id, source, started_at, "
                     "duration_ms, status, exit_code, error, node_count, executions, final_output) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  st.bind(1, r.execution_id)
      .bind(2, r.workflow_id)
      .bind(3, r.source)
      .bind(4, r.started_ms)
      .bind(5, r.duration_ms)
      .bind(6, r.status)
      .bind(7, r.exit_code)
      .bind(8, r.error)
      .bind(9, r.node_count)
      .bind(10, r.executions)
      .bind(11, r.final_output);
  WARREN_CHECK(st.run());
  return db.last_insert_rowid();
}

Result<std::vector<RunRecord>> list_runs(store::Db& db, std::string_view workflow_id,
                                         int64_t limit) {
  std::string sql = std::string("SELECT ") + kRunCols +
                    " FROM flow_runs WHERE (? = '' OR workflow_id = ?) ORDER BY id DESC LIMIT ?";
  WARREN_TRY(st, db.prepare(sql));
  st.bind(1, workflow_id).bind(2, workflow_id).bind(3, limit > 0 ? limit : int64_t{-1});
  std::vector<RunRecord> out;
  for (;;) {
    WARREN_TRY(row, st.step());
    if (!row) break;
    out.push_back(read_run(st));
  }
  return out;
}

Result<RunRecord> find_run(store::Db& db, std::string_view key) {
  if (key.empty()) return Error(Errc::usage, "empty run id");
  bool numeric = key.find_first_not_of("0123456789") == std::string_view::npos;
  if (numeric && key.size() < 16) {
    WARREN_TRY(st, db.prepare(std::string("SELECT ") + kRunCols + " FROM flow_runs WHERE id = ?"));
    st.bind(1, static_cast<int64_t>(std::stoll(std::string(key))));
    WARREN_TRY(row, st.step());
    if (row) return read_run(st);
  }
  if (key.size() < 4 || key.find_first_not_of("0123456789abcdef") != std::string_view::npos)
    return Error(Errc::noinput, "no such run: " + std::string(key));
  // Prefix match without building SQL from the input: a range over the index.
  std::string lo(key), hi(key);
  hi.push_back('\x7f');
  WARREN_TRY(st, db.prepare(std::string("SELECT ") + kRunCols +
                            " FROM flow_runs WHERE execution_id >= ? AND execution_id < ? "
                            "ORDER BY execution_id LIMIT 2"));
  st.bind(1, lo).bind(2, hi);
  std::vector<RunRecord> found;
  for (;;) {
    WARREN_TRY(row, st.step());
    if (!row) break;
    found.push_back(read_run(st));
  }
  if (found.empty()) return Error(Errc::noinput, "no such run: " + std::string(key));
  if (found.size() > 1 && found[0].execution_id != key)
    return Error(Errc::usage, "ambiguous run id prefix: " + std::string(key));
  return found[0];
}

Result<void> load_state(store::Db& db, std::string_view workflow_id, State& st, int64_t now_ns) {
  WARREN_TRY(
      q, db.prepare("SELECT kind, name, value, expires_at FROM flow_state WHERE workflow_id = ?"));
  q.bind(1, workflow_id);
  int64_t now_ms = now_ns / 1000000;
  for (;;) {
    WARREN_TRY(row, q.step());
    if (!row) break;
    std::string kind = q.col_text(0), name = q.col_text(1), text = q.col_text(2);
    auto v = parse_json(text);
    if (!v) return Error(Errc::data, "flow_state: bad JSON for " + kind + " " + name);
    if (kind == "variable") {
      st.variables[name] = *v;
      st.persistent_variables.insert(name);
    } else if (kind == "counter") {
      st.p_counter = as_number(*v);
    } else if (kind == "accumulator") {
      st.p_accumulator = *v;
    } else if (kind == "cache") {
      int64_t exp = q.col_null(3) ? INT64_MAX / 1000000 : q.col_int(3);
      if (exp < now_ms) continue;
      st.p_cache[name] = CacheEntry{*v, exp * 1000000};
    }
  }
  return {};
}

Result<void> save_state(store::Db& db, std::string_view workflow_id, const State& st,
                        int64_t now_ns) {
  int64_t now_ms = now_ns / 1000000;
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(
      put, db.prepare("INSERT INTO flow_state (workflow_id, kind, name, value, expires_at, "
                      "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (workflow_id, kind, name) "
                      "DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, "
                      "updated_at = excluded.updated_at"));
  auto upsert = [&](const char* kind, const std::string& name, const Value& v,
                    std::optional<int64_t> exp) -> Result<void> {
    put.reset();
    put.bind(1, workflow_id)
        .bind(2, kind)
        .bind(3, name)
        .bind(4, to_json(v))
        .bind(5, exp)
        .bind(6, now_ms);
    return put.run();
  };
  for (auto& name : st.persistent_variables) {
    auto it = st.variables.find(name);
    if (it != st.variables.end()) WARREN_CHECK(upsert("variable", name, it->value(), std::nullopt));
  }
  if (st.p_counter) WARREN_CHECK(upsert("counter", "", Value(*st.p_counter), std::nullopt));
  if (st.p_accumulator) WARREN_CHECK(upsert("accumulator", "", *st.p_accumulator, std::nullopt));
  for (auto& [k, e] : st.p_cache) WARREN_CHECK(upsert("cache", k, e.value, e.expires_ns / 1000000));
  WARREN_TRY(
      del,
      db.prepare("DELETE FROM flow_state WHERE workflow_id = ? AND kind = 'cache' AND name = ?"));
  for (auto& k : st.p_cache_deleted) {
    if (st.p_cache.count(k)) continue;
    del.reset();
    del.bind(1, workflow_id).bind(2, k);
    WARREN_CHECK(del.run());
  }
  WARREN_TRY(gc, db.prepare("DELETE FROM flow_state WHERE workflow_id = ? AND kind = 'cache' AND "
                            "expires_at < ?"));
  gc.bind(1, workflow_id).bind(2, now_ms);
  WARREN_CHECK(gc.run());
  return tx.commit();
}

}  // namespace flow
