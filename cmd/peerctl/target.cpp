// peerctl target add|list|show|set|rm: where an HTTP resource's requests go, directly
// (HOST:PORT) or through a site's tunnel (SITE:HOST:PORT), with scheme, weight and health check.
#include <boost/json.hpp>

#include "control/input.h"
#include "control/json.h"
#include "control/resources.h"
#include "control/table.h"
#include "core/text.h"
#include "model/check.h"
#include "peerctl.h"

namespace peerctl {

namespace {

namespace bj = boost::json;

struct TargetOpts {
  std::string scheme;
  int weight = -1;
  std::string sni;
  bool no_verify = false, verify = false;
  std::string health_path, health_interval;
  bool disabled = false, enabled = false;
};

void add_target_options(CLI::App* s, TargetOpts& o, bool set) {
  s->add_option("--scheme", o.scheme, "http or https to the target (default http)")
      ->type_name("SCHEME");
  s->add_option("--weight", o.weight, "Share of requests, 0-1000 (default 1; 0 drains it)")
      ->type_name("N");
  s->add_option("--sni", o.sni, "TLS server name sent to an https target")->type_name("HOST");
  s->add_flag("--no-verify", o.no_verify, "Do not verify an https target's certificate");
  s->add_option("--health-path", o.health_path,
                "Health check by HTTP GET of PATH (the resource's targets share one check)")
      ->type_name("PATH");
  s->add_option("--health-interval", o.health_interval,
                "Health check every DUR (0 turns checks off)")
      ->type_name("DUR");
  s->add_flag("--disabled", o.disabled, "Take the target out of rotation");
  if (set) {
    s->add_flag("--verify", o.verify, "Verify an https target's certificate again");
    s->add_flag("--enabled", o.enabled, "Put the target back into rotation");
  }
}

core::Result<void> apply_target(const TargetOpts& o, control::Target& t) {
  if (!o.scheme.empty()) t.scheme = o.scheme;
  if (o.weight >= 0) t.weight = o.weight;
  if (!o.sni.empty()) t.sni = o.sni;
  if (o.no_verify && o.verify)
    return core::err(core::Errc::usage, "--verify and --no-verify exclude each other");
  if (o.no_verify) t.tls_verify = false;
  if (o.verify) t.tls_verify = true;
  if (o.disabled && o.enabled)
    return core::err(core::Errc::usage, "--enabled and --disabled exclude each other");
  if (o.disabled) t.enabled = false;
  if (o.enabled) t.enabled = true;
  return {};
}

// The health check lives on the resource (edged checks every target of it the same way).
core::Result<void> apply_health(store::Db& db, const TargetOpts& o, const std::string& resource) {
  if (o.health_path.empty() && o.health_interval.empty()) return {};
  WARREN_TRY(r, control::find_resource(db, resource));
  if (!o.health_path.empty()) {
    WARREN_TRY(p, model::check_path_prefix("--health-path", o.health_path));
    r.health_path = p;
    if (r.health_interval_ms == 0 && o.health_interval.empty()) r.health_interval_ms = 10000;
  }
  if (o.health_interval == "0") {
    r.health_interval_ms = 0;
  } else if (!o.health_interval.empty()) {
    WARREN_TRY(d, model::check_duration("--health-interval", o.health_interval));
    r.health_interval_ms = d * 1000;
  }
  return control::update_resource(db, resource, r, actor(), now());
}

core::Result<int64_t> parse_id(std::string_view field, const std::string& v) {
  auto n = core::parse_uint(v);
  if (!n || *n == 0 || *n > (uint64_t(1) << 62))
    return core::err(core::Errc::data, std::string(field) + ": '" + v + "': not a target id");
  return int64_t(*n);
}

void register_add(Ctx& c, CLI::App& noun) {
  struct Opts {
    std::string resource, spec;
    TargetOpts t;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(noun, "add", "Add a target to an HTTP resource",
                        "peerctl target add RESOURCE TARGET [--scheme SCHEME] [--weight N] "
                        "[--sni HOST] [--no-verify] [--health-path PATH] "
                        "[--health-interval DUR] [--disabled] [--json]");
  s->add_option("resource", o->resource, "Resource name")->required();
  s->add_option("target", o->spec, "HOST:PORT, [V6]:PORT or SITE:HOST:PORT")->required();
  add_target_options(s, o->t, false);
  c.prog.on(s, [&c, o]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    control::Target t;
    t.resource = o->resource;
    if (auto p = control::parse_target(*db, "TARGET", o->spec, t); !p) return cli::fail(p.error());
    if (auto a = apply_target(o->t, t); !a) return cli::fail(a.error());
    auto tx = store::Tx::begin(*db);
    if (!tx) return cli::fail(tx.error());
    auto id = control::add_target(*db, t, actor(), now());
    if (!id) return cli::fail(id.error());
    if (auto h = apply_health(*db, o->t, o->resource); !h) return cli::fail(h.error());
    if (auto r = tx->commit(); !r) return cli::fail(r.error());
    t.id = *id;
    if (c.prog.common().json) return emit(json_line(control::to_json(t)));
    return 0;
  });
}

void register_list(Ctx& c, CLI::App& noun) {
  auto res = std::make_shared<std::string>();
  auto* s = c.prog.verb(noun, "list", "List a resource's targets (ids for set and rm)",
                        "peerctl target list RESOURCE [--json]");
  s->add_option("resource", *res, "Resource name")->required();
  c.prog.on(s, [&c, res]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto ts = control::list_targets(*db, *res);
    if (!ts) return cli::fail(ts.error());
    std::string out;
    control::Table tab({"ID", "TARGET", "SCHEME", "WEIGHT", "ENABLED"});
    for (const auto& t : *ts) {
      if (c.prog.common().json)
        out += json_line(control::to_json(t));
      else
        tab.add({std::to_string(t.id), control::target_address(t), t.scheme,
                 std::to_string(t.weight), t.enabled ? "yes" : "no"});
    }
    return emit(c.prog.common().json ? out : tab.str());
  });
}

void register_show(Ctx& c, CLI::App& noun) {
  auto id = std::make_shared<std::string>();
  auto* s = c.prog.verb(noun, "show", "Show one target", "peerctl target show ID [--json]");
  s->add_option("id", *id, "Target id (from target list)")->required();
  c.prog.on(s, [&c, id]() -> int {
    auto n = parse_id("ID", *id);
    if (!n) return cli::fail(n.error());
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto t = control::find_target(*db, *n);
    if (!t) return cli::fail(t.error());
    if (c.prog.common().json) return emit(json_line(control::to_json(*t)));
    using control::kv_line;
    return emit(kv_line("id", std::to_string(t->id)) + kv_line("resource", t->resource) +
                kv_line("target", control::target_address(*t)) + kv_line("scheme", t->scheme) +
                kv_line("weight", std::to_string(t->weight)) +
                kv_line("tls verify", t->tls_verify ? "yes" : "no") +
                kv_line("sni", t->sni.empty() ? "-" : t->sni) +
                kv_line("enabled", t->enabled ? "yes" : "no"));
  });
}

void register_set(Ctx& c, CLI::App& noun) {
  struct Opts {
    std::string id, to;
    TargetOpts t;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(noun, "set", "Change a target",
                        "peerctl target set ID [--to TARGET] [--scheme SCHEME] [--weight N] "
                        "[--sni HOST] [--no-verify | --verify] [--health-path PATH] "
                        "[--health-interval DUR] [--disabled | --enabled]");
  s->add_option("id", o->id, "Target id (from target list)")->required();
  s->add_option("--to", o->to, "New address: HOST:PORT or SITE:HOST:PORT")->type_name("TARGET");
  add_target_options(s, o->t, true);
  c.prog.on(s, [&c, o]() -> int {
    auto n = parse_id("ID", o->id);
    if (!n) return cli::fail(n.error());
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto t = control::find_target(*db, *n);
    if (!t) return cli::fail(t.error());
    if (!o->to.empty())
      if (auto p = control::parse_target(*db, "--to", o->to, *t); !p) return cli::fail(p.error());
    if (auto a = apply_target(o->t, *t); !a) return cli::fail(a.error());
    auto tx = store::Tx::begin(*db);
    if (!tx) return cli::fail(tx.error());
    if (auto u = control::update_target(*db, *t, actor()); !u) return cli::fail(u.error());
    if (auto h = apply_health(*db, o->t, t->resource); !h) return cli::fail(h.error());
    return done(tx->commit());
  });
}

void register_rm(Ctx& c, CLI::App& noun) {
  auto id = std::make_shared<std::string>();
  auto* s = c.prog.verb(noun, "rm", "Remove a target", "peerctl target rm ID");
  s->alias("remove");
  s->add_option("id", *id, "Target id (from target list)")->required();
  c.prog.on(s, [&c, id]() -> int {
    auto n = parse_id("ID", *id);
    if (!n) return cli::fail(n.error());
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    return done(control::remove_target(*db, *n, actor()));
  });
}

}  // namespace

void register_target(Ctx& c, CLI::App& noun) {
  register_add(c, noun);
  register_list(c, noun);
  register_show(c, noun);
  register_set(c, noun);
  register_rm(c, noun);
}

}  // namespace peerctl
