// peerctl dump: every object of the store as stable tab-separated lines, type first (plumbing;
// columns documented in peerctl(8), only ever appended). Also the hidden `__complete KIND`,
// which prints names for the shell completions.
#include <string>

#include "blueprint/blueprint.h"
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
  WARREN_CHECK(
      d.rows("SELECT name, enabled, public_key, created_at, key_rotated_at, enrolled_at "
             "FROM sites ORDER BY name",
             [&](store::Stmt& q) {
               d.line({"site", q.col_text(0), bool_cell(q, 1), q.col_text(2), time_cell(q, 3),
                       time_cell(q, 4), time_cell(q, 5)});
             }));
  WARREN_CHECK(
      d.rows("SELECT protocol, listen_port, site, target, enabled, name FROM forwards ORDER BY "
             "protocol, listen_port",
             [&](store::Stmt& q) {
               d.line({"forward", q.col_text(0), std::to_string(q.col_int(1)), q.col_text(2),
                       q.col_text(3), bool_cell(q, 4), q.col_null(5) ? "" : q.col_text(5)});
             }));
  WARREN_CHECK(d.rows(
      "SELECT r.name, r.host, r.path_prefix, r.enabled, r.lb, CASE WHEN a.resource_id IS NULL "
      "OR a.public = 1 THEN 'public' ELSE 'protected' END, (SELECT count(*) FROM targets t "
      "WHERE t.resource_id = r.id), r.tls FROM resources r LEFT JOIN resource_auth a ON "
      "a.resource_id "
      "= r.id ORDER BY r.name",
      [&](store::Stmt& q) {
        d.line({"resource", q.col_text(0), q.col_text(1), q.col_text(2), bool_cell(q, 3),
                q.col_text(4), q.col_text(5), std::to_string(q.col_int(6)), bool_cell(q, 7)});
      }));
  WARREN_CHECK(
      d.rows("SELECT r.name, t.scheme, t.site, t.host, t.port, t.enabled, t.tls_verify, t.weight "
             "FROM targets t JOIN resources r ON r.id = t.resource_id ORDER BY r.name, "
             "t.id",
             [&](store::Stmt& q) {
               model::Target t;
               t.tls = q.col_text(1) == "https";
               t.site = q.col_null(2) ? "" : q.col_text(2);
               t.host = q.col_text(3);
               t.port = static_cast<uint16_t>(q.col_int(4));
               d.line({"target", q.col_text(0), t.str(), bool_cell(q, 5), bool_cell(q, 6),
                       std::to_string(q.col_int(7))});
             }));
  WARREN_CHECK(d.rows(
      "SELECT r.name, a.public, trim((CASE WHEN m_users THEN 'users ' ELSE '' END) || (CASE "
      "WHEN m_password THEN 'password ' ELSE '' END) || (CASE WHEN m_pin THEN 'pin ' ELSE '' "
      "END) || (CASE WHEN m_email THEN 'email ' ELSE '' END) || (CASE WHEN m_share_links THEN "
      "'share-links ' ELSE '' END) || (CASE WHEN m_basic THEN 'basic ' ELSE '' END) || (CASE "
      "WHEN m_mtls THEN 'mtls' ELSE '' END)), a.session_ttl FROM resource_auth a JOIN "
      "resources r ON r.id = a.resource_id ORDER BY r.name",
      [&](store::Stmt& q) {
        d.line({"auth", q.col_text(0), bool_cell(q, 1), commas(q.col_text(2)),
                std::to_string(q.col_int(3))});
      }));
  WARREN_CHECK(d.rows(
      "SELECT ru.id, r.name, ru.priority, ru.action, ru.ips, ru.path_glob, "
      "ru.methods, ru.countries, ru.enabled FROM rules ru JOIN resources r ON "
      "r.id = ru.resource_id ORDER BY r.name, ru.priority, ru.id",
      [&](store::Stmt& q) {
        d.line({"rule", std::to_string(q.col_int(0)), q.col_text(1), std::to_string(q.col_int(2)),
                q.col_text(3), commas(q.col_text(4)), q.col_text(5), commas(q.col_text(6)),
                commas(q.col_text(7)), bool_cell(q, 8)});
      }));
  WARREN_CHECK(d.rows("SELECT name, description FROM roles ORDER BY name", [&](store::Stmt& q) {
    d.line({"role", q.col_text(0), q.col_text(1)});
  }));
  WARREN_CHECK(
      d.rows("SELECT u.email, u.name, u.enabled, (SELECT group_concat(role, ',') FROM "
             "(SELECT role FROM user_roles WHERE user_id = u.id ORDER BY role)), "
             "u.password_hash IS NOT NULL, u.totp_secret IS NOT NULL FROM users u "
             "ORDER BY u.email",
             [&](store::Stmt& q) {
               d.line({"user", q.col_text(0), q.col_text(1), bool_cell(q, 2),
                       q.col_null(3) ? "" : q.col_text(3), bool_cell(q, 4), bool_cell(q, 5)});
             }));
  WARREN_CHECK(
      d.rows("SELECT r.name, ro.role FROM resource_roles ro JOIN resources r ON r.id = "
             "ro.resource_id ORDER BY r.name, ro.role",
             [&](store::Stmt& q) {
               d.line({"grant", q.col_text(0), "role", q.col_text(1)});
             }));
  WARREN_CHECK(
      d.rows("SELECT r.name, u.email FROM resource_users ru JOIN resources r ON r.id = "
             "ru.resource_id JOIN users u ON u.id = ru.user_id ORDER BY r.name, u.email",
             [&](store::Stmt& q) {
               d.line({"grant", q.col_text(0), "user", q.col_text(1)});
             }));
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
