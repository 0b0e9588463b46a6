// control resources: see resources.h.
#include "control/resources.h"

#include <algorithm>
#include <cctype>

#include "control/detail.h"
#include "control/input.h"
#include "core/text.h"
#include "model/check.h"
#include "tunnel/access.h"

namespace control {

using core::Errc;
namespace bj = boost::json;

namespace detail {
core::Result<bool> exists_row(store::Db& db, std::string_view sql, std::string_view arg) {
  WARREN_TRY(st, db.prepare(sql));
  st.bind(1, arg);
  return st.step();
}
}  // namespace detail

namespace {

bool is_token_char(char ch) {
  return std::isalnum(static_cast<unsigned char>(ch)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(ch) != std::string_view::npos;
}

std::vector<std::string> words(const std::string& s) {
  return core::split(s, ' ');
}

// The name a forward shows when it has none in the store.
std::string forward_name(const std::string& name, const std::string& proto, int64_t port) {
  return name.empty() ? proto + ":" + std::to_string(port) : name;
}

core::Result<std::vector<Resource>> query_http(store::Db& db, std::string_view where,
                                               std::string_view arg) {
  std::string sql =
      "SELECT id, name, host, path_prefix, tls, redirect_https, headers, mtls, client_ca, "
      "client_crl, health_path, health_interval_ms, enabled, created_at, updated_at, hsts "
      "FROM resources ";
  sql += where;
  sql += " ORDER BY name";
  WARREN_TRY(st, db.prepare(sql));
  if (!arg.empty()) st.bind(1, arg);
  std::vector<Resource> out;
  for (;;) {
    WARREN_TRY(row, st.step());
    if (!row) break;
    Resource r;
    r.id = st.col_int(0);
    r.name = st.col_text(1);
    r.host = st.col_text(2);
    r.path = st.col_text(3);
    r.tls = st.col_int(4) != 0;
    r.redirect_https = st.col_int(5) != 0;
    r.headers = core::split(st.col_text(6), '\n');
    r.mtls = st.col_text(7);
    r.client_ca = st.col_text(8);
    r.client_crl = st.col_text(9);
    r.health_path = st.col_text(10);
    r.health_interval_ms = st.col_int(11);
    r.enabled = st.col_int(12) != 0;
    r.created_at = st.col_int(13);
    r.updated_at = st.col_int(14);
    r.hsts = st.col_int(15);
    out.push_back(std::move(r));
  }
  return out;
}

core::Result<std::vector<Resource>> query_forwards(store::Db& db) {
  WARREN_TRY(st, db.prepare("SELECT coalesce(name, ''), protocol, listen_port, site, target, "
                            "enabled, created_at, allow_ips, deny_ips, allow_countries, "
                            "deny_countries, max_conns, conn_rate, conn_burst, tls_client_cert "
                            "FROM forwards ORDER BY protocol, listen_port"));
  std::vector<Resource> out;
  for (;;) {
    WARREN_TRY(row, st.step());
    if (!row) break;
    Resource r;
    r.kind = st.col_text(1);
    r.port = static_cast<uint16_t>(st.col_int(2));
    r.name = forward_name(st.col_text(0), r.kind, r.port);
    r.path.clear();
    r.site = st.col_text(3);
    r.to = st.col_text(4);
    r.enabled = st.col_int(5) != 0;
    r.created_at = st.col_int(6);
    r.allow = words(st.col_text(7));
    r.deny = words(st.col_text(8));
    r.allow_countries = words(st.col_text(9));
    r.deny_countries = words(st.col_text(10));
    r.max_conns = st.col_int(11);
    r.conn_rate = st.col_int(12);
    r.conn_burst = st.col_int(13);
    r.tls_client_cert = st.col_int(14) != 0;
    out.push_back(std::move(r));
  }
  return out;
}

bj::object resource_detail(const Resource& r) {
  bj::object o{{"kind", r.kind}, {"enabled", r.enabled}};
  if (r.kind == "http") {
    o["host"] = r.host;
    o["path"] = r.path;
    o["tls"] = r.tls;
  } else {
    o["port"] = r.port;
    o["site"] = r.site;
    o["to"] = r.to;
    if (!r.allow.empty()) o["allow"] = join(r.allow, " ");
    if (!r.deny.empty()) o["deny"] = join(r.deny, " ");
    if (!r.allow_countries.empty()) o["allow_countries"] = join(r.allow_countries, " ");
    if (!r.deny_countries.empty()) o["deny_countries"] = join(r.deny_countries, " ");
    if (r.max_conns) o["max_conns"] = r.max_conns;
    if (r.conn_rate) o["conn_rate"] = r.conn_rate;
    if (r.conn_burst) o["conn_burst"] = r.conn_burst;
    if (r.tls_client_cert) o["tls_client_cert"] = true;
  }
  return o;
}

// Errc::data when `name`, (host, path) or (protocol, port) is taken by another object than
// `self` (the name being replaced in an update).
core::Result<void> check_unique(store::Db& db, const Resource& r, std::string_view self) {
  WARREN_TRY(all, list_resources(db));
  for (const auto& o : all) {
    if (o.name == self) continue;
    if (o.name == r.name) return detail::exists("resource", r.name);
    if (r.kind == "http" && o.kind == "http" && o.host == r.host && o.path == r.path)
      return core::err(Errc::data, "resource " + o.name + " already serves " + r.host + r.path);
    if (r.kind != "http" && o.kind == r.kind && o.port == r.port)
      return core::err(Errc::data, "resource " + o.name + " already forwards " + r.kind + " port " +
                                       std::to_string(r.port));
  }
  return {};
}

core::Result<void> write_forward_access(store::Db& db, const Resource& r) {
  WARREN_TRY(st, db.prepare("UPDATE forwards SET allow_ips = ?3, deny_ips = ?4, "
                            "allow_countries = ?5, deny_countries = ?6, max_conns = ?7, "
                            "conn_rate = ?8, conn_burst = ?9, tls_client_cert = ?10 "
                            "WHERE protocol = ?1 AND listen_port = ?2"));
  st.bind(1, r.kind).bind(2, int64_t(r.port)).bind(3, join(r.allow, " "));
  st.bind(4, join(r.deny, " ")).bind(5, join(r.allow_countries, " "));
  st.bind(6, join(r.deny_countries, " ")).bind(7, r.max_conns).bind(8, r.conn_rate);
  st.bind(9, r.conn_burst).bind(10, r.tls_client_cert ? 1 : 0);
  return st.run();
}

core::Result<void> write_http(store::Db& db, const Resource& r, int64_t now) {
  WARREN_TRY(st, db.prepare("UPDATE resources SET name = ?2, host = ?3, path_prefix = ?4, "
                            "tls = ?5, redirect_https = ?6, headers = ?7, mtls = ?8, "
                            "client_ca = ?9, client_crl = ?10, health_path = ?11, "
                            "health_interval_ms = ?12, enabled = ?13, updated_at = ?14, "
                            "hsts = ?15 WHERE id = ?1"));
  st.bind(1, r.id).bind(2, r.name).bind(3, r.host).bind(4, r.path).bind(5, r.tls ? 1 : 0);
  st.bind(6, r.redirect_https ? 1 : 0).bind(7, join(r.headers, "\n")).bind(8, r.mtls);
  st.bind(9, r.client_ca).bind(10, r.client_crl).bind(11, r.health_path);
  st.bind(12, r.health_interval_ms).bind(13, r.enabled ? 1 : 0).bind(14, now).bind(15, r.hsts);
  return st.run();
}

}  // namespace

core::Result<std::string> check_header(std::string_view field, std::string_view v) {
  size_t colon = v.find(':');
  auto bad = [&](const char* why) {
    return core::err(Errc::data,
                     std::string(field) + ": '" + std::string(v.substr(0, 200)) + "': " + why);
  };
  if (colon == v.npos || colon == 0) return bad("not a header (want 'Name: value')");
  std::string_view name = v.substr(0, colon);
  std::string_view value = core::trim(v.substr(colon + 1));
  for (char ch : name)
    if (!is_token_char(ch)) return bad("not a valid header name");
  for (char ch : value) {
    unsigned char u = static_cast<unsigned char>(ch);
    if ((u < 0x20 && ch != '\t') || u == 0x7f) return bad("control character in the value");
  }
  std::string lname = core::to_lower(name);
  if (lname == "host" || lname == "content-length" || lname == "transfer-encoding" ||
      lname == "connection" || core::starts_with(lname, "remote-"))
    return bad("this header is set by edged");
  return std::string(name) + ": " + std::string(value);
}

namespace {

// The access settings of a forward, as tunneld will read them (tunnel::make_forward_access).
core::Result<void> check_forward_access(const Resource& r) {
  auto field = [](const char* f, const core::Error& e) {
    return core::err(Errc::data, std::string(f) + ": " + e.message);
  };
  for (const auto& a : r.allow)
    if (auto c = auth::parse_cidr(a); !c) return field("--allow", c.error());
  for (const auto& a : r.deny)
    if (auto c = auth::parse_cidr(a); !c) return field("--deny", c.error());
  for (const auto& cc : r.allow_countries)
    if (auto c = tunnel::check_country(cc); !c || *c != cc)
      return field("--allow-country", c ? core::Error{Errc::data, "not upper-case"} : c.error());
  for (const auto& cc : r.deny_countries)
    if (auto c = tunnel::check_country(cc); !c || *c != cc)
      return field("--deny-country", c ? core::Error{Errc::data, "not upper-case"} : c.error());
  auto limit = [](const char* f, int64_t v) -> core::Result<void> {
    if (v < 0 || v > 1000000)
      return core::err(Errc::data, std::string(f) + ": " + std::to_string(v) + ": 0 to 1000000");
    return {};
  };
  WARREN_CHECK(limit("--max-conns", r.max_conns));
  WARREN_CHECK(limit("--conn-rate", r.conn_rate));
  WARREN_CHECK(limit("--conn-burst", r.conn_burst));
  if (r.tls_client_cert && r.kind != "tcp")
    return core::err(Errc::data, "--tls-client-cert: TLS is for tcp forwards, not " + r.kind);
  return {};
}

}  // namespace

core::Result<void> check_resource(const Resource& r) {
  WARREN_CHECK(model::check_name("NAME", r.name));
  if (r.name.find(':') != std::string::npos)
    return core::err(Errc::data, "NAME: '" + r.name + "': ':' is reserved");
  if (r.kind == "http") {
    WARREN_CHECK(model::check_hostname("--host", r.host));
    WARREN_CHECK(model::check_path_prefix("--path", r.path));
    for (const auto& h : r.headers) WARREN_CHECK(check_header("--header", h));
    if (r.mtls != "off" && r.mtls != "optional" && r.mtls != "required")
      return core::err(Errc::data, "--mtls-mode: '" + r.mtls + "': off, optional or required");
    if (r.mtls != "off" && r.client_ca.empty())
      return core::err(Errc::data, "--client-ca: mTLS needs a client CA bundle");
    if (!r.health_path.empty())
      WARREN_CHECK(model::check_path_prefix("--health-path", r.health_path));
    if (r.health_interval_ms < 0) return core::err(Errc::data, "--health-interval: negative");
    return {};
  }
  if (r.kind != "tcp" && r.kind != "udp")
    return core::err(Errc::data, "kind '" + r.kind + "': http, tcp or udp");
  if (r.port == 0) return core::err(Errc::data, "--" + r.kind + ": port 0 is not allowed");
  WARREN_CHECK(model::check_name("--site", r.site));
  WARREN_CHECK(model::check_host_port("--to", r.to));
  return check_forward_access(r);
}

core::Result<std::vector<Resource>> list_resources(store::Db& db) {
  WARREN_TRY(http, query_http(db, "", ""));
  WARREN_TRY(fwd, query_forwards(db));
  for (auto& f : fwd) http.push_back(std::move(f));
  std::stable_sort(http.begin(), http.end(),
                   [](const Resource& a, const Resource& b) { return a.name < b.name; });
  return http;
}

core::Result<Resource> find_resource(store::Db& db, std::string_view name) {
  WARREN_TRY(http, query_http(db, "WHERE name = ?1", name));
  if (!http.empty()) return http.front();
  WARREN_TRY(fwd, query_forwards(db));
  for (auto& f : fwd)
    if (f.name == name) return f;
  return detail::missing("resource", name);
}

core::Result<int64_t> http_resource_id(store::Db& db, std::string_view name) {
  WARREN_TRY(r, find_resource(db, name));
  if (r.kind != "http")
    return core::err(Errc::data, "resource " + r.name + " is a " + r.kind +
                                     " forward (only HTTP resources have this)");
  return r.id;
}

core::Result<void> add_resource(store::Db& db, const Resource& r, std::string_view actor,
                                int64_t now) {
  WARREN_CHECK(check_resource(r));
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_CHECK(check_unique(db, r, ""));
  if (r.kind == "http") {
    WARREN_TRY(st, db.prepare("INSERT INTO resources (name, host, path_prefix, created_at) "
                              "VALUES (?1, ?2, ?3, ?4)"));
    st.bind(1, r.name).bind(2, r.host).bind(3, r.path).bind(4, now);
    WARREN_CHECK(st.run());
    Resource w = r;
    w.id = db.last_insert_rowid();
    WARREN_CHECK(write_http(db, w, now));
  } else {
    WARREN_TRY(site, detail::exists_row(db, "SELECT 1 FROM sites WHERE name = ?1", r.site));
    if (!site) return detail::missing("site", r.site);
    WARREN_TRY(st, db.prepare("INSERT INTO forwards (protocol, listen_port, site, target, "
                              "enabled, created_at, name) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    st.bind(1, r.kind).bind(2, int64_t(r.port)).bind(3, r.site).bind(4, r.to);
    st.bind(5, r.enabled ? 1 : 0).bind(6, now).bind(7, r.name);
    WARREN_CHECK(st.run());
    WARREN_CHECK(write_forward_access(db, r));
  }
  WARREN_CHECK(store::audit(db, actor, "resource.add", r.name, detail::json(resource_detail(r))));
  return tx.commit();
}

core::Result<void> update_resource(store::Db& db, std::string_view name, const Resource& r,
                                   std::string_view actor, int64_t now) {
  WARREN_CHECK(check_resource(r));
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(old, find_resource(db, name));
  if (old.kind != r.kind)
    return core::err(Errc::data, "resource " + old.name + " is " + old.kind + ", not " + r.kind);
  WARREN_CHECK(check_unique(db, r, name));
  if (r.kind == "http") {
    Resource w = r;
    w.id = old.id;
    WARREN_CHECK(write_http(db, w, now));
  } else {
    if (r.site != old.site) {
      WARREN_TRY(site, detail::exists_row(db, "SELECT 1 FROM sites WHERE name = ?1", r.site));
      if (!site) return detail::missing("site", r.site);
    }
    WARREN_TRY(st, db.prepare("UPDATE forwards SET listen_port = ?3, site = ?4, target = ?5, "
                              "enabled = ?6, name = ?7 WHERE protocol = ?1 AND listen_port = ?2"));
    st.bind(1, old.kind).bind(2, int64_t(old.port)).bind(3, int64_t(r.port)).bind(4, r.site);
    st.bind(5, r.to).bind(6, r.enabled ? 1 : 0).bind(7, r.name);
    WARREN_CHECK(st.run());
    WARREN_CHECK(write_forward_access(db, r));
  }
  auto d = resource_detail(r);
  if (r.name != old.name) d["renamed_from"] = old.name;
  WARREN_CHECK(store::audit(db, actor, "resource.set", r.name, detail::json(d)));
  return tx.commit();
}

core::Result<void> remove_resource(store::Db& db, std::string_view name, std::string_view actor) {
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(old, find_resource(db, name));
  if (old.kind == "http") {
    WARREN_TRY(st, db.prepare("DELETE FROM resources WHERE id = ?1"));
    st.bind(1, old.id);
    WARREN_CHECK(st.run());
  } else {
    WARREN_TRY(st, db.prepare("DELETE FROM forwards WHERE protocol = ?1 AND listen_port = ?2"));
    st.bind(1, old.kind).bind(2, int64_t(old.port));
    WARREN_CHECK(st.run());
  }
  WARREN_CHECK(
      store::audit(db, actor, "resource.rm", old.name, detail::json(resource_detail(old))));
  return tx.commit();
}

core::Result<void> set_resource_enabled(store::Db& db, std::string_view name, bool enabled,
                                        std::string_view actor, int64_t now) {
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(r, find_resource(db, name));
  r.enabled = enabled;
  if (r.kind == "http") {
    WARREN_TRY(st, db.prepare("UPDATE resources SET enabled = ?2, updated_at = ?3 WHERE id = ?1"));
    st.bind(1, r.id).bind(2, enabled ? 1 : 0).bind(3, now);
    WARREN_CHECK(st.run());
  } else {
    WARREN_TRY(st, db.prepare("UPDATE forwards SET enabled = ?3 "
                              "WHERE protocol = ?1 AND listen_port = ?2"));
    st.bind(1, r.kind).bind(2, int64_t(r.port)).bind(3, enabled ? 1 : 0);
    WARREN_CHECK(st.run());
  }
  WARREN_CHECK(store::audit(db, actor, enabled ? "resource.enable" : "resource.disable", r.name));
  return tx.commit();
}

// ---------------------------------------------------------------------------------------------
// targets

core::Result<void> parse_target(store::Db& db, std::string_view field, std::string_view spec,
                                Target& t) {
  std::string_view site, addr = spec;
  size_t bracket = spec.find('[');
  size_t colon = spec.find(':');
  if (colon != spec.npos && (bracket == spec.npos || colon < bracket)) {
    std::string_view rest = spec.substr(colon + 1);
    // site:host:port (host may be [v6]); plain host:port has exactly one ':' before a port.
    if (rest.find(':') != rest.npos) {
      site = spec.substr(0, colon);
      addr = rest;
    }
  }
  auto hp = model::check_host_port(field, addr);
  if (!hp) {  // name the whole operand, not just its address part
    const std::string& m = hp.error().message;
    size_t why = m.find("': ");
    return core::err(Errc::data, std::string(field) + ": '" + std::string(spec) + "'" +
                                     (why == std::string::npos ? ": " + m : m.substr(why + 1)));
  }
  t.site.clear();
  if (!site.empty()) {
    WARREN_TRY(s, model::check_name(field, site));
    WARREN_TRY(found, detail::exists_row(db, "SELECT 1 FROM sites WHERE name = ?1", s));
    if (!found) return detail::missing("site", s).context(std::string(field));
    t.site = s;
  }
  t.host = hp->host;
  t.port = hp->port;
  return {};
}

std::string target_address(const Target& t) {
  std::string host = t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host;
  std::string a = host + ":" + std::to_string(t.port);
  return t.site.empty() ? a : t.site + ":" + a;
}

namespace {

constexpr std::string_view kTargetSelect =
    "SELECT t.id, r.name, t.scheme, coalesce(t.site, ''), t.host, t.port, t.weight, "
    "t.tls_verify, t.tls_sni, t.enabled, t.created_at FROM targets t "
    "JOIN resources r ON r.id = t.resource_id ";

Target target_row(const store::Stmt& st) {
  Target t;
  t.id = st.col_int(0);
  t.resource = st.col_text(1);
  t.scheme = st.col_text(2);
  t.site = st.col_text(3);
  t.host = st.col_text(4);
  t.port = static_cast<uint16_t>(st.col_int(5));
  t.weight = static_cast<int>(st.col_int(6));
  t.tls_verify = st.col_int(7) != 0;
  t.sni = st.col_text(8);
  t.enabled = st.col_int(9) != 0;
  t.created_at = st.col_int(10);
  return t;
}

core::Result<void> check_target(const Target& t) {
  if (t.scheme != "http" && t.scheme != "https")
    return core::err(Errc::data, "--scheme: '" + t.scheme + "': http or https");
  if (t.weight < 0 || t.weight > 1000)
    return core::err(Errc::data, "--weight: '" + std::to_string(t.weight) + "': 0 to 1000");
  if (t.host.empty() || t.port == 0) return core::err(Errc::data, "target: no host:port");
  if (!t.sni.empty()) WARREN_CHECK(model::check_hostname("--sni", t.sni));
  return {};
}

bj::object target_detail(const Target& t) {
  return bj::object{{"resource", t.resource},
                    {"target", target_address(t)},
                    {"scheme", t.scheme},
                    {"weight", t.weight},
                    {"enabled", t.enabled}};
}

}  // namespace

core::Result<std::vector<Target>> list_targets(store::Db& db, std::string_view resource) {
  WARREN_CHECK(http_resource_id(db, resource));
  WARREN_TRY(st, db.prepare(std::string(kTargetSelect) + "WHERE r.name = ?1 ORDER BY t.id"));
  st.bind(1, resource);
  std::vector<Target> out;
  for (;;) {
    WARREN_TRY(row, st.step());
    if (!row) break;
    out.push_back(target_row(st));
  }
  return out;
}

core::Result<Target> find_target(store::Db& db, int64_t id) {
  WARREN_TRY(st, db.prepare(std::string(kTargetSelect) + "WHERE t.id = ?1"));
  st.bind(1, id);
  WARREN_TRY(row, st.step());
  if (!row) return detail::missing("target", std::to_string(id));
  return target_row(st);
}

core::Result<int64_t> add_target(store::Db& db, const Target& t, std::string_view actor,
                                 int64_t now) {
  WARREN_CHECK(check_target(t));
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(rid, http_resource_id(db, t.resource));
  WARREN_TRY(dup, list_targets(db, t.resource));
  for (const auto& o : dup)
    if (o.site == t.site && o.host == t.host && o.port == t.port)
      return core::err(Errc::data, "target " + std::to_string(o.id) + " of " + t.resource +
                                       " already goes to " + target_address(o));
  WARREN_TRY(st, db.prepare("INSERT INTO targets (resource_id, scheme, site, host, port, "
                            "tls_verify, tls_sni, enabled, created_at, weight) "
                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
  st.bind(1, rid).bind(2, t.scheme);
  if (t.site.empty())
    st.bind_null(3);
  else
    st.bind(3, t.site);
  st.bind(4, t.host).bind(5, int64_t(t.port)).bind(6, t.tls_verify ? 1 : 0).bind(7, t.sni);
  st.bind(8, t.enabled ? 1 : 0).bind(9, now).bind(10, t.weight);
  WARREN_CHECK(st.run());
  int64_t id = db.last_insert_rowid();
  auto d = target_detail(t);
  d["id"] = id;
  WARREN_CHECK(store::audit(db, actor, "target.add", t.resource, detail::json(d)));
  WARREN_CHECK(tx.commit());
  return id;
}

core::Result<void> update_target(store::Db& db, const Target& t, std::string_view actor) {
  WARREN_CHECK(check_target(t));
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_CHECK(find_target(db, t.id));
  WARREN_TRY(st, db.prepare("UPDATE targets SET scheme = ?2, site = ?3, host = ?4, port = ?5, "
                            "tls_verify = ?6, tls_sni = ?7, enabled = ?8, weight = ?9 "
                            "WHERE id = ?1"));
  st.bind(1, t.id).bind(2, t.scheme);
  if (t.site.empty())
    st.bind_null(3);
  else
    st.bind(3, t.site);
  st.bind(4, t.host).bind(5, int64_t(t.port)).bind(6, t.tls_verify ? 1 : 0).bind(7, t.sni);
  st.bind(8, t.enabled ? 1 : 0).bind(9, t.weight);
  WARREN_CHECK(st.run());
  auto d = target_detail(t);
  d["id"] = t.id;
  WARREN_CHECK(store::audit(db, actor, "target.set", t.resource, detail::json(d)));
  return tx.commit();
}

core::Result<void> remove_target(store::Db& db, int64_t id, std::string_view actor) {
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(t, find_target(db, id));
  WARREN_TRY(st, db.prepare("DELETE FROM targets WHERE id = ?1"));
  st.bind(1, id);
  WARREN_CHECK(st.run());
  auto d = target_detail(t);
  d["id"] = id;
  WARREN_CHECK(store::audit(db, actor, "target.rm", t.resource, detail::json(d)));
  return tx.commit();
}

// ---------------------------------------------------------------------------------------------
// auth settings

std::vector<std::string> auth_methods(const Auth& a) {
  std::vector<std::string> m;
  if (a.users) m.push_back("users");
  if (a.password) m.push_back("password");
  if (a.pin) m.push_back("pin");
  if (a.email) m.push_back("email");
  if (a.share_links) m.push_back("share-links");
  if (a.basic) m.push_back("basic");
  if (a.mtls) m.push_back("mtls");
  return m;
}

bool set_auth_method(Auth& a, std::string_view m, bool on) {
  bool* f = m == "users"                                 ? &a.users
            : m == "password"                            ? &a.password
            : m == "pin"                                 ? &a.pin
            : m == "email"                               ? &a.email
            : (m == "share-links" || m == "share_links") ? &a.share_links
            : m == "basic"                               ? &a.basic
            : m == "mtls"                                ? &a.mtls
                                                         : nullptr;
  if (!f) return false;
  *f = on;
  return true;
}

core::Result<std::string> check_email_allow(std::string_view field, std::string_view v) {
  if (!v.empty() && v.front() == '@') {
    WARREN_TRY(e, model::check_email(field, "x" + std::string(v)));
    return e.substr(1);
  }
  return model::check_email(field, v);
}

core::Result<Auth> load_auth(store::Db& db, int64_t rid) {
  Auth a;
  WARREN_TRY(st, db.prepare("SELECT public, m_users, m_password, m_pin, m_email, m_share_links, "
                            "m_basic, m_mtls, pin_digits, coalesce(password_hash, ''), "
                            "coalesce(pin_hash, ''), session_ttl, rate_per_sec, rate_burst "
                            "FROM resource_auth WHERE resource_id = ?1"));
  st.bind(1, rid);
  WARREN_TRY(row, st.step());
  if (row) {
    a.configured = true;
    a.is_public = st.col_int(0) != 0;
    a.users = st.col_int(1) != 0;
    a.password = st.col_int(2) != 0;
    a.pin = st.col_int(3) != 0;
    a.email = st.col_int(4) != 0;
    a.share_links = st.col_int(5) != 0;
    a.basic = st.col_int(6) != 0;
    a.mtls = st.col_int(7) != 0;
    a.pin_digits = static_cast<int>(st.col_int(8));
    a.password_hash = st.col_text(9);
    a.pin_hash = st.col_text(10);
    a.session_ttl = st.col_int(11);
    a.rate_per_sec = st.col_int(12);
    a.rate_burst = st.col_int(13);
  }
  WARREN_TRY(e, db.prepare("SELECT entry FROM resource_email_allow WHERE resource_id = ?1 "
                           "ORDER BY entry"));
  e.bind(1, rid);
  for (;;) {
    WARREN_TRY(r, e.step());
    if (!r) break;
    a.email_allow.push_back(e.col_text(0));
  }
  WARREN_TRY(ro,
             db.prepare("SELECT role FROM resource_roles WHERE resource_id = ?1 ORDER BY role"));
  ro.bind(1, rid);
  for (;;) {
    WARREN_TRY(r, ro.step());
    if (!r) break;
    a.roles.push_back(ro.col_text(0));
  }
  return a;
}

core::Result<void> save_auth(store::Db& db, std::string_view resource, const Auth& a,
                             std::string_view actor, int64_t now) {
  if (a.pin_digits < 4 || a.pin_digits > 12)
    return core::err(Errc::data, "--pin-digits: '" + std::to_string(a.pin_digits) + "': 4 to 12");
  if (a.session_ttl <= 0) return core::err(Errc::data, "--session-ttl: must be positive");
  if (a.rate_per_sec < 0 || a.rate_burst < 0)
    return core::err(Errc::data, "--rate: must not be negative");
  if (!a.is_public) {
    if (auth_methods(a).empty())
      return core::err(Errc::data,
                       "--auth: a protected resource needs at least one method (or --public)");
    if (a.password && a.password_hash.empty())
      return core::err(Errc::data, "--auth: the password method needs --password-file");
    if (a.pin && a.pin_hash.empty())
      return core::err(Errc::data, "--auth: the pin method needs --pin-file");
    if (a.email && a.email_allow.empty())
      return core::err(Errc::data, "--auth: the email method needs --email-allow");
  }
  WARREN_TRY(tx, store::Tx::begin(db));
  WARREN_TRY(r, find_resource(db, resource));
  if (r.kind != "http")
    return core::err(Errc::data, "resource " + r.name + " is a " + r.kind +
                                     " forward (only HTTP resources have auth)");
  if (a.mtls && !a.is_public && r.client_ca.empty())
    return core::err(Errc::data, "--mtls: resource " + r.name +
                                     " has no client CA (peerctl resource set " + r.name +
                                     " --client-ca FILE)");
  for (const auto& role : a.roles) {
    WARREN_TRY(found, detail::exists_row(db, "SELECT 1 FROM roles WHERE name = ?1", role));
    if (!found) return detail::missing("role", role).context("--role");
  }
  WARREN_TRY(
      st, db.prepare("INSERT INTO resource_auth (resource_id, public, m_users, m_password, m_pin, "
                     "m_email, m_share_links, m_basic, m_mtls, pin_digits, password_hash, "
                     "pin_hash, session_ttl, rate_per_sec, rate_burst, updated_at) VALUES (?1, ?2, "
                     "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) "
                     "ON CONFLICT (resource_id) DO UPDATE SET public = ?2, m_users = ?3, "
                     "m_password = ?4, m_pin = ?5, m_email = ?6, m_share_links = ?7, m_basic = "
                     "?8, m_mtls = ?9, pin_digits = ?10, password_hash = ?11, pin_hash = ?12, "
                     "session_ttl = ?13, rate_per_sec = ?14, rate_burst = ?15, updated_at = ?16"));
  auto opt = [](const std::string& s) {
    return s.empty() ? std::optional<std::string>() : std::optional<std::string>(s);
  };
  st.bind(1, r.id).bind(2, a.is_public ? 1 : 0).bind(3, a.users ? 1 : 0);
  st.bind(4, a.password ? 1 : 0).bind(5, a.pin ? 1 : 0).bind(6, a.email ? 1 : 0);
  st.bind(7, a.share_links ? 1 : 0).bind(8, a.basic ? 1 : 0).bind(9, a.mtls ? 1 : 0);
  st.bind(10, a.pin_digits).bind(11, opt(a.password_hash)).bind(12, opt(a.pin_hash));
  st.bind(13, a.session_ttl).bind(14, a.rate_per_sec).bind(15, a.rate_burst).bind(16, now);
  WARREN_CHECK(st.run());
  for (const char* sql : {"DELETE FROM resource_email_allow WHERE resource_id = ?1",
                          "DELETE FROM resource_roles WHERE resource_id = ?1"}) {
    WARREN_TRY(d, db.prepare(sql));
    d.bind(1, r.id);
    WARREN_CHECK(d.run());
  }
  WARREN_TRY(ie, db.prepare("INSERT INTO resource_email_allow (resource_id, entry) VALUES (?1, ?2) "
                            "ON CONFLICT DO NOTHING"));
  for (const auto& e : a.email_allow) {
    WARREN_TRY(entry, check_email_allow("--email-allow", e));
    ie.reset();
    ie.bind(1, r.id).bind(2, entry);
    WARREN_CHECK(ie.run());
  }
  WARREN_TRY(ir, db.prepare("INSERT INTO resource_roles (resource_id, role) VALUES (?1, ?2) "
                            "ON CONFLICT DO NOTHING"));
  for (const auto& role : a.roles) {
    ir.reset();
    ir.bind(1, r.id).bind(2, role);
    WARREN_CHECK(ir.run());
  }
  bj::array methods;
  for (const auto& m : auth_methods(a)) methods.push_back(bj::value(m));
  bj::object d{{"public", a.is_public},
               {"methods", std::move(methods)},
               {"password_set", !a.password_hash.empty()},
               {"pin_set", !a.pin_hash.empty()},
               {"session_ttl", a.session_ttl}};
  WARREN_CHECK(store::audit(db, actor, "resource.auth", r.name, detail::json(d)));
  return tx.commit();
}

}  // namespace control
