// peerctl dump: every object of the store as stable tab-separated lines, type first (plumbing;
// columns documented in peerctl(8), only ever appended). Also the hidden `__complete KIND`,
// which prints names for the shell completions.
#include <string>

#include "core/fs.h"
#include "core/text.h"
#include "model/model.h"
#include "peerctl.h"

namespace peerctl {

namespace {

// A field: tabs, newlines and backslashes escaped; empty as "-".
std::string cell(std::string_view v) {
  if (v.empty()) return "-";
  std::string out;
  for (char c : v) {
    if (c == '\t')
      out += "\\t";
    else if (c == '\n')
      out += "\\n";
    else if (c == '\\')
      out += "\\\\";
    else
      out += c;
  }
  return out;
}

std::string time_cell(const store::Stmt& q, int i) {
  if (q.col_null(i)) return "-";
  return core::rfc3339(std::time_t(q.col_int(i)));
}

std::string bool_cell(const store::Stmt& q, int i) {
  return q.col_int(i) ? "yes" : "no";
}

std::string commas(const std::string& words) {
  std::string s = words;
  for (auto& c : s)
    if (c == ' ') c = ',';
  return s;
}

struct Dumper {
  store::Db& db;
  std::string out;

  void line(std::initializer_list<std::string> cells) {
    bool first = true;
    for (auto& c : cells) {
      if (!first) out += '\t';
      out += first ? c : cell(c);
      first = false;
    }
    out += '\n';
  }
  // Runs sql and calls fn(q) per row.
  template <class Fn>
  core::Result<void> rows(std::string_view sql, Fn fn) {
    WARREN_TRY(q, db.prepare(sql));
    for (;;) {
      WARREN_TRY(row, q.step());
      if (!row) return {};
      fn(q);
    }
  }
};

core::Result<std::string> dump(store::Db& db) {
  WARREN_TRY(tx, store::Tx::begin(db));  // one consistent snapshot
  Dumper d{db, {}};
  // The installation from the one model; the runtime state (links, keys) from its tables.
  WARREN_TRY(m, model::read(db));
  auto when = [](int64_t t) { return t ? core::rfc3339(std::time_t(t)) : std::string("-"); };
  auto yes = [](bool b) { return std::string(b ? "yes" : "no"); };
  auto list = [](const std::vector<std::string>& v, char sep) {
    std::string s;
    for (auto& x : v) s += (s.empty() ? "" : std::string(1, sep)) + x;
    return s;
  };
  for (auto& [n, x] : m.sites)
    d.line({"site", n, yes(x.enabled), x.public_key.value_or(""), when(x.created_at),
            when(x.key_rotated_at), when(x.enrolled_at)});
  for (auto& [k, f] : m.forwards)
    d.line(
        {"forward", f.protocol, std::to_string(f.port), f.site, f.target, yes(f.enabled), f.name});
  for (auto& [n, r] : m.resources)
    d.line({"resource", n, r.host, r.path, yes(r.enabled), r.lb,
            r.auth && !r.auth->is_public ? "protected" : "public", std::to_string(r.targets.size()),
            yes(r.tls)});
  for (auto& [n, r] : m.resources)
    for (auto& t : r.targets)
      d.line({"target", n, t.str(), yes(t.enabled), yes(t.tls_verify), std::to_string(t.weight)});
  for (auto& [n, r] : m.resources) {
    if (!r.auth) continue;
    std::vector<std::string> methods;  // in peerctl's order
    for (const char* x : model::kAuthMethods)
      if (r.auth->has(x)) methods.push_back(x);
    d.line({"auth", n, yes(r.auth->is_public), list(methods, ','),
            std::to_string(r.auth->session_ttl)});
  }
  for (auto& [n, r] : m.resources)
    for (auto& ru : r.rules)
      d.line({"rule", std::to_string(ru.id), n, std::to_string(ru.priority), ru.action,
              commas(ru.ips), ru.path, commas(ru.methods), commas(ru.countries), yes(ru.enabled)});
  for (auto& [n, x] : m.roles) d.line({"role", n, x.description});
  for (auto& [e, u] : m.users)
    d.line({"user", e, u.name, yes(u.enabled), list(u.roles, ','), yes(u.password.hash.has_value()),
            yes(u.has_totp)});
  for (auto& [n, r] : m.resources)
    for (auto& ro : r.roles) d.line({"grant", n, "role", ro});
  for (auto& [n, r] : m.resources)
    for (auto& u : r.users) d.line({"grant", n, "user", u});
  WARREN_CHECK(
      d.rows("SELECT l.id, r.name, l.title, l.path_prefix, l.created_at, l.expires_at, "
             "l.revoked FROM share_links l JOIN resources r ON r.id = l.resource_id "
             "ORDER BY r.name, l.created_at, l.id",
             [&](store::Stmt& q) {
               d.line({"link", q.col_text(0), q.col_text(1), q.col_text(2), q.col_text(3),
                       time_cell(q, 4), time_cell(q, 5), bool_cell(q, 6)});
             }));
  WARREN_CHECK(
      d.rows("SELECT k.id, u.email, r.name, k.scopes, k.created_at, k.expires_at, "
             "k.last_used, k.revoked FROM api_keys k LEFT JOIN users u ON u.id = "
             "k.user_id LEFT JOIN resources r ON r.id = k.resource_id ORDER BY k.id",
             [&](store::Stmt& q) {
               d.line({"apikey", q.col_text(0), q.col_null(1) ? "" : q.col_text(1),
                       q.col_null(2) ? "" : q.col_text(2), commas(q.col_text(3)), time_cell(q, 4),
                       time_cell(q, 5), time_cell(q, 6), bool_cell(q, 7)});
             }));
  return std::move(d.out);
}

}  // namespace

void register_dump(Ctx& c, CLI::App& app) {
  auto* s = c.prog.verb(app, "dump",
                        "Print every object as tab-separated lines, type first (for scripts)",
                        "peerctl dump");
  c.prog.on(s, [&c]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto out = dump(*db);
    if (!out) return cli::fail(out.error());
    auto w = core::write_stdout(*out);
    return w ? 0 : cli::fail(w.error());
  });
}

