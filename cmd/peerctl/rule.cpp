// peerctl rule add|list|rm: rules edged evaluates before authentication, lowest priority first:
// ACCEPT (skip auth), DROP (deny), PASS (go on to auth), matching client IP/CIDR, path glob,
// method and country.
#include <boost/json.hpp>

#include "control/access.h"
#include "control/input.h"
#include "control/json.h"
#include "control/table.h"
#include "core/text.h"
#include "peerctl.h"

namespace peerctl {

namespace {

std::string list_or_any(const std::vector<std::string>& v) {
  return v.empty() ? "*" : control::join(v);
}

void register_add(Ctx& c, CLI::App& noun) {
  auto r = std::make_shared<control::RuleRow>();
  auto* s = c.prog.verb(noun, "add", "Add a rule to an HTTP resource",
                        "peerctl rule add RESOURCE --action ACCEPT|DROP|PASS [--priority N] "
                        "[--ip IP/CIDR]... [--path GLOB] [--method M]... [--country CC]... "
                        "[--disabled] [--json]");
  s->add_option("resource", r->resource, "Resource name")->required();
  s->add_option("--action", r->action, "ACCEPT (skip auth), DROP (deny) or PASS (go on to auth)")
      ->type_name("ACTION")
      ->required();
  s->add_option("--priority", r->priority, "Lower runs first (default 100)")->type_name("N");
  s->add_option("--ip", r->ips, "Client address or CIDR, v4 or v6 (repeatable: any of)")
      ->type_name("IP/CIDR");
  s->add_option("--path", r->path_glob, "Path glob: '*' within a segment, '**' across")
      ->type_name("GLOB");
  s->add_option("--method", r->methods, "HTTP method (repeatable: any of)")->type_name("M");
  s->add_option("--country", r->countries,
                "ISO 3166 country code, needs edged's MaxMind database (repeatable)")
      ->type_name("CC");
  auto disabled = std::make_shared<bool>(false);
  s->add_flag("--disabled", *disabled, "Add it switched off");
  c.prog.on(s, [&c, r, disabled]() -> int {
    r->enabled = !*disabled;
    auto checked = control::check_rule(*r);
    if (!checked) return cli::fail(checked.error());
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto id = control::add_rule(*db, *checked, actor(), now());
    if (!id) return cli::fail(id.error());
    checked->id = *id;
    return c.prog.common().json ? emit(json_line(control::to_json(*checked))) : 0;
  });
}

void register_list(Ctx& c, CLI::App& noun) {
  auto res = std::make_shared<std::string>();
  auto* s = c.prog.verb(noun, "list", "List rules in evaluation order (of one resource, or all)",
                        "peerctl rule list [RESOURCE] [--json]");
  s->add_option("resource", *res, "Resource name");
  c.prog.on(s, [&c, res]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto rs = control::list_rules(*db, *res);
    if (!rs) return cli::fail(rs.error());
    std::string out;
    control::Table t(
        {"ID", "RESOURCE", "PRIORITY", "ACTION", "IPS", "PATH", "METHODS", "COUNTRIES", "ENABLED"});
    for (const auto& r : *rs) {
      if (c.prog.common().json)
        out += json_line(control::to_json(r));
      else
        t.add({std::to_string(r.id), r.resource, std::to_string(r.priority), r.action,
               list_or_any(r.ips), r.path_glob.empty() ? "*" : r.path_glob, list_or_any(r.methods),
               list_or_any(r.countries), r.enabled ? "yes" : "no"});
    }
    return emit(c.prog.common().json ? out : t.str());
  });
}

void register_rm(Ctx& c, CLI::App& noun) {
  auto id = std::make_shared<std::string>();
  auto* s = c.prog.verb(noun, "rm", "Remove a rule", "peerctl rule rm ID");
  s->alias("remove");
  s->add_option("id", *id, "Rule id (from rule list)")->required();
  c.prog.on(s, [&c, id]() -> int {
    auto n = core::parse_uint(*id);
    if (!n || *n == 0 || *n > (uint64_t(1) << 62))
      return cli::fail({core::Errc::data, "ID: '" + *id + "': not a rule id"});
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    return done(control::remove_rule(*db, int64_t(*n), actor()));
  });
}

}  // namespace

void register_rule(Ctx& c, CLI::App& noun) {
  register_add(c, noun);
  register_list(c, noun);
  register_rm(c, noun);
}

}  // namespace peerctl
