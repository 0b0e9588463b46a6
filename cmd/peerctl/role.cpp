// peerctl role add|list|rm: named groups of users that resources let in (resource auth --role,
// grant add --role) and that edged passes upstream as Remote-Role.
#include "control/access.h"
#include "control/input.h"
#include "control/json.h"
#include "control/table.h"
#include "peerctl.h"

namespace peerctl {

namespace {

void register_add(Ctx& c, CLI::App& noun) {
  auto r = std::make_shared<control::Role>();
  auto* s = c.prog.verb(noun, "add", "Add a role", "peerctl role add NAME [--description TEXT]");
  s->add_option("name", r->name, "Role name: 1-64 of [a-z0-9._-]")->required();
  s->add_option("--description", r->description, "What the role is for")->type_name("TEXT");
  c.prog.on(s, [&c, r]() -> int {
    auto db = open_store(c, true);
    if (!db) return cli::fail(db.error());
    return done(control::add_role(*db, *r, actor(), now()));
  });
}

void register_list(Ctx& c, CLI::App& noun) {
  auto* s = c.prog.verb(noun, "list", "List roles with their member counts",
                        "peerctl role list [--json]");
  c.prog.on(s, [&c]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto rs = control::list_roles(*db);
    if (!rs) return cli::fail(rs.error());
    std::string out;
    control::Table t({"NAME", "USERS", "DESCRIPTION"});
    for (const auto& r : *rs) {
      if (c.prog.common().json)
        out += json_line(control::to_json(r));
      else
        t.add({r.name, std::to_string(r.users), r.description.empty() ? "-" : r.description});
    }
    return emit(c.prog.common().json ? out : t.str());
  });
}

void register_rm(Ctx& c, CLI::App& noun) {
  auto name = std::make_shared<std::string>();
  auto* s = c.prog.verb(noun, "rm", "Remove a role (from its users and resources too)",
                        "peerctl role rm NAME");
  s->alias("remove");
  s->add_option("name", *name, "Role name")->required();
  c.prog.on(s, [&c, name]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    return done(control::remove_role(*db, *name, actor()));
  });
}

}  // namespace

void register_role(Ctx& c, CLI::App& noun) {
  register_add(c, noun);
  register_list(c, noun);
  register_rm(c, noun);
}

}  // namespace peerctl
