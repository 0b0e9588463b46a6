// peerctl site add|list|show|remove|rotate-key: the sites the edge's tunneld accepts.
#include <boost/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "core/fs.h"
#include "core/text.h"
#include "enroll/enroll.h"
#include "net/endpoint.h"
#include "peerctl.h"
#include "tunnel/config.h"
#include "tunnel/render.h"
#include "tunnel/sites.h"

namespace peerctl {

namespace {

// What add and rotate-key print: the site's tunneld.toml (or a one-line command writing it).
struct ConfigOpts {
  std::string edge;
  unsigned lanes = 2;
  std::vector<std::string> allow;
  std::string key_out;
  bool command = false;
};

void add_config_options(CLI::App* s, ConfigOpts& o) {
  s->add_option("--edge", o.edge,
                "Address the site dials, HOST:PORT (default: the edge's public_endpoint)")
      ->type_name("HOST:PORT");
  s->add_option("--lanes", o.lanes, "TCP connections the site keeps to the edge (default 2)")
      ->type_name("N")
      ->check(CLI::Range(1, 64));
  s->add_option("--allow", o.allow,
                "Targets the site lets the edge reach: host, CIDR, with :ports (repeatable)")
      ->type_name("RULE");
  s->add_option("--key-out", o.key_out,
                "Write the private key to FILE (0600, new) instead of into the config")
      ->type_name("FILE");
  s->add_flag("--command", o.command,
              "Print a one-line shell command that writes tunneld.toml on the site");
}

std::string absolute(const std::string& p) {
  if (!p.empty() && p.front() == '/') return p;
  char buf[4096];
  if (!::getcwd(buf, sizeof buf)) return p;
  return std::string(buf) + "/" + p;
}

// Checks the options before anything is written.
core::Result<void> check_options(const ConfigOpts& o) {
  if (!o.edge.empty()) {
    auto hp = net::parse_host_port(o.edge);
    if (!hp) return core::err(core::Errc::data, "--edge: " + hp.error().message);
    if (hp->port == 0) return core::err(core::Errc::data, "--edge: port 0 is not allowed");
  }
  for (const auto& a : o.allow)
    if (auto r = tunnel::AllowList::parse_rule(a); !r) return r.error().context("--allow");
  if (o.key_out == "-")
    return core::err(core::Errc::usage, "--key-out: stdout carries the config; name a file");
  if (!o.key_out.empty() && core::file_exists(o.key_out))
    return core::err(core::Errc::failure, "--key-out: " + o.key_out + " already exists");
  return {};
}

struct EdgeInfo {
  std::string endpoint;
  crypto::Key public_key{};
  std::string https_port;  // ":PORT" edged published, "" for 443 or unknown
};

// The edge's public key and address: published in the store by the edge's tunneld. Before the
// edge first starts, the key file is created here (the edge reads the same file).
core::Result<EdgeInfo> edge_info(const Ctx& c, store::Db& db, const ConfigOpts& o) {
  EdgeInfo e;
  WARREN_TRY(key, tunnel::get_meta(db, tunnel::kMetaEdgeKey));
  if (key) {
    WARREN_TRY(k, crypto::key_from_base64(*key));
    e.public_key = k;
  } else {
    std::string path = c.prog.warren_dir() + "/" + tunnel::EdgeConfig{}.private_key_file;
    WARREN_TRY(kp, tunnel::load_key_file(path, true));
    crypto::wipe(kp.priv.data(), kp.priv.size());
    e.public_key = kp.pub;
    WARREN_CHECK(tunnel::set_meta(db, tunnel::kMetaEdgeKey, crypto::key_to_base64(kp.pub)));
  }
  if (!o.edge.empty()) {
    e.endpoint = o.edge;
  } else {
    WARREN_TRY(ep, tunnel::get_meta(db, tunnel::kMetaEdgeEndpoint));
    if (!ep)
      return core::err(core::Errc::usage,
                       "no edge address: give --edge HOST:PORT, or set public_endpoint in the "
                       "edge's tunneld.toml and start it once");
    e.endpoint = *ep;
  }
  e.https_port = edged_port_suffix(db, true);
  return e;
}

struct EnrollToken {
  std::string token;
  int64_t expires_at = 0;
};

// Prints the site's configuration (and writes --key-out) for a fresh key pair; with a token, the
// lines (comments) that tell how to enroll instead.
core::Result<void> emit_config(const Ctx& c, const std::string& name, const crypto::KeyPair& kp,
                               const EdgeInfo& edge, const ConfigOpts& o,
                               const EnrollToken* et = nullptr) {
  tunnel::SiteFile f;
  f.name = name;
  f.edge = edge.endpoint;
  f.edge_public_key = crypto::key_to_base64(edge.public_key);
  f.lanes = o.lanes;
  f.allow = o.allow;
  std::string priv = crypto::key_to_base64(kp.priv);
  if (!o.key_out.empty()) {
    if (auto w = core::write_file_excl(o.key_out, priv + "\n", 0600); !w)
      return std::move(w.error()).context("--key-out");
    f.private_key_file = absolute(o.key_out);
  } else {
    f.private_key = priv;
  }
  f.comment = tunnel::site_config_title(name, "written by peerctl", now());
  if (o.key_out.empty())
    f.comment += "# It holds the site's private key: keep it private (0600).\n";
  if (et) f.comment += enroll_hint(edge.endpoint, edge.https_port, et->token, et->expires_at);
  std::string toml = tunnel::render_site_config(f);
  crypto::wipe(f.private_key.data(), f.private_key.size());
  crypto::wipe(priv.data(), priv.size());

  std::string out;
  if (o.command) {
    out = "umask 077 && echo " + core::base64(core::as_bytes(toml)) +
          " | base64 -d > tunneld.toml && tunneld --config tunneld.toml\n";
  } else {
    out = toml;
  }
  if (c.prog.common().json) {
    boost::json::object j{{"name", name},
                          {"public_key", crypto::key_to_base64(kp.pub)},
                          {"edge", edge.endpoint},
                          {"edge_public_key", crypto::key_to_base64(edge.public_key)}};
    j[o.command ? "command" : "config"] = out;
    if (et) {
      j["enroll_token"] = et->token;
      j["enroll_expires_at"] = core::rfc3339(std::time_t(et->expires_at));
    }
    out = json_line(j);
  }
  auto w = core::write_stdout(out);
  crypto::wipe(toml.data(), toml.size());
  crypto::wipe(out.data(), out.size());
  return w;
}

boost::json::object site_json(const tunnel::SiteRecord& s) {
  boost::json::object o{{"name", s.name},
                        {"public_key", crypto::key_to_base64(s.public_key)},
                        {"enabled", s.enabled},
                        {"created_at", core::rfc3339(std::time_t(s.created_at))}};
  if (s.key_rotated_at)
    o["key_rotated_at"] = core::rfc3339(std::time_t(*s.key_rotated_at));
  else
    o["key_rotated_at"] = nullptr;
  return o;
}

// The live entry of a site in the edge's status reply, if the edge is running.
const boost::json::object* live_site(const std::optional<boost::json::object>& st,
                                     const std::string& name) {
  if (!st) return nullptr;
  auto* sites = st->if_contains("sites");
  if (!sites || !sites->is_array()) return nullptr;
  for (const auto& v : sites->as_array())
    if (v.is_object()) {
      auto* n = v.as_object().if_contains("name");
      if (n && n->is_string() && n->as_string() == name) return &v.as_object();
    }
  return nullptr;
}

std::string field(const boost::json::object* o, const char* key) {
  if (!o) return "-";
  auto* v = o->if_contains(key);
  if (!v || v->is_null()) return "-";
  if (v->is_string()) return v->as_string().empty() ? "-" : std::string(v->as_string());
  if (v->is_bool()) return v->as_bool() ? "yes" : "no";
  if (v->is_double()) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", v->as_double());
    return b;
  }
  return boost::json::serialize(*v);
}

void register_add(Ctx& c, CLI::App& noun) {
  struct Opts {
    std::string name;
    ConfigOpts cfg;
    bool disabled = false;
    std::string token_ttl = "24h";
  };
  auto o = std::make_shared<Opts>();
  auto* s =
      c.prog.verb(noun, "add", "Add a site: generate its key pair and print its config",
                  "peerctl site add NAME [--edge HOST:PORT] [--lanes N] [--allow RULE]... "
                  "[--key-out FILE] [--command] [--disabled] [--token-ttl DURATION] [--json]");
  s->add_option("name", o->name, "Site name: 1-64 of [A-Za-z0-9._-]")->required();
  add_config_options(s, o->cfg);
  s->add_flag("--disabled", o->disabled, "Add it disabled (the edge refuses it until enabled)");
  s->add_option("--token-ttl", o->token_ttl,
                "How long the one-time enrollment token stays valid (default 24h)")
      ->type_name("DURATION");
  c.prog.on(s, [&c, o]() -> int {
    if (auto r = tunnel::check_site_name(o->name); !r) return cli::fail(r.error());
    if (auto r = check_options(o->cfg); !r) return cli::fail(r.error());
    auto ttl = core::parse_duration(o->token_ttl);
    if (!ttl || *ttl <= 0)
      return cli::fail({core::Errc::data, "--token-ttl: bad duration \"" + o->token_ttl + "\""});
    auto db = open_store(c, true);
    if (!db) return cli::fail(db.error());
    if (auto have = tunnel::find_site(*db, o->name); have)
      return cli::fail({core::Errc::data, "site " + o->name + " already exists"});
    auto edge = edge_info(c, *db, o->cfg);
    if (!edge) return cli::fail(edge.error());
    crypto::KeyPair kp = crypto::generate_keypair();
    tunnel::SiteRecord rec;
    rec.name = o->name;
    rec.public_key = kp.pub;
    rec.enabled = !o->disabled;
    rec.created_at = now();
    // The site, its enrollment token and the edge address it was given: one transaction.
    auto tx = store::Tx::begin(*db);
    if (!tx) return cli::fail(tx.error());
    if (auto r = tunnel::add_site(*db, rec, actor()); !r) return cli::fail(r.error());
    auto token = enroll::issue_token(*db, o->name, rec.created_at, *ttl);
    if (!token) return cli::fail(token.error());
    if (auto r = enroll::set_site_edge(*db, o->name, o->cfg.edge); !r) return cli::fail(r.error());
    if (auto r = tx->commit(); !r) return cli::fail(r.error());
    EnrollToken et{*token, rec.created_at + *ttl};
    auto r = emit_config(c, o->name, kp, *edge, o->cfg, &et);
    crypto::wipe(kp.priv.data(), kp.priv.size());
    return r ? 0 : cli::fail(r.error());
  });
}

void register_rotate(Ctx& c, CLI::App& noun) {
  struct Opts {
    std::string name;
    ConfigOpts cfg;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(noun, "rotate-key",
                        "Give a site a new key pair (its old key stops working) and print its "
                        "config",
                        "peerctl site rotate-key NAME [--edge HOST:PORT] [--lanes N] "
                        "[--allow RULE]... [--key-out FILE] [--command] [--json]");
  s->add_option("name", o->name, "Site name")->required();
  add_config_options(s, o->cfg);
  c.prog.on(s, [&c, o]() -> int {
    if (auto r = check_options(o->cfg); !r) return cli::fail(r.error());
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    if (auto have = tunnel::find_site(*db, o->name); !have) return cli::fail(have.error());
    auto edge = edge_info(c, *db, o->cfg);
    if (!edge) return cli::fail(edge.error());
    crypto::KeyPair kp = crypto::generate_keypair();
    if (auto r = tunnel::set_site_key(*db, o->name, kp.pub, now(), actor()); !r)
      return cli::fail(r.error());
    auto r = emit_config(c, o->name, kp, *edge, o->cfg);
    crypto::wipe(kp.priv.data(), kp.priv.size());
    return r ? 0 : cli::fail(r.error());
  });
}

void register_list(Ctx& c, CLI::App& noun) {
  auto* s = c.prog.verb(noun, "list", "List sites (with their live state when the edge runs)",
                        "peerctl site list [--json]");
  c.prog.on(s, [&c]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto sites = tunnel::list_sites(*db);
    if (!sites) return cli::fail(sites.error());
    auto st = daemon_status(c, "tunneld");
    std::string out;
    if (c.prog.common().json) {
      for (const auto& site : *sites) {
        auto j = site_json(site);
        auto* live = live_site(st, site.name);
        if (live)
          j["online"] = live->at("online");
        else
          j["online"] = nullptr;
        out += json_line(j);
      }
    } else {
      char buf[512];
      std::snprintf(buf, sizeof buf, "%-24s  %-7s  %-7s  %-20s  %s\n", "NAME", "ENABLED", "ONLINE",
                    "CREATED", "PUBLIC KEY");
      out += buf;
      for (const auto& site : *sites) {
        std::string online = st ? field(live_site(st, site.name), "online") : "-";
        std::snprintf(buf, sizeof buf, "%-24s  %-7s  %-7s  %-20s  %s\n", site.name.c_str(),
                      site.enabled ? "yes" : "no", online.c_str(),
                      core::rfc3339(std::time_t(site.created_at)).c_str(),
                      crypto::key_to_base64(site.public_key).c_str());
        out += buf;
      }
    }
    auto w = core::write_stdout(out);
    return w ? 0 : cli::fail(w.error());
  });
}

void register_show(Ctx& c, CLI::App& noun) {
  auto name = std::make_shared<std::string>();
  auto* s = c.prog.verb(noun, "show", "Show a site, its forwards and its live state",
                        "peerctl site show NAME [--json]");
  s->add_option("name", *name, "Site name")->required();
  c.prog.on(s, [&c, name]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto site = tunnel::find_site(*db, *name);
    if (!site) return cli::fail(site.error());
    auto fwds = tunnel::list_forwards(*db);
    if (!fwds) return cli::fail(fwds.error());
    auto st = daemon_status(c, "tunneld");
    const boost::json::object* live = live_site(st, *name);
    std::string out;
    if (c.prog.common().json) {
      auto j = site_json(*site);
      boost::json::array fa;
      for (const auto& f : *fwds)
        if (f.site == *name)
          fa.push_back(boost::json::object{{"protocol", f.protocol},
                                           {"port", f.listen_port},
                                           {"target", f.target},
                                           {"enabled", f.enabled}});
      j["forwards"] = std::move(fa);
      if (live)
        j["live"] = *live;
      else
        j["live"] = nullptr;
      out = json_line(j);
    } else {
      auto line = [&](const char* k, const std::string& v) {
        out +=
            std::string(k) + std::string(16 - std::min<size_t>(15, std::strlen(k)), ' ') + v + "\n";
      };
      line("name:", site->name);
      line("public key:", crypto::key_to_base64(site->public_key));
      line("enabled:", site->enabled ? "yes" : "no");
      line("created:", core::rfc3339(std::time_t(site->created_at)));
      line("key rotated:", site->key_rotated_at ? core::rfc3339(std::time_t(*site->key_rotated_at))
                                                : std::string("never"));
      if (!st) {
        line("online:", "unknown (tunneld is not running here)");
      } else {
        line("online:", field(live, "online"));
        line("lanes:", field(live, "lanes") + "/" + field(live, "lanes_expected"));
        line("last handshake:", field(live, "last_handshake"));
        line("rtt ms:", field(live, "rtt_ms"));
        line("bytes in/out:", field(live, "bytes_in") + " / " + field(live, "bytes_out"));
        line("streams:", field(live, "streams"));
        line("reconnects:", field(live, "reconnects"));
      }
      for (const auto& f : *fwds)
        if (f.site == *name)
          line("forward:", f.protocol + " " + std::to_string(f.listen_port) + " -> " + f.target +
                               (f.enabled ? "" : " (disabled)"));
    }
    auto w = core::write_stdout(out);
    return w ? 0 : cli::fail(w.error());
  });
}

void register_remove(Ctx& c, CLI::App& noun) {
  auto name = std::make_shared<std::string>();
  auto* s =
      c.prog.verb(noun, "remove", "Remove a site and its forwards (the edge drops its connections)",
                  "peerctl site remove NAME");
  s->alias("rm");
  s->add_option("name", *name, "Site name")->required();
  c.prog.on(s, [&c, name]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto r = tunnel::remove_site(*db, *name, actor());
    return r ? 0 : cli::fail(r.error());
  });
}

}  // namespace

void register_site(Ctx& c, CLI::App& noun) {
  register_add(c, noun);
  register_list(c, noun);
  register_show(c, noun);
  register_remove(c, noun);
  register_rotate(c, noun);
  register_site_enroll(c, noun);
}

}  // namespace peerctl
