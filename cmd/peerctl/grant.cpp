// peerctl grant add|list|rm: let a user or a role through a resource's users method
// (resource_users, resource_roles).
#include "control/access.h"
#include "control/input.h"
#include "control/json.h"
#include "control/table.h"
#include "peerctl.h"

namespace peerctl {

namespace {

struct Opts {
  std::string resource, user, role;
};

void add_subject_options(CLI::App* s, Opts& o) {
  s->add_option("resource", o.resource, "Resource name")->required();
  auto* u = s->add_option("--user", o.user, "A user (email)")->type_name("EMAIL");
  auto* r = s->add_option("--role", o.role, "A role")->type_name("ROLE");
  u->excludes(r);
}

core::Result<control::Grant> grant_of(const Opts& o) {
  if (o.user.empty() == o.role.empty())
    return core::err(core::Errc::usage, "give --user EMAIL or --role ROLE");
  return control::Grant{o.resource, o.user.empty() ? "role" : "user",
                        o.user.empty() ? o.role : o.user};
}

void register_write(Ctx& c, CLI::App& noun, bool add) {
  auto o = std::make_shared<Opts>();
  auto* s =
      c.prog.verb(noun, add ? "add" : "rm",
                  add ? "Let a user or role through a resource's users method" : "Remove a grant",
                  std::string("peerctl grant ") + (add ? "add" : "rm") +
                      " RESOURCE (--user EMAIL | --role ROLE)");
  if (!add) s->alias("remove");
  add_subject_options(s, *o);
  c.prog.on(s, [&c, o, add]() -> int {
    auto g = grant_of(*o);
    if (!g) return cli::fail(g.error());
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    return done(add ? control::add_grant(*db, *g, actor())
                    : control::remove_grant(*db, *g, actor()));
  });
}

void register_list(Ctx& c, CLI::App& noun) {
  auto res = std::make_shared<std::string>();
  auto* s = c.prog.verb(noun, "list", "List grants (of one resource, or all)",
                        "peerctl grant list [RESOURCE] [--json]");
  s->add_option("resource", *res, "Resource name");
  c.prog.on(s, [&c, res]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto gs = control::list_grants(*db, *res);
    if (!gs) return cli::fail(gs.error());
    std::string out;
    control::Table t({"RESOURCE", "KIND", "WHO"});
    for (const auto& g : *gs) {
      if (c.prog.common().json)
        out += json_line(control::to_json(g));
      else
        t.add({g.resource, g.kind, g.subject});
    }
    return emit(c.prog.common().json ? out : t.str());
  });
}

}  // namespace

void register_grant(Ctx& c, CLI::App& noun) {
  register_write(c, noun, true);
  register_list(c, noun);
  register_write(c, noun, false);
}

}  // namespace peerctl