void register_complete(Ctx& c, CLI::App& app) {
  auto kind = std::make_shared<std::string>();
  auto* s =
      c.prog.verb(app, "__complete", "Print names for shell completion", "peerctl __complete KIND");
  s->group("");  // hidden
  s->add_option("kind", *kind, "sites, resources, users, roles or forwards")->required();
  c.prog.on(s, [&c, kind]() -> int {
    static const std::pair<const char*, const char*> kinds[] = {
        {"sites", "SELECT name FROM sites ORDER BY name"},
        {"resources", "SELECT name FROM resources ORDER BY name"},
        {"users", "SELECT email FROM users ORDER BY email"},
        {"roles", "SELECT name FROM roles ORDER BY name"},
    };
    const char* sql = nullptr;
    for (auto& [k, q] : kinds)
      if (*kind == k) sql = q;
    if (!sql) return cli::fail({core::Errc::usage, "__complete: unknown kind " + *kind});
    // Completion never creates a store and stays quiet when there is none.
    if (!core::file_exists(store::db_path(c.prog.warren_dir()))) return 0;
    store::OpenOptions o;
    o.create = false;
    o.readonly = true;
    o.migrate = false;
    o.busy_timeout_ms = 200;
    auto db = store::open_dir(c.prog.warren_dir(), o);
    if (!db) return 0;
    auto q = db->prepare(sql);
    if (!q) return 0;
    std::string out;
    for (;;) {
      auto row = q->step();
      if (!row || !*row) break;
      out += q->col_text(0) + "\n";
    }
    (void)core::write_stdout(out);
    return 0;
  });
}

}  // namespace peerctl
