// peerctl session list|revoke: who is logged in to which resource, and ending that (one
// session, a resource's, a user's, or every session).
#include <boost/json.hpp>

#include "control/access.h"
#include "control/input.h"
#include "control/json.h"
#include "control/table.h"
#include "peerctl.h"

namespace peerctl {

namespace {

void register_list(Ctx& c, CLI::App& noun) {
  struct Opts {
    std::string resource, user;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(noun, "list", "List live sessions",
                        "peerctl session list [--resource RESOURCE] [--user EMAIL] [--json]");
  s->add_option("--resource", o->resource, "Only this resource's")->type_name("RESOURCE");
  s->add_option("--user", o->user, "Only this user's")->type_name("EMAIL");
  c.prog.on(s, [&c, o]() -> int {
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto ss = control::list_sessions(*db, o->resource, o->user, now());
    if (!ss) return cli::fail(ss.error());
    std::string out;
    control::Table t({"ID", "RESOURCE", "USER", "METHOD", "LAST SEEN", "EXPIRES"});
    for (const auto& x : *ss) {
      if (c.prog.common().json)
        out += json_line(control::to_json(x));
      else
        t.add({x.id, x.resource,
               !x.user.empty()     ? x.user
               : x.subject.empty() ? "-"
                                   : x.subject,
               x.method, control::time_or(x.last_seen), control::time_or(x.expires_at)});
    }
    return emit(c.prog.common().json ? out : t.str());
  });
}

void register_revoke(Ctx& c, CLI::App& noun) {
  struct Opts {
    std::string id, resource, user;
    bool all = false;
  };
  auto o = std::make_shared<Opts>();
  auto* s = c.prog.verb(noun, "revoke", "End sessions: one, a resource's, a user's, or all",
                        "peerctl session revoke (--id ID | --resource RESOURCE | --user EMAIL | "
                        "--all) [--json]");
  s->add_option("--id", o->id, "One session (its id from session list)")->type_name("ID");
  s->add_option("--resource", o->resource, "Every session of a resource")->type_name("RESOURCE");
  s->add_option("--user", o->user, "Every session of a user")->type_name("EMAIL");
  s->add_flag("--all", o->all, "Every session");
  c.prog.on(s, [&c, o]() -> int {
    bool some = !o->resource.empty() || !o->user.empty();
    if (!o->all && o->id.empty() && !some)
      return cli::fail({core::Errc::usage, "give --id, --resource, --user or --all"});
    if ((o->all && (some || !o->id.empty())) || (!o->id.empty() && some))
      return cli::fail({core::Errc::usage, "--id and --all exclude the other selectors"});
    auto db = open_store(c, false);
    if (!db) return cli::fail(db.error());
    auto n = control::revoke_sessions(*db, o->id, o->resource, o->user, actor());
    if (!n) return cli::fail(n.error());
    if (c.prog.common().json) return emit(json_line({{"revoked", *n}}));
    return emit("revoked " + std::to_string(*n) + (*n == 1 ? " session\n" : " sessions\n"));
  });
}

}  // namespace

void register_session(Ctx& c, CLI::App& noun) {
  register_list(c, noun);
  register_revoke(c, noun);
}

}  // namespace peerctl
