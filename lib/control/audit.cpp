// control audit: see audit.h.
#include "control/audit.h"

#include <boost/json.hpp>

#include <algorithm>

#include "control/input.h"

namespace control {

namespace {

// "x*" -> ("x", prefix); "x" -> ("x", exact). LIKE would treat '_' and '%' as wildcards.
void bind_match(store::Stmt& st, int i, const std::string& v) {
  bool prefix = !v.empty() && v.back() == '*';
  st.bind(i, prefix ? v.substr(0, v.size() - 1) : v).bind(i + 1, prefix ? 1 : 0);
}

}  // namespace

core::Result<std::vector<AuditRow>> query_audit(store::Db& db, const AuditFilter& f) {
  auto match = [](const char* col, int i) {
    std::string c = col, a = std::to_string(i), b = std::to_string(i + 1);
    return " AND (?" + a + " = '' OR (?" + b + " = 0 AND " + c + " = ?" + a + ") OR (?" + b +
           " = 1 AND substr(" + c + ", 1, length(?" + a + ")) = ?" + a + "))";
  };
  std::string sql =
      "SELECT id, ts, actor, action, object, detail FROM audit "
      "WHERE id > ?1 AND (?2 = 0 OR ts >= ?2) AND (?3 = 0 OR ts < ?3)" +
      match("actor", 4) + match("action", 6) + match("object", 8) + " ORDER BY id DESC" +
      (f.limit > 0 ? " LIMIT ?10" : "");
  WARREN_TRY(st, db.prepare(sql));
  st.bind(1, f.after_id).bind(2, f.since).bind(3, f.until);
  bind_match(st, 4, f.actor);
  bind_match(st, 6, f.action);
  bind_match(st, 8, f.object);
  if (f.limit > 0) st.bind(10, f.limit);
  std::vector<AuditRow> out;
  for (;;) {
    WARREN_TRY(row, st.step());
    if (!row) break;
    out.push_back(AuditRow{st.col_int(0), st.col_int(1), st.col_text(2), st.col_text(3),
                           st.col_text(4), st.col_text(5)});
  }
  std::reverse(out.begin(), out.end());
  return out;
}

boost::json::object to_json(const AuditRow& r) {
  boost::system::error_code ec;
  boost::json::value d = boost::json::parse(r.detail, ec);
  if (ec) d = r.detail;
  return boost::json::object{{"id", r.id},         {"ts", time_or(r.ts)}, {"actor", r.actor},
                             {"action", r.action}, {"object", r.object},  {"detail", std::move(d)}};
}

}  // namespace control
