#include "tunnel/sites.h"

#include <boost/json.hpp>

#include "core/fs.h"
#include "core/text.h"
#include "tunnel/config.h"
#include "tunnel/proto/frames.h"

namespace tunnel {

using core::Errc;

core::Result<void> check_site_name(std::string_view name) {
  if (name.empty() || !proto::valid_site_id(name))
    return core::err(Errc::data, "bad site name \"" + std::string(name.substr(0, 80)) +
                                     "\": expected 1 to 64 of [A-Za-z0-9._-]");
  return {};
}

namespace {

std::string detail(std::initializer_list<std::pair<std::string_view, std::string_view>> kv) {
  boost::json::object o;
  for (auto& [k, v] : kv) o[k] = v;
  return boost::json::serialize(o);
}

core::Result<SiteRecord> site_from(store::Stmt& st) {
  SiteRecord s;
  s.name = st.col_text(0);
  auto key = crypto::key_from_base64(st.col_text(1));
  if (!key)
    return core::err(Errc::data,
                     "store: site " + s.name + ": bad public key: " + key.error().message);
  s.public_key = *key;
  s.enabled = st.col_int(2) != 0;
  s.created_at = st.col_int(3);
  if (!st.col_null(4)) s.key_rotated_at = st.col_int(4);
  return s;
}

constexpr std::string_view kSiteCols =
    "SELECT name, public_key, enabled, created_at, key_rotated_at FROM sites";

}  // namespace

core::Result<std::vector<SiteRecord>> list_sites(store::Db& db) {
  WARREN_TRY(st, db.prepare(std::string(kSiteCols) + " ORDER BY name"));
  std::vector<SiteRecord> out;
  for (;;) {
    WARREN_TRY(row, st.step());
    if (!row) break;
    WARREN_TRY(s, site_from(st));
    out.push_back(std::move(s));
  }
  return out;
}

core::Result<SiteRecord> find_site(store::Db& db, std::string_view name) {
  WARREN_TRY(st, db.prepare(std::string(kSiteCols) + " WHERE name = ?"));
  st.bind(1, name);
  WARREN_TRY(row, st.step());
  if (!row) return core::err(Errc::noinput, "no site " + std::string(name));
  return site_from(st);
}

core::Result<void> add_site(store::Db& db, const SiteRecord& s, std::string_view actor) {
  WARREN_CHECK(check_site_name(s.name));
  std::string key = crypto::key_to_base64(s.public_key);
  WARREN_TRY(tx, store::Tx::begin(db));
  {
    WARREN_TRY(st, db.prepare("SELECT name FROM sites WHERE name = ? OR public_key = ?"));
    st.bind(1, s.name).bind(2, key);
    WARREN_TRY(row, st.step());
    if (row) {
      std::string other = st.col_text(0);
      if (other == s.name) return core::err(Errc::data, "site " + s.name + " already exists");
      return core::err(Errc::data, "that public key already belongs to site " + other);
    }
  }
  WARREN_TRY(ins, db.prepare("INSERT INTO sites (name, public_key, enabled, created_at) "
                             "VALUES (?, ?, ?, ?)"));
  ins.bind(1, s.name).bind(2, key).bind(3, s.enabled ? 1 : 0).bind(4, s.created_at);
  WARREN_CHECK(ins.run());
  WARREN_CHECK(store::audit(db, actor, "site.add", s.name, detail({{"public_key", key}})));
  return tx.commit();
}

core::Result<void> remove_site(store::Db& db, std::string_view name, std::string_view actor) {
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(old, find_site(db, name));
  // Forwards go first explicitly: a PostgreSQL backend and SQLite without foreign_keys agree.
  WARREN_TRY(fw, db.prepare("DELETE FROM forwards WHERE site = ?"));
  fw.bind(1, name);
  WARREN_CHECK(fw.run());
  WARREN_TRY(st, db.prepare("DELETE FROM sites WHERE name = ?"));
  st.bind(1, name);
  WARREN_CHECK(st.run());
  WARREN_CHECK(store::audit(db, actor, "site.remove", name,
                            detail({{"public_key", crypto::key_to_base64(old.public_key)}})));
  return tx.commit();
}

core::Result<void> set_site_key(store::Db& db, std::string_view name, const crypto::Key& pub,
                                int64_t now, std::string_view actor) {
  std::string key = crypto::key_to_base64(pub);
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(old, find_site(db, name));
  WARREN_TRY(st, db.prepare("UPDATE sites SET public_key = ?, key_rotated_at = ? WHERE name = ?"));
  st.bind(1, key).bind(2, now).bind(3, name);
  WARREN_CHECK(st.run());
  WARREN_CHECK(store::audit(
      db, actor, "site.rotate_key", name,
      detail({{"old_public_key", crypto::key_to_base64(old.public_key)}, {"public_key", key}})));
  return tx.commit();
}

core::Result<std::vector<ForwardRecord>> list_forwards(store::Db& db) {
  WARREN_TRY(st, db.prepare("SELECT protocol, listen_port, site, target, enabled, "
                            "coalesce(name, ''), allow_ips, deny_ips, allow_countries, "
                            "deny_countries, max_conns, conn_rate, conn_burst, tls_client_cert "
                            "FROM forwards ORDER BY protocol, listen_port"));
  std::vector<ForwardRecord> out;
  for (;;) {
    WARREN_TRY(row, st.step());
    if (!row) break;
    ForwardRecord f;
    f.protocol = st.col_text(0);
    int64_t port = st.col_int(1);
    f.listen_port = port > 0 && port < 65536 ? uint16_t(port) : 0;
    f.site = st.col_text(2);
    f.target = st.col_text(3);
    f.enabled = st.col_int(4) != 0;
    f.name = st.col_text(5);
    auto a =
        make_forward_access(st.col_text(6), st.col_text(7), st.col_text(8), st.col_text(9),
                            st.col_int(10), st.col_int(11), st.col_int(12), st.col_int(13) != 0);
    if (a)
      f.access = std::move(*a);
    else
      f.access_error = a.error().message;
    out.push_back(std::move(f));
  }
  return out;
}

core::Result<void> add_forward(store::Db& db, const ForwardRecord& f, int64_t now,
                               std::string_view actor) {
  if (f.protocol != "tcp" && f.protocol != "udp")
    return core::err(Errc::data, "bad forward protocol \"" + f.protocol + "\": tcp or udp");
  if (f.listen_port == 0) return core::err(Errc::data, "bad forward port 0");
  if (!proto::valid_target(f.target))
    return core::err(Errc::data, "bad forward target \"" + f.target + "\": expected host:port");
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_CHECK(find_site(db, f.site));
  WARREN_TRY(st, db.prepare("INSERT INTO forwards (protocol, listen_port, site, target, enabled, "
                            "created_at) VALUES (?, ?, ?, ?, ?, ?)"));
  st.bind(1, f.protocol)
      .bind(2, int64_t(f.listen_port))
      .bind(3, f.site)
      .bind(4, f.target)
      .bind(5, f.enabled ? 1 : 0)
      .bind(6, now);
  if (auto r = st.run(); !r)
    return core::err(Errc::data, f.protocol + " port " + std::to_string(f.listen_port) +
                                     " is already forwarded");
  WARREN_CHECK(store::audit(db, actor, "forward.add",
                            f.protocol + ":" + std::to_string(f.listen_port),
                            detail({{"site", f.site}, {"target", f.target}})));
  return tx.commit();
}

core::Result<std::optional<std::string>> get_meta(store::Db& db, std::string_view key) {
  WARREN_TRY(st, db.prepare("SELECT value FROM meta WHERE key = ?"));
  st.bind(1, key);
  WARREN_TRY(row, st.step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(st.col_text(0));
}

core::Result<void> set_meta(store::Db& db, std::string_view key, std::string_view value) {
  WARREN_TRY(st, db.prepare("INSERT INTO meta (key, value) VALUES (?, ?) "
                            "ON CONFLICT (key) DO UPDATE SET value = excluded.value"));
  st.bind(1, key).bind(2, value);
  return st.run();
}

core::Result<crypto::Key> parse_private_key(std::string_view text, std::string_view what) {
  auto line = core::trim(text.substr(0, text.find('\n')));
  auto k = crypto::key_from_base64(line);
  if (!k)
    return core::err(Errc::data, std::string(what) +
                                     ": not a private key (expected 44 characters of base64, "
                                     "as wg genkey prints)");
  return *k;
}

core::Result<crypto::KeyPair> load_key_file(const std::string& path, bool create) {
  crypto::init();
  auto text = read_regular_file(path, 4096);
  if (!text && text.error().code == Errc::noinput && create) {
    crypto::KeyPair kp = crypto::generate_keypair();
    std::string b64 = crypto::key_to_base64(kp.priv) + "\n";
    auto w = core::write_file_excl(path, b64, 0600);
    crypto::wipe(b64.data(), b64.size());
    if (w) return kp;
    text = read_regular_file(path, 4096);  // lost a race with another creator: use its key
  }
  if (!text) return text.error();
  auto priv = parse_private_key(*text, path);
  crypto::wipe(text->data(), text->size());
  if (!priv) return priv.error();
  return crypto::KeyPair{*priv, crypto::public_from_private(*priv)};
}

}  // namespace tunnel
